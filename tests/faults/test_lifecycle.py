"""`pause`, `resume` and `kill --force` killed at each step, with the agent's uncommitted work in its
worktree: the work is in the worktree or a ref `show` names, after the crash and after the retry;
the retried command completes or says clearly why not; the session can go on (resume) afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import cases
from tests.faults.harness import (
    Work,
    clear_outcome,
    faulted,
    no_lock_held,
    no_orphan_unknown,
    ok,
    repair,
    where_is,
    write_work,
)
from tests.helpers import trails


def _session(request: pytest.FixtureRequest, repo: Path, mode: str) -> tuple[Path, Work]:
    if mode == "container":
        request.getfixturevalue("containers")
    made = ok(trails("new", "w1", "sleep 600", "--mode", mode, "--json", cwd=repo))["session"]
    place = Path(made["worktree_path"] or made["workdir"])
    return place, write_work(place)


def _after(repo: Path, home: Path, socket: Path, work: Work, mode: str) -> list[object]:
    where_is(repo, "w1", work)
    listed = no_orphan_unknown(repo, socket, containers=mode == "container")
    no_lock_held(home)
    return listed


def _retry(repo: Path, home: Path, socket: Path, work: Work, mode: str, *args: str) -> str:
    outcome = clear_outcome(trails(*args, "w1", "--json", cwd=repo))
    listed = _after(repo, home, socket, work, mode)
    if listed:
        repair(repo, socket, None, containers=mode == "container")
    return outcome


def _resumes_with_the_work(repo: Path, place: Path, work: Work) -> None:
    shown = ok(trails("show", "w1", "--json", cwd=repo))["session"]
    if shown["status"] != "running":
        ok(trails("resume", "w1", "--json", cwd=repo))
    assert ok(trails("show", "w1", "--json", cwd=repo))["session"]["status"] == "running"
    assert where_is(repo, "w1", work) == str(place)  # back in the worktree, exactly


@pytest.mark.parametrize(("mode", "fault"), cases.pairs(cases.PAUSE), ids=str)
def test_pause_killed_at_a_step(request: pytest.FixtureRequest, repo: Path, home: Path, socket: Path,
                                mode: str, fault: str) -> None:
    place, work = _session(request, repo, mode)
    faulted(fault, "pause", "w1", cwd=repo)
    _after(repo, home, socket, work, mode)
    assert _retry(repo, home, socket, work, mode, "pause") in ("completed", "session_state")
    assert ok(trails("show", "w1", "--json", cwd=repo))["session"]["status"] == "paused"
    _resumes_with_the_work(repo, place, work)


@pytest.mark.parametrize(("mode", "fault"), cases.pairs(cases.RESUME), ids=str)
def test_resume_killed_at_a_step(request: pytest.FixtureRequest, repo: Path, home: Path, socket: Path,
                                 mode: str, fault: str) -> None:
    place, work = _session(request, repo, mode)
    ok(trails("pause", "w1", "--json", cwd=repo))
    faulted(fault, "resume", "w1", cwd=repo)
    _after(repo, home, socket, work, mode)
    assert _retry(repo, home, socket, work, mode, "resume") in ("completed", "session_state")
    _resumes_with_the_work(repo, place, work)


@pytest.mark.parametrize(("mode", "fault"), cases.pairs(cases.KILL), ids=str)
def test_kill_killed_at_a_step(request: pytest.FixtureRequest, repo: Path, home: Path, socket: Path,
                               mode: str, fault: str) -> None:
    place, work = _session(request, repo, mode)
    faulted(fault, "kill", "w1", "--force", cwd=repo)
    _after(repo, home, socket, work, mode)
    assert _retry(repo, home, socket, work, mode, "kill", "--force") in ("completed", "session_not_found")
    row = ok(trails("show", "w1", "--json", cwd=repo))["session"]
    assert row["status"] == "killed"
    if mode != "direct":
        assert not place.exists()
    again = trails("new", "w1", "sleep 600", "--mode", mode, "--json", cwd=repo)  # the name is free again
    assert again.code == 0, again.stderr
