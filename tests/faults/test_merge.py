"""`merge --cleanup` killed at each step (no-ff, and rebase, whose old tip must be kept before the
branch moves): the agent's commits stay reachable from the base branch or a ref `show` names, the
main checkout is clean, and the merge retried completes (or says the session is gone, merged)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import cases
from tests.faults.harness import (
    Work,
    clear_outcome,
    commit_work,
    faulted,
    no_lock_held,
    no_orphan_unknown,
    ok,
    repair,
    where_is,
)
from tests.helpers import git, trails


@pytest.mark.parametrize(("strategy", "fault"), cases.pairs(cases.MERGE), ids=str)
def test_a_merge_killed_at_a_step(repo: Path, home: Path, socket: Path, strategy: str, fault: str) -> None:
    made = ok(trails("new", "w1", "sleep 600", "--json", cwd=repo))["session"]
    work = Work(files={}, staged={}, commits=[commit_work(Path(made["worktree_path"]))])
    if strategy == "rebase":  # the base branch moved on: the rebase has something to do
        (repo / "main-only.txt").write_text("on main\n")
        git(repo, "add", "main-only.txt")
        git(repo, "commit", "-q", "-m", "main moves on")
    command = ["merge", "w1", "--cleanup", *(["--rebase"] if strategy == "rebase" else [])]

    faulted(fault, *command, cwd=repo)
    outcome = None
    for attempt in ("after the crash", "after the retry"):
        where_is(repo, "w1", work)
        assert git(repo, "status", "--porcelain", "--untracked-files=no") == "", attempt
        listed = no_orphan_unknown(repo, socket)
        no_lock_held(home)
        if attempt == "after the crash":
            outcome = clear_outcome(trails(*command, "--json", cwd=repo))
            assert outcome in ("completed", "session_not_found"), outcome
        elif listed:
            repair(repo, socket, None)
    assert git(repo, "show", "HEAD:agent-committed.txt") == "committed"  # merged, once
    assert git(repo, "log", "--format=%s", "HEAD").count("agent: a commit") == 1
    row = ok(trails("show", "w1", "--json", cwd=repo))["session"]
    assert row["status"] == "killed" and not Path(made["worktree_path"]).exists()
