"""TRAILS_SERVER=off (requests served in the command's own process) answers exactly as the server does:
the same JSON, the same errors and exit codes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.helpers import make_repo, trails

SCRIPT: list[list[str]] = [
    ["new", "p1", "cat", "--mode", "worktree", "--json"],
    ["new", "p2", "cat", "--mode", "direct", "--json"],
    ["ls", "--json"],
    ["show", "p1", "--json"],
    ["send", "p1", "hello", "--json"],
    ["diff", "p1", "--stat", "--json"],
    ["pause", "p1", "--json"],
    ["resume", "p1", "--json"],
    ["auto-yes", "p2", "on", "--json"],
    ["audit", "--session", "p1", "--limit", "3", "--json"],
    ["events", "--session", "p1", "--json"],
    ["show", "nope", "--json"],
    ["new", "p1", "cat", "--json"],
    ["kill", "p2", "--json"],
    ["kill", "p1", "--force", "--json"],
    ["ls", "--all", "--json"],
]
_HEX = re.compile(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{40}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_STAMP = re.compile(r"(?:\d{8}T\d{6}(?:\.\d+)?Z?|\d{14,})(?:-\d+)?")


def _normal(value: Any, root: str) -> Any:
    """What may differ between two runs in two directories: times, hashes, paths, ids."""
    if isinstance(value, dict):
        return {k: (0 if k in ("id", "pid") else _normal(v, root)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v, root) for v in value]
    if isinstance(value, float):
        return 0.0
    if isinstance(value, str):
        return _STAMP.sub("<stamp>", _HEX.sub("<hex>", value.replace(root, "<root>")))
    return value


def _run_script(root: Path, env: dict[str, str]) -> list[tuple[int, Any]]:
    repo = make_repo(root / "work" / "repo")
    env = {**env, "TRAILS_HOME": str(root / "home")}
    out = []
    try:
        for args in SCRIPT:
            res = trails(*args, cwd=repo, env=env)
            body = res.json if res.code == 0 else res.error
            out.append((res.code, _normal(body, str(root))))
    finally:
        trails("server", "--stop", env=env)
    return out


def test_in_process_and_server_answer_alike(tmp_path: Path) -> None:
    served = _run_script(tmp_path / "a", {})
    local = _run_script(tmp_path / "b", {"TRAILS_SERVER": "off"})
    for args, one, other in zip(SCRIPT, served, local, strict=True):
        assert one == other, args
    assert [code for code, _ in served] == [0] * 11 + [1, 1, 0, 0, 0]
