"""States a crash leaves: the real CLI is SIGKILLed exactly mid-step (a stand-in git stops it at the
call, see tests/helpers.git_stopper), and every command must finish from what is left, losing nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import git, git_stopper, killed_mid_step, make_repo, trails

# What an interrupted `git worktree remove` leaves: it had deleted the worktree's .git file and part
# of its files (its last argument is the worktree) when it died.
HALF_REMOVED = ('for last; do :; done; rm -f "$last/.git"; n=0; '
                'for f in "$last"/*; do [ $((n % 2)) = 0 ] && rm -rf "$f"; n=$((n + 1)); done')
FILES = {"README.md": "hello\n", **{f"f{i}.txt": f"{i}\n" for i in range(8)}}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work" / "repo", FILES)


def _work(root: Path) -> dict[str, Any]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(root).parts:
            files[str(path.relative_to(root))] = path.read_text()
    return {"files": files, "status": git(root, "status", "--porcelain"), "index": git(root, "ls-files", "-s")}


def _session_with_work(repo: Path, name: str = "w1") -> tuple[Path, dict[str, Any]]:
    res = trails("new", name, "sleep 600", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    wt = Path(res.json["session"]["worktree_path"])
    (wt / "README.md").write_text("edited\n")
    (wt / "new.txt").write_text("untracked\n")
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")
    (wt / "staged.txt").write_text("staged, then edited\n")
    return wt, _work(wt)


def _worktrees(repo: Path) -> list[str]:
    return [ln.split()[0] for ln in git(repo, "worktree", "list").splitlines()]


def _row(repo: Path, name: str) -> dict[str, Any]:
    return next(s for s in trails("ls", "--all", "--json", cwd=repo).json["sessions"] if s["name"] == name)


# (how far the pause/kill got when it was killed, what runs next)
CUTS = {
    "half-removed": ("worktree remove", HALF_REMOVED),
    "before-removal": ("worktree remove", ""),  # its work saved and recorded; the worktree still whole
    "ref-unwritten": ("update-ref refs/trails/", ""),  # the save noted, the ref itself not written yet
}
CASES = [(op, "half-removed", then) for op in ("pause", "kill --force") for then in ("resume", "pause", "kill",
                                                                                   "kill --force")]
CASES += [(op, cut, then) for op in ("pause", "kill --force") for cut in ("before-removal", "ref-unwritten")
          for then in ("resume", "kill")]


@pytest.mark.parametrize(("op", "cut", "then"), CASES)
def test_a_pause_or_kill_killed_mid_way_is_finished_by_the_next_command(
        repo: Path, tmp_path: Path, op: str, cut: str, then: str) -> None:
    wt, before = _session_with_work(repo)
    match, first = CUTS[cut]
    killed_mid_step(git_stopper(tmp_path, match, first=first), *op.split(), "w1", cwd=repo)
    if cut == "half-removed":
        assert wt.is_dir() and not (wt / ".git").exists()  # git no longer sees a worktree there

    # A read says what happened and names the saved work: it was recorded before anything was removed.
    shown = trails("show", "w1", "--json", cwd=repo)
    assert shown.code == 0, shown.stderr
    assert shown.json["session"]["status"] == "error"
    assert f"`trails {op.split()[0]}` was interrupted" in shown.json["session"]["status_reason"]
    [checkpoint] = shown.json["checkpoints"]
    ref = checkpoint["ref"]
    assert ref.startswith("refs/trails/paused/w1/" if op == "pause" else "refs/trails/saved/w1/")

    res = trails(*then.split(), "w1", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert "Traceback" not in res.stderr
    # The work is in the ref, whatever the cut (an unwritten ref is written from the noted commit).
    assert git(repo, "rev-parse", ref) == checkpoint["commit"]
    assert git(repo, "show", f"{ref}:new.txt") == "untracked"
    assert git(repo, "show", f"{ref}:staged.txt") == "staged, then edited"
    if then == "resume":
        assert _work(wt) == before
        assert _row(repo, "w1")["status"] == "running"
        return
    assert not wt.exists() and _worktrees(repo) == [str(repo)]
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/trails/").split() == [ref]  # saved once
    if then == "pause":
        assert _row(repo, "w1")["status"] == "paused"
        assert trails("resume", "w1", cwd=repo).code == 0
        assert _work(wt) == before
        return
    row = _row(repo, "w1")
    assert row["status"] == "killed" and ref in row["status_reason"]
    again = trails("new", "w1", "sleep 600", "--json", cwd=repo)  # the name is free again
    assert again.code == 0, again.stderr


def test_the_next_kill_does_not_save_a_half_deleted_tree_as_work(repo: Path, tmp_path: Path) -> None:
    wt, _ = _session_with_work(repo)
    killed_mid_step(git_stopper(tmp_path, "worktree remove", first=HALF_REMOVED), "pause", "w1", cwd=repo)
    # Without --force too: what is left is not work (that is in the ref), so nothing refuses.
    res = trails("kill", "w1", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    [paused] = git(repo, "for-each-ref", "--format=%(refname)", "refs/trails/paused/w1/").split()
    assert res.json["saved_refs"] == [paused]  # where the work is: nothing new saved from what was left
    assert git(repo, "for-each-ref", "refs/trails/saved/") == ""
    assert git(repo, "show", f"{paused}:README.md") == "edited"
    assert not wt.exists()


# --- `trails new` killed mid-way ---------------------------------------------------------------------


def _tmux_sessions(trails_env: dict[str, Path]) -> list[str]:
    res = subprocess.run(["tmux", "-S", str(trails_env["socket"]), "ls", "-F", "#{session_name}"],
                         capture_output=True, text=True, check=False)
    return res.stdout.split()


@pytest.mark.parametrize("mode", ["direct", "worktree"])
def test_a_create_killed_mid_way_is_cleaned_on_read_and_the_name_is_free(
        repo: Path, tmp_path: Path, trails_env: dict[str, Path], mode: str) -> None:
    if mode == "direct":
        (repo / "README.md").write_text("dirty\n")  # the snapshot of a dirty checkout writes a ref: stop there
        stopper = git_stopper(tmp_path, "update-ref refs/trails/start/")
    else:
        stopper = git_stopper(tmp_path, "worktree add", after=True)  # branch and worktree made, row unfinished
    killed_mid_step(stopper, "new", "c1", "sleep 600", "--mode", mode, cwd=repo)
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []  # not `creating` forever
    _nothing_left(repo, trails_env, "c1")
    assert any(a["action"] == "session_create_interrupted" for a in trails("audit", "--json", cwd=repo).json["entries"])
    again = trails("new", "c1", "sleep 600", "--mode", mode, "--json", cwd=repo)
    assert again.code == 0, again.stderr
    assert again.json["session"]["status"] == "running"


def _nothing_left(repo: Path, trails_env: dict[str, Path], name: str) -> None:
    assert f"trails-{name}" not in _tmux_sessions(trails_env)
    assert _worktrees(repo) == [str(repo)] and not (repo.parent / f"repo-wt-trails-{name}").exists()
    assert git(repo, "branch", "--list", f"trails/{name}") == ""


def test_new_of_the_same_name_cleans_a_create_that_died(repo: Path, tmp_path: Path,
                                                        trails_env: dict[str, Path]) -> None:
    killed_mid_step(git_stopper(tmp_path, "worktree add", after=True), "new", "c1", "sleep 600", cwd=repo)
    again = trails("new", "c1", "sleep 600", "--json", cwd=repo)  # no read in between
    assert again.code == 0, again.stderr
    assert again.json["session"]["branch"] == "trails/c1" and "already existed" not in " ".join(again.json["notes"])


def test_a_container_create_killed_mid_way_removes_its_container(
        containers: None, repo: Path, tmp_path: Path, trails_env: dict[str, Path]) -> None:
    from trails.infra import docker as d
    from trails.isolation.container import LABEL_HOME, LABEL_SESSION, home_tag

    def ours() -> list[Any]:  # the engine is shared: other homes may have a "c1" too
        return [c for c in d.find_by_label(LABEL_SESSION, "c1") if c.labels.get(LABEL_HOME) == home_tag()]

    def running() -> bool:
        return any(d.status(c.id) == "running" for c in ours())

    # The container starts beside the checkout: kill once both exist, the row still `creating`.
    killed_mid_step(git_stopper(tmp_path, "worktree add", after=True), "new", "c1", "sleep 600", "--mode",
                    "container", cwd=repo, also=running, timeout=180)
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []
    assert ours() == []
    _nothing_left(repo, trails_env, "c1")
    assert not (trails_env["home"] / "container-homes" / "c1").exists()


# --- a move killed mid-way ---------------------------------------------------------------------------


def _state(root: Path) -> dict[str, Any]:
    return {**_work(root), "head": git(root, "rev-parse", "HEAD")}


@pytest.mark.parametrize("cut", ["mid-checkout", "main-reset"])
def test_an_upgrade_to_worktree_killed_mid_way_is_undone(repo: Path, tmp_path: Path, trails_env: dict[str, Path],
                                                         cut: str) -> None:
    (repo / "user.txt").write_text("user staged\n")
    git(repo, "add", "user.txt")
    assert trails("new", "m1", "sleep 600", "--mode", "direct", cwd=repo).code == 0
    (repo / "README.md").write_text("agent edit\n")
    (repo / "agent-new.txt").write_text("agent untracked\n")
    (repo / "f0.txt").unlink()
    agent_state = _state(repo)
    if cut == "mid-checkout":
        # git's own `reset --hard` that fills the new worktree: it is still locked "initializing" and half
        # checked out, its branch made.
        stopper = git_stopper(tmp_path, "reset --hard")
    else:
        # The main checkout's files are already put back to before the session (its index not yet):
        # the agent's work is only in the new worktree and the moves ref.
        stopper = git_stopper(tmp_path, f"-C {repo} read-tree --reset -u", after=True)
    killed_mid_step(stopper, "upgrade-session", "m1", "--to", "worktree", cwd=repo)

    row = _row(repo, "m1")  # a read undoes it
    assert row["mode"] == "direct" and row["status"] == "error", row
    assert "move to worktree was interrupted" in row["status_reason"] and "undone" in row["status_reason"]
    assert _state(repo) == agent_state  # the main checkout holds everything again, index included
    assert _worktrees(repo) == [str(repo)] and not (repo.parent / "repo-wt-trails-m1").exists()
    assert git(repo, "branch", "--list", "trails/m1") == ""
    assert trails("resume", "m1", cwd=repo).code == 0  # the agent back where it was
    res = trails("upgrade-session", "m1", "--to", "worktree", "--json", cwd=repo)  # and the move can be done
    assert res.code == 0, res.stderr
    moved = _work(Path(res.json["session"]["worktree_path"]))
    assert moved["files"] == agent_state["files"]


def test_a_failed_make_worktree_step_removes_the_half_made_worktree(repo: Path, tmp_path: Path) -> None:
    """Interrupted (Ctrl-C) inside `git worktree add`: the except path removes what git had made."""
    import signal

    assert trails("new", "m1", "sleep 600", "--mode", "direct", cwd=repo).code == 0
    stopper = git_stopper(tmp_path, "reset --hard")
    env = {**os.environ, **stopper.env, "TRAILS_SERVER": "off"}  # the process interrupted does the move
    proc = subprocess.Popen([sys.executable, "-m", "trails", "upgrade-session", "m1", "--to", "worktree"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    from tests.helpers import wait_until

    wait_until(stopper.reached.exists, timeout=60, message="the checkout to start")
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: git dies, trails rolls back
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err, err
    assert _worktrees(repo) == [str(repo)] and not (repo.parent / "repo-wt-trails-m1").exists()
    assert git(repo, "branch", "--list", "trails/m1") == ""
    assert _row(repo, "m1")["mode"] == "direct"


def test_a_move_killed_after_its_new_agent_started_is_recorded(repo: Path, tmp_path: Path,
                                                               trails_env: dict[str, Path]) -> None:
    """No git call lies between starting the new agent and recording the move: the moving process
    (a real trails engine) is SIGKILLed there by a stand-in for the recording step."""
    assert trails("new", "m1", "sleep 600", "--mode", "direct", cwd=repo).code == 0
    (repo / "README.md").write_text("agent edit\n")
    script = tmp_path / "die_before_recording.py"
    script.write_text("import os, signal\nfrom trails.core import moves\n"
                      "moves.record_move = lambda ctx: os.kill(os.getpid(), signal.SIGKILL)\n"
                      "from trails.api.caller import Caller\nfrom trails.core.engine import Engine\n"
                      "me = Caller(cwd=os.getcwd(), env=dict(os.environ))\n"
                      "Engine().upgrade_session('m1', 'worktree', caller=me)\n")
    died = subprocess.run([sys.executable, str(script)], cwd=repo, capture_output=True, text=True, check=False)
    assert died.returncode == -9, died.stderr
    row = _row(repo, "m1")  # the new agent runs in the worktree: the move is recorded, not undone
    wt = repo.parent / "repo-wt-trails-m1"
    assert (row["mode"], row["status"], row["worktree_path"]) == ("worktree", "running", str(wt)), row
    assert (wt / "README.md").read_text() == "agent edit\n" and (repo / "README.md").read_text() == "hello\n"
    assert "trails-m1" in _tmux_sessions(trails_env)
    assert any(a["action"] == "session_moved" for a in trails("audit", "--json", cwd=repo).json["entries"])
