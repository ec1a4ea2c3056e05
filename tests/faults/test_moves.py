"""Every move between modes killed before each of its steps (and inside the ones that change the
main checkout): the next read undoes it, or records it once its new agent runs; the agent's work is
in its place or a ref `show` names; the user's own staged file in the main checkout survives; the
move retried completes or says why not; the session then runs with its work."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import cases
from tests.faults.harness import (
    clear_outcome,
    faulted,
    no_lock_held,
    no_orphan_unknown,
    ok,
    repair,
    where_is,
    write_work,
)
from tests.helpers import git, trails


def _command(source: str, target: str) -> list[str]:
    if target == "worktree" and source == "container":
        return ["export-session", "m1", "--to", target, "--force"]
    return ["upgrade-session", "m1", "--to", target]


@pytest.mark.parametrize(("move", "fault"), cases.pairs(cases.MOVES), ids=str)  # type: ignore[arg-type]
def test_a_move_killed_at_a_step(request: pytest.FixtureRequest, repo: Path, home: Path, socket: Path,
                                 move: tuple[str, str], fault: str) -> None:
    source, target = move
    containers = "container" in move
    if containers:
        request.getfixturevalue("containers")
    (repo / "user.txt").write_text("the user's staged file\n")  # before the session: the user's
    git(repo, "add", "user.txt")
    made = ok(trails("new", "m1", "sleep 600", "--mode", source, "--json", cwd=repo))["session"]
    work = write_work(Path(made["worktree_path"] or made["workdir"]))
    command = _command(source, target)

    faulted(fault, *command, cwd=repo)
    for attempt in ("after the crash", "after the retry"):
        where_is(repo, "m1", work)
        assert git(repo, "show", ":user.txt") == "the user's staged file", attempt
        listed = no_orphan_unknown(repo, socket, containers=containers)
        no_lock_held(home)
        if attempt == "after the crash":
            assert clear_outcome(trails(*command, "--json", cwd=repo)) in ("completed", "invalid_input")
        elif listed:
            repair(repo, socket, None, containers=containers)
    row = ok(trails("show", "m1", "--json", cwd=repo))["session"]
    assert row["mode"] == target
    if row["status"] != "running":
        ok(trails("resume", "m1", "--json", cwd=repo))
    assert where_is(repo, "m1", work) == row["worktree_path"]
