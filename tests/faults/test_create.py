"""`trails new` killed at each step, in each mode: the next read undoes it (or, once it is recorded,
keeps it), the user's checkout is untouched, nothing is left unknown, and `new` again works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.faults import cases
from tests.faults.harness import clear_outcome, faulted, no_lock_held, no_orphan_unknown, ok, repair
from tests.helpers import git, trails


def _checkout(repo: Path) -> dict[str, Any]:
    files = {str(p.relative_to(repo)): p.read_text() for p in sorted(repo.rglob("*"))
             if p.is_file() and ".git" not in p.relative_to(repo).parts}
    return {"files": files, "index": git(repo, "ls-files", "-s"), "head": git(repo, "rev-parse", "HEAD")}


@pytest.mark.parametrize(("mode", "fault"), cases.pairs(cases.CREATE), ids=lambda v: str(v))
def test_create_killed_at_a_step(request: pytest.FixtureRequest, repo: Path, home: Path, socket: Path,
                                 mode: str, fault: str) -> None:
    containers = mode == "container"
    if containers:
        request.getfixturevalue("containers")
    # The user's own uncommitted work in the main checkout: a create must never touch it.
    (repo / "README.md").write_text("the user's edit\n")
    (repo / "user.txt").write_text("the user's staged file\n")
    git(repo, "add", "user.txt")
    before = _checkout(repo)
    args = ["new", "c1", "sleep 600", "--mode", mode, *(["--carry-changes"] if mode != "direct" else [])]

    faulted(fault, *args, cwd=repo)
    rows = ok(trails("ls", "--all", "--json", cwd=repo))["sessions"]  # a read settles what it left
    assert _checkout(repo) == before
    if fault == "create:recorded":
        assert [(r["name"], r["status"]) for r in rows] == [("c1", "running")]
    else:
        assert rows == []  # undone: the name is free
    listed = no_orphan_unknown(repo, socket, containers=containers)
    no_lock_held(home)

    again = trails(*args, "--json", cwd=repo)
    outcome = clear_outcome(again)
    if fault == "create:recorded":
        assert outcome == "session_exists"
    else:
        assert outcome == "completed", again.stderr
        session = again.json["session"]
        assert session["status"] == "running"
        if mode != "direct":  # the user's changes were carried into it (and stay in the checkout)
            assert (Path(session["worktree_path"]) / "user.txt").read_text() == "the user's staged file\n"
    assert _checkout(repo) == before
    listed = no_orphan_unknown(repo, socket, containers=containers)
    no_lock_held(home)
    if listed:
        repair(repo, socket, None, containers=containers)
