"""Safety guards for auto-yes: a prompt whose command or file matches one is never approved."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from trails.core.auto_yes import DEFAULT_GUARDS

_WRITE_TARGETS = re.compile(r"(?:>>?|\btee\s+(?:-a\s+)?)\s*(['\"]?)(?P<path>[^\s'\";|&]+)\1")


@dataclass(frozen=True)
class Refusal:
    guard: str
    reason: str


def check(text: str, *, kind: str | None, target: str | None, workdir: str,
          guards: dict[str, str] | None = None) -> Refusal | None:
    """Why this prompt must not be auto-approved, or None when no guard matches."""
    for name, pattern in (DEFAULT_GUARDS if guards is None else guards).items():
        try:
            found = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
        except re.error as exc:  # settings check their patterns on load; never approve past a broken one
            return Refusal(name, f"the guard {name!r} is not a valid regular expression ({exc})")
        if found:
            return Refusal(name, f"matches the guard {name!r}")
    paths: list[str] = []
    if kind in {"write", "edit"} and target:
        paths.append(target)
    paths += [m.group("path") for m in _WRITE_TARGETS.finditer(text)]
    for path in paths:
        if path.startswith("/dev/null") or path.startswith("&"):
            continue
        if not inside(path, workdir):
            return Refusal("write outside the session", f"writes {path}, outside {workdir}")
    return None


def inside(path: str, workdir: str) -> bool:
    base = os.path.realpath(workdir)
    full = os.path.realpath(os.path.join(base, os.path.expanduser(path)))
    return full == base or full.startswith(base + os.sep)
