"""Safety guards for auto-yes: a prompt that any guard refuses is never approved.

Two kinds. The built-in guards (shellguard.BUILTIN) judge what a command does, from its parse, and
where a write or edit prompt writes. Guards added in settings are regular expressions, matched
case-insensitively against the prompt's text, the command as shown and each simple command in it
with its words as one line. `allow` patterns (the user's settings only) exempt one simple command
from the built-in judgments; nothing exempts a command trails cannot see (shellguard.UNSEEN).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trails.monitor import shellguard
from trails.monitor.shellguard import UNSEEN, WRITE_OUTSIDE, Where

if TYPE_CHECKING:
    from trails.core.models import Session

# The built-in guards by name, with what each refuses (names are what settings switch off with "").
DEFAULT_GUARDS: dict[str, str] = dict(shellguard.BUILTIN)


@dataclass(frozen=True)
class GuardSet:
    """The guards of one session's policy."""

    builtin: frozenset[str] = frozenset(DEFAULT_GUARDS)  # built-in guards in force (UNSEEN always is)
    patterns: Mapping[str, str] = field(default_factory=dict)  # added guards: name → regex
    allow: tuple[str, ...] = ()  # the user's allow-patterns (regexes, full match, case-sensitive)

    def names(self) -> set[str]:
        return {*self.builtin, UNSEEN, *self.patterns}


DEFAULTS = GuardSet()


@dataclass(frozen=True)
class Refusal:
    guard: str
    reason: str


def check(text: str, *, kind: str | None, target: str | None, workdir: str,
          guards: GuardSet | None = None, commands: tuple[str, ...] | None = None,
          seen_as: str | None = None, home: str | None = None,
          git_alias: Callable[[str], str | None] | None = None) -> Refusal | None:
    """Why this prompt must not be auto-approved, or None when every guard lets it pass.

    `commands` are the readings of the command a command prompt runs (the first as shown, others
    with lines the agent may have wrapped joined); `()` means the dialog did not show it. Without
    them a command prompt's `target`, else its text, is judged. `workdir` is the session's directory,
    `seen_as` its name inside a container.
    """
    guards = DEFAULTS if guards is None else guards
    if commands is None and kind == "command":
        commands = (target,) if target else (text,)
    where = Where(workdir, seen_as, home or os.path.expanduser("~"))
    judged = [shellguard.judge(c, where, allow=_compiled(guards.allow), git_alias=git_alias) for c in commands or ()]
    seen = [text, *(commands or ()), *(c for j in judged for c in j.commands)]
    for name, pattern in guards.patterns.items():
        try:
            rx = re.compile(pattern, re.IGNORECASE | re.MULTILINE)
        except (re.error, OverflowError, RecursionError) as exc:
            # Settings check their patterns on load; never approve past a broken one.
            return Refusal(name, f"the guard {name!r} is not a valid regular expression ({exc})")
        if any(rx.search(s) for s in seen):
            return Refusal(name, f"matches the guard {name!r}")
    if kind in {"write", "edit"} and target and WRITE_OUTSIDE in guards.builtin and \
            not inside(target, workdir, seen_as):
        return Refusal(WRITE_OUTSIDE, f"writes {target}, outside {workdir}")
    if commands == ():
        return Refusal(UNSEEN, "the dialog does not show the command where trails reads it")
    for reading, judgment in enumerate(judged):
        for finding in judgment.findings:
            if finding.guard != UNSEEN and finding.guard not in guards.builtin:
                continue  # switched off in the user's settings
            if reading and finding.syntax:
                continue  # lines joined that the agent had not wrapped: a reading that may not parse
            return Refusal(finding.guard, finding.reason)
    return None


def session_dirs(session: Session) -> tuple[str, str | None]:
    """(the session's directory on this machine, the name its agent knows it by when that differs)."""
    from trails.core.models import Mode

    root = session.worktree_path or session.workdir
    if session.mode is Mode.CONTAINER:
        from trails.isolation.container import WORKSPACE

        return root, WORKSPACE
    return root, None


def git_aliases(root: str) -> Callable[[str], str | None]:
    """What `git NAME` stands for in the repository at `root` (None: no alias), as the agent's git
    would read it; git runs hardened (infra/git.py), so reading configuration runs nothing."""
    from trails.infra.git import Git

    def alias(name: str) -> str | None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", name):
            return None  # git allows no other alias names
        res = Git(root).run("config", "--get", f"alias.{name}", check=False, timeout=10)
        if res.returncode == 1:
            return None
        if not res.ok:
            raise RuntimeError(res.stderr.strip())
        return res.stdout.strip()

    return alias


def inside(path: str, workdir: str, seen_as: str | None = None) -> bool:
    base = os.path.realpath(workdir)
    if seen_as and (path == seen_as or path.startswith(seen_as.rstrip("/") + "/")):
        path = base + path[len(seen_as.rstrip("/")):]
    full = os.path.realpath(os.path.join(base, os.path.expanduser(path)))
    return full == base or full.startswith(base + os.sep)


def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    out = []
    for pattern in patterns:
        try:
            out.append(re.compile(pattern))
        except (re.error, OverflowError, RecursionError):
            continue  # settings refuse these on load; a bad one here allows nothing
    return tuple(out)
