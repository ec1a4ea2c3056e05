"""`trails doctor --check` lists what trails made that no session accounts for, and nothing else;
`--repair` removes it, saving first what it holds (work and branch tips under refs/trails/orphans/)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.faults.harness import _in_ref, faulted, no_orphan_unknown, ok, repair, write_work
from tests.helpers import git, trails, wait_until


def _forget(home: Path, name: str) -> None:
    """Lose a session's row, as a state.db restored from an older backup would."""
    db = sqlite3.connect(home / "state.db")
    try:
        with db:
            db.execute("DELETE FROM checkpoints WHERE session_id IN (SELECT id FROM sessions WHERE name = ?)", (name,))
            db.execute("DELETE FROM sessions WHERE name = ?", (name,))
    finally:
        db.close()


def test_what_no_session_accounts_for_is_listed_then_removed_after_saving_it(
        repo: Path, home: Path, socket: Path) -> None:
    made = ok(trails("new", "lost", "sleep 600", "--json", cwd=repo))["session"]
    wt = Path(made["worktree_path"])
    work = write_work(wt)
    (wt / "commit.txt").write_text("a commit of the agent's\n")
    git(wt, "add", "commit.txt")
    git(wt, "commit", "-q", "-m", "the agent's commit")
    tip = git(wt, "rev-parse", "HEAD")
    # What is known is never listed: a running session, a paused one's branch, a killed one's kept branch,
    # and the user's own worktree on a branch of their own.
    ok(trails("new", "live", "sleep 600", "--json", cwd=repo))
    ok(trails("new", "paused", "sleep 600", "--json", cwd=repo))
    ok(trails("pause", "paused", "--json", cwd=repo))
    ok(trails("new", "ended", "sleep 600", "--json", cwd=repo))
    ok(trails("kill", "ended", "--json", cwd=repo))
    git(repo, "worktree", "add", "-q", "-b", "mine", str(repo.parent / "my-own-worktree"))
    assert no_orphan_unknown(repo, socket) == []
    assert trails("doctor", "--check", cwd=repo).stdout.startswith("no orphans")

    _forget(home, "lost")
    listed = no_orphan_unknown(repo, socket)
    assert sorted((o["kind"], o["name"], o["session"]) for o in listed) == [
        ("branch", "trails/lost", "lost"), ("tmux", "trails-lost", "lost"), ("worktree", str(wt), "lost")]
    human = trails("doctor", "--check", cwd=repo)
    assert human.code == 1 and "orphan   worktree" in human.stdout and "--repair" in human.stdout

    res = trails("doctor", "--repair", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    repaired = {d["kind"]: d for d in res.json["repaired"]}
    assert set(repaired) == {"tmux", "worktree", "branch"} and res.json["orphans"] == []
    assert _in_ref(repo, repaired["worktree"]["saved_ref"], work)  # staged, unstaged, untracked: all kept
    assert git(repo, "rev-parse", repaired["branch"]["saved_ref"]) == tip
    assert not wt.exists() and git(repo, "branch", "--list", "trails/lost") == ""
    assert no_orphan_unknown(repo, socket) == []
    audit = ok(trails("audit", "--json", cwd=repo))["entries"]
    assert [a["detail"]["kind"] for a in audit if a["action"] == "orphan_removed"] == ["tmux", "worktree", "branch"]
    rows = {r["name"]: r["status"] for r in ok(trails("ls", "--all", "--json", cwd=repo))["sessions"]}
    assert rows == {"live": "running", "paused": "paused", "ended": "killed"}  # untouched


def test_a_create_whose_agent_committed_before_it_died_leaves_its_branch_to_repair(
        repo: Path, home: Path, socket: Path) -> None:
    """The agent runs once its terminal starts: a create killed after that may find commits on the new
    branch, which the clean-up keeps (not its to delete) and doctor then lists and saves."""
    agent = "sh -c 'echo hi > mine.txt && git add mine.txt && git commit -qm mine && sleep 600'"
    faulted("create:launched", "new", "c1", agent, cwd=repo)
    wait_until(lambda: git(repo, "log", "-1", "--format=%s", "trails/c1") == "mine", timeout=20,
               message="the agent's commit")
    tip = git(repo, "rev-parse", "trails/c1")
    listed = no_orphan_unknown(repo, socket)  # the read undid the create; its branch has a commit of its own
    assert [(o["kind"], o["name"]) for o in listed] == [("branch", "trails/c1")]
    repair(repo, socket, None)
    saved = [ln.split()[1] for ln in git(repo, "for-each-ref", "--format=%(objectname) %(refname)",
                                         "refs/trails/orphans/").splitlines() if ln.split()[0] == tip]
    assert saved, "the branch's tip is kept"
    again = trails("new", "c1", "sleep 600", "--json", cwd=repo)
    assert again.code == 0 and "already existed" not in " ".join(again.json["notes"]), again.stderr


def test_repair_leaves_what_an_operation_under_way_holds(repo: Path, home: Path, socket: Path) -> None:
    from trails.core.locks import file_lock

    ok(trails("new", "busy", "sleep 600", "--json", cwd=repo))
    _forget(home, "busy")
    with file_lock("session:busy"):  # as a create, move or kill of that name holds it while it works
        res = trails("doctor", "--repair", "--json", cwd=repo)
        assert res.code == 1 and "Traceback" not in res.stderr  # something is left
        assert res.json["repaired"] == []
        assert {s["why"] for s in res.json["skipped"]} == {"an operation on its session is under way"}
        assert len(res.json["orphans"]) == 3
    repair(repo, socket, None)


def test_a_container_without_a_session_is_listed_and_removed(containers: None, repo: Path, home: Path,
                                                             socket: Path) -> None:
    made = ok(trails("new", "lost", "sleep 600", "--mode", "container", "--json", cwd=repo))["session"]
    cid = made["container_id"]
    _forget(home, "lost")
    listed = no_orphan_unknown(repo, socket, containers=True)
    assert {o["kind"] for o in listed} == {"container", "tmux", "worktree", "branch"}
    assert ("container", cid) in {(o["kind"], o["name"]) for o in listed}
    repair(repo, socket, None, containers=True)
    gone = subprocess.run(["docker", "inspect", cid], capture_output=True, check=False)
    assert gone.returncode != 0


@pytest.mark.parametrize("flag", ["--check", "--repair"])
def test_doctor_outside_a_repository_with_nothing_made(tmp_path: Path, flag: str) -> None:
    res = trails("doctor", flag, "--json", cwd=tmp_path)
    assert res.code == 0, res.stderr
    assert res.json["orphans"] == []
