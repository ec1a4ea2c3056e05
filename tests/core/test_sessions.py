"""Sessions end to end with real tmux and real git: create, inspect, interact, end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import as_user, git, make_repo, tmux_capture, trails, wait_until

ECHO_AGENT = f"{sys.executable} {Path(__file__).parent / 'echo_agent.py'}"


def _screen(trails_env: dict[str, Path], session: dict[str, str]) -> str:
    return tmux_capture(trails_env["socket"], session["tmux_session"])


def test_direct_session_runs_in_repo_with_env_on_private_socket(repo: Path, trails_env: dict[str, Path]) -> None:
    res = trails("new", "s1", ECHO_AGENT, "--mode", "direct", "--env", "FOO=bar baz", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    session = res.json["session"]
    assert session["mode"] == "direct" and session["workdir"] == str(repo) and session["worktree_path"] is None
    assert "s1" in session["tmux_session"]
    screen = wait_until(lambda: "echo-agent ready" in (s := _screen(trails_env, session)) and s, message="agent")
    assert f"in {repo}" in screen and "session=s1" in screen and "foo=bar baz" in screen
    # Only trails' own server holds it: the socket named by TRAILS_TMUX_SOCKET.
    listed = subprocess.run(["tmux", "-S", str(trails_env["socket"]), "ls", "-F", "#{session_name}"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert listed == [session["tmux_session"]]


def test_direct_mode_works_outside_git(tmp_path: Path, trails_env: dict[str, Path]) -> None:
    plain = tmp_path / "notes"
    plain.mkdir()
    res = trails("new", "s1", ECHO_AGENT, "--mode", "direct", "--json", cwd=plain)
    assert res.code == 0, res.stderr
    wait_until(lambda: f"in {plain}" in _screen(trails_env, res.json["session"]), message="agent in dir")
    diff = trails("diff", "s1", "--json", cwd=plain)
    assert diff.code == 2 and "not in a git repository" in diff.error["message"]


def test_worktree_session_gets_branch_and_sibling_worktree(repo: Path, trails_env: dict[str, Path]) -> None:
    res = trails("new", "fix-1", ECHO_AGENT, "--json", cwd=repo)
    assert res.code == 0, res.stderr
    session = res.json["session"]
    expected = repo.parent / "repo-wt-trails-fix-1"
    assert session["mode"] == "worktree"
    assert session["branch"] == "trails/fix-1"
    assert session["worktree_path"] == str(expected)
    assert session["base_commit"] == git(repo, "rev-parse", "HEAD")
    assert git(expected, "rev-parse", "--abbrev-ref", "HEAD") == "trails/fix-1"
    wait_until(lambda: f"in {expected}" in _screen(trails_env, session), message="agent in worktree")


def test_custom_branch_base_and_path_sanitizing(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-qm", "second")
    res = trails("new", "s1", "sleep 600", "--branch", "feat/Odd@name", "--base", first, "--json", cwd=repo)
    assert res.code == 0, res.stderr
    session = res.json["session"]
    assert session["branch"] == "feat/Odd@name"
    assert session["worktree_path"] == str(repo.parent / "repo-wt-feat-Oddname")
    assert session["base_commit"] == first
    assert not (Path(session["worktree_path"]) / "b.txt").exists()


def _nothing_made(repo: Path, branch: str) -> None:
    assert git(repo, "branch", "--list", "--", branch) == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []


@pytest.mark.parametrize("branch", ["bad..name", "ends.lock", "-x", "with space"])
def test_invalid_branch_names_are_refused(repo: Path, branch: str) -> None:
    res = trails("new", "s1", "sleep 600", f"--branch={branch}", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "branch_error" and "not a valid branch name" in res.error["message"]
    _nothing_made(repo, branch)


def test_branch_checked_out_elsewhere_is_refused(repo: Path) -> None:
    res = trails("new", "s1", "sleep 600", "--branch", "main", "--json", cwd=repo)
    assert res.code == 1 and "already checked out" in res.error["message"]
    assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []


def test_existing_worktree_path_is_refused(repo: Path) -> None:
    (repo.parent / "repo-wt-trails-s1").mkdir()
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "worktree_error" and "already exists" in res.error["message"]
    _nothing_made(repo, "trails/s1")


def test_worktree_limit_counts_the_primary(repo: Path) -> None:
    env = {"MAX_WORKTREES_PER_WORKSPACE": "3"}
    for name in ("a", "b"):
        assert trails("new", name, "sleep 600", "--json", cwd=repo, env=env).code == 0
    res = trails("new", "c", "sleep 600", "--json", cwd=repo, env=env)
    assert res.code == 1 and res.error["code"] == "worktree_limit" and "limit is 3" in res.error["message"]
    assert git(repo, "branch", "--list", "trails/c") == ""
    assert [s["name"] for s in trails("ls", "--json", cwd=repo).json["sessions"]] == ["a", "b"]
    bad = trails("new", "c", "sleep 600", "--json", cwd=repo, env={"MAX_WORKTREES_PER_WORKSPACE": "x"})
    assert bad.code == 2 and "MAX_WORKTREES_PER_WORKSPACE" in bad.error["message"]


def test_failed_launch_leaves_nothing_half_made(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trails.core.engine import Engine
    from trails.core.errors import TmuxError

    engine = Engine()

    def broken(*args: object, **kwargs: object) -> None:
        raise TmuxError("tmux new-session failed: simulated")

    monkeypatch.setattr(engine.tmux, "new_session", broken)
    with pytest.raises(TmuxError):
        engine.create_session("s1", "sleep 600", cwd=repo, caller=as_user())
    _nothing_made(repo, "trails/s1")
    assert not (repo.parent / "repo-wt-trails-s1").exists()


def test_direct_agent_starts_only_after_the_checkout_is_snapshotted(repo: Path) -> None:
    from trails.core.engine import Engine

    _dirty(repo)
    engine = Engine()
    # The agent overwrites a dirty file the moment it runs; the snapshot must hold the user's version.
    agent = "sh -c 'echo agent > README.md; echo ran > ran.txt; exec sleep 600'"
    session = engine.create_session("s1", agent, cwd=repo, mode="direct", caller=as_user()).session
    wait_until(lambda: (repo / "ran.txt").exists(), message="the agent to run")
    start = session.extra["start"]
    assert start["ref"] == "refs/trails/start/s1"
    assert git(repo, "show", f"{start['commit']}:README.md") == "staged change\nplus unstaged"
    assert not list((engine.home / "run").glob("*.gate"))  # the gate is gone once passed


def test_a_failed_snapshot_never_lets_the_direct_agent_run(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trails.core import workstate
    from trails.core.engine import Engine
    from trails.core.errors import GitError

    def broken(*args: object, **kwargs: object) -> None:
        raise GitError("snapshot failed on purpose")

    monkeypatch.setattr(workstate, "record_start", broken)
    engine = Engine()
    with pytest.raises(GitError, match="on purpose"):
        engine.create_session("s1", "sh -c 'echo ran > ran.txt; exec sleep 600'", cwd=repo, mode="direct",
                              caller=as_user())
    assert not engine.tmux.has_session(engine_tmux_name("s1"))
    assert "s1" not in [s.name for s in engine.list_sessions(include_ended=True, caller=as_user())]
    assert not (repo / "ran.txt").exists()


def engine_tmux_name(name: str) -> str:
    from trails.core.names import tmux_name

    return tmux_name(name)


def _dirty(repo: Path) -> None:
    (repo / "README.md").write_text("staged change\n")
    git(repo, "add", "README.md")
    (repo / "README.md").write_text("staged change\nplus unstaged\n")
    (repo / "new.txt").write_text("untracked\n")


def test_dirty_main_tree_is_not_carried_by_default(repo: Path) -> None:
    _dirty(repo)
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 0
    assert any("not carried" in n for n in res.json["notes"])
    wt = Path(res.json["session"]["worktree_path"])
    assert (wt / "README.md").read_text() == "hello\n" and not (wt / "new.txt").exists()


def test_carry_changes_brings_staged_unstaged_untracked_and_leaves_main_alone(repo: Path) -> None:
    _dirty(repo)
    before = git(repo, "status", "--porcelain")
    res = trails("new", "s1", "sleep 600", "--carry-changes", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    wt = Path(res.json["session"]["worktree_path"])
    assert (wt / "README.md").read_text() == "staged change\nplus unstaged\n"
    assert (wt / "new.txt").read_text() == "untracked\n"
    assert git(wt, "diff", "--cached", "--", "README.md").count("+staged change") == 1
    assert git(wt, "show", ":README.md") == "staged change"
    assert git(wt, "status", "--porcelain") == before
    assert git(repo, "status", "--porcelain") == before
    assert (repo / "README.md").read_text() == "staged change\nplus unstaged\n"


def test_operation_in_progress_needs_force(repo: Path) -> None:
    git(repo, "checkout", "-qb", "other")
    (repo / "README.md").write_text("other\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main\n")
    git(repo, "commit", "-qam", "main")
    subprocess.run(["git", "-C", str(repo), "merge", "other"], capture_output=True, check=False)
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "repo_busy" and "merge is in progress" in res.error["message"]
    _nothing_made(repo, "trails/s1")
    assert trails("new", "s1", "sleep 600", "--force", "--json", cwd=repo).code == 0


def test_twenty_parallel_creates_get_distinct_worktrees(repo: Path) -> None:
    env = dict(os.environ, MAX_WORKTREES_PER_WORKSPACE="30")
    procs = [
        subprocess.Popen([sys.executable, "-m", "trails", "new", f"p{i}", "sleep 600", "--json"], cwd=repo, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(20)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results if err]
    sessions = trails("ls", "--json", cwd=repo).json["sessions"]
    assert len(sessions) == 20
    assert len({s["worktree_path"] for s in sessions}) == 20
    assert all(s["status"] == "running" for s in sessions)
    assert len(git(repo, "worktree", "list").splitlines()) == 21


def test_same_name_twice_at_once_exactly_one_wins(repo: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-m", "trails", "new", "same", "sleep 600", "--branch", f"b{i}", "--json"],
                         cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outs
    loser = next(err for p, (_, err) in zip(procs, outs, strict=True) if p.returncode)
    assert "session_exists" in loser
    assert len(git(repo, "worktree", "list").splitlines()) == 2


def test_state_is_reconciled_with_tmux(repo: Path, trails_env: dict[str, Path]) -> None:
    a = trails("new", "gone", "sleep 600", "--mode", "direct", "--json", cwd=repo).json["session"]
    trails("new", "done", "true", "--mode", "direct", "--json", cwd=repo)
    # The agent lingers a moment: tmux 3.3 can drop the output of a process that exits at once.
    failing = "import time; print('boom', flush=True); time.sleep(0.5); raise SystemExit(3)"
    trails("new", "fail", f'{sys.executable} -c "{failing}"', "--mode", "direct", cwd=repo)
    subprocess.run(["tmux", "-S", str(trails_env["socket"]), "kill-session", "-t", a["tmux_session"]], check=True)

    def statuses() -> dict[str, dict[str, str]]:
        return {s["name"]: s for s in trails("ls", "--json", cwd=repo).json["sessions"]}

    got = wait_until(lambda: (s := statuses()) and s["done"]["status"] == "completed"
                     and s["fail"]["status"] == "error" and s, message="agents to exit")
    assert got["gone"]["status"] == "error" and "tmux session is gone" in got["gone"]["status_reason"]
    assert "status 3" in got["fail"]["status_reason"]
    assert "boom" in got["fail"]["extra"]["last_output"]
    assert trails("output", "fail", cwd=repo).stdout.count("boom") == 1


def test_send_types_into_the_agent_and_output_shows_it(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    res = trails("new", "s1", ECHO_AGENT, "--mode", "direct", "--env", f"ECHO_LOG={log}", cwd=repo)
    assert res.code == 0
    wait_until(lambda: trails("output", "s1", cwd=repo).stdout.rstrip().endswith(">"), message="prompt")
    assert trails("send", "s1", "hello; $(rm -rf /) 'quoted'", cwd=repo).code == 0
    wait_until(lambda: log.exists() and log.read_text(), message="line logged")
    assert log.read_text() == "hello; $(rm -rf /) 'quoted'\n"
    out = trails("output", "s1", "--lines", "2", "--json", cwd=repo).json["output"]
    assert out.splitlines()[0] == "got: hello; $(rm -rf /) 'quoted'"
    assert len(out.splitlines()) == 2


def test_prompt_is_typed_into_an_agent_without_a_prompt_flag(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    res = trails("new", "s1", ECHO_AGENT, "--mode", "direct", "--prompt", "first task",
                 "--env", f"ECHO_LOG={log}", cwd=repo)
    assert res.code == 0, res.stderr
    wait_until(lambda: log.exists() and log.read_text() == "first task\n", message="prompt delivered")


def test_send_to_an_ended_session_is_refused(repo: Path) -> None:
    trails("new", "s1", "true", "--mode", "direct", cwd=repo)
    wait_until(lambda: trails("ls", "--json", cwd=repo).json["sessions"][0]["status"] == "completed",
               message="exit")
    res = trails("send", "s1", "hi", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "session_state" and "completed" in res.error["message"]
    missing = trails("send", "nope", "hi", "--json", cwd=repo)
    assert missing.code == 1 and missing.error["code"] == "session_not_found"


def test_diff_covers_committed_uncommitted_and_untracked(repo: Path) -> None:
    wt = Path(trails("new", "s1", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    (wt / "committed.txt").write_text("c\n")
    git(wt, "add", "committed.txt")
    git(wt, "commit", "-qm", "agent commit")
    (wt / "README.md").write_text("hello\nchanged\n")
    (wt / "untracked.txt").write_text("u\n")
    index_before = (Path(git(wt, "rev-parse", "--git-dir")) / "index").read_bytes()
    res = trails("diff", "s1", "--json", cwd=repo).json
    for name in ("committed.txt", "README.md", "untracked.txt"):
        assert f"b/{name}" in res["diff"]
    assert res["stat"] == {"insertions": 3, "deletions": 0, "files": 3}
    stat = trails("diff", "s1", "--stat", cwd=repo).stdout
    assert "3 files changed" in stat
    assert (Path(git(wt, "rev-parse", "--git-dir")) / "index").read_bytes() == index_before
    assert "?? untracked.txt" in git(wt, "status", "--porcelain")


def test_kill_clean_worktree_removes_it_and_keeps_branch(repo: Path) -> None:
    wt = Path(trails("new", "s1", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    res = trails("kill", "s1", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert not wt.exists()
    assert git(repo, "branch", "--list", "trails/s1").strip() == "trails/s1"
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []
    ended = trails("ls", "--all", "--json", cwd=repo).json["sessions"]
    assert ended[0]["status"] == "killed" and ended[0]["ended_at"]
    # The name is free again, and the old branch is continued rather than clobbered.
    again = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert again.code == 0 and any("already existed" in n for n in again.json["notes"])


def test_kill_refuses_uncommitted_work_without_force_and_changes_nothing(repo: Path) -> None:
    session = trails("new", "s1", "sleep 600", "--json", cwd=repo).json["session"]
    wt = Path(session["worktree_path"])
    (wt / "work.txt").write_text("precious\n")
    res = trails("kill", "s1", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "uncommitted_work" and "--force" in res.error["hint"]
    assert (wt / "work.txt").read_text() == "precious\n"
    assert trails("ls", "--json", cwd=repo).json["sessions"][0]["status"] == "running"


def test_kill_force_saves_staged_unstaged_untracked_to_a_ref(repo: Path) -> None:
    session = trails("new", "s1", "sleep 600", "--json", cwd=repo).json["session"]
    wt = Path(session["worktree_path"])
    (wt / "README.md").write_text("staged\n")
    git(wt, "add", "README.md")
    (wt / "README.md").write_text("staged\nunstaged\n")
    (wt / "new.txt").write_text("untracked\n")
    (wt / ".gitignore").write_text("*.log\n")
    (wt / "junk.log").write_text("ignored\n")
    res = trails("kill", "s1", "--force", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    [ref] = res.json["saved_refs"]
    assert ref.startswith("refs/trails/saved/s1/")
    assert not wt.exists()
    assert git(repo, "show", f"{ref}:README.md") == "staged\nunstaged"
    assert git(repo, "show", f"{ref}:new.txt") == "untracked"
    assert git(repo, "show", f"{ref}^2:README.md") == "staged"  # the index, as it was
    assert "junk.log" not in git(repo, "ls-tree", "--name-only", ref)
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []  # ended sessions leave `ls`
    shown = trails("show", "s1", "--json", cwd=repo).json  # `show` still says where its work went
    assert shown["session"]["status"] == "killed" and [c["ref"] for c in shown["checkpoints"]] == [ref]
    assert git(repo, "branch", "--list", "trails/s1").strip() == "trails/s1"


def test_kill_delete_branch_needs_force_for_unmerged_commits(repo: Path) -> None:
    wt = Path(trails("new", "s1", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    (wt / "f.txt").write_text("f\n")
    git(wt, "add", "f.txt")
    git(wt, "commit", "-qm", "agent work")
    tip = git(wt, "rev-parse", "HEAD")
    res = trails("kill", "s1", "--delete-branch", "--json", cwd=repo)
    assert res.code == 1 and "not merged" in res.error["message"]
    assert wt.exists()
    res = trails("kill", "s1", "--delete-branch", "--force", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert git(repo, "branch", "--list", "trails/s1") == ""
    [ref] = [r for r in res.json["saved_refs"] if r.endswith("-branch")]
    assert git(repo, "rev-parse", ref) == tip


def test_kill_direct_session_keeps_files_in_place(repo: Path) -> None:
    trails("new", "s1", "sleep 600", "--mode", "direct", cwd=repo)
    (repo / "agent.txt").write_text("stays\n")
    res = trails("kill", "s1", "--json", cwd=repo)
    assert res.code == 0
    assert (repo / "agent.txt").read_text() == "stays\n"


def test_kill_and_pause_end_what_the_terminal_close_leaves_running(repo: Path, tmp_path: Path) -> None:
    """An agent that ignores the terminal's hang-up, and the child it left in the background (as
    Gemini CLI's relaunch does), are ended with the session, not left behind as orphans."""
    from trails.infra.proc import pid_alive

    for name, command in (("k1", "kill"), ("p1", "pause")):
        pidfile = tmp_path / f"{name}.pid"
        script = tmp_path / f"{name}.sh"
        script.write_text(f"#!/bin/sh\ntrap '' HUP\nsleep 600 &\necho $! > {pidfile}\nwait\n")
        script.chmod(0o755)
        assert trails("new", name, str(script), "--mode", "direct", cwd=repo).code == 0
        child = int(wait_until(lambda pidfile=pidfile: pidfile.exists() and pidfile.read_text().strip(),
                               message="the agent's background child"))
        assert pid_alive(child)
        assert trails(command, name, "--json", cwd=repo).code == 0
        wait_until(lambda child=child: not pid_alive(child) or _zombie(child), timeout=10,
                   message=f"the child to end with `{command}`")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_show_and_audit_json(repo: Path) -> None:
    trails("new", "s1", "sleep 600", "--json", cwd=repo)
    shown = trails("show", "s1", "--json", cwd=repo).json
    assert shown["session"]["name"] == "s1" and shown["session"]["status"] == "running"
    actions = [e["action"] for e in shown["audit"]]
    assert actions[:2] == ["mode_selected", "session_created"]
    human = trails("show", "s1", cwd=repo).stdout
    assert "branch:" in human and "trails/s1" in human


def test_state_db_is_wal_with_versioned_schema(repo: Path, trails_env: dict[str, Path]) -> None:
    import sqlite3

    from trails.core.store import SCHEMA_VERSION

    trails("ls", cwd=repo)
    conn = sqlite3.connect(trails_env["home"] / "state.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "checkpoints", "audit"} <= tables
    columns = {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
    assert {"worktree_path", "mode", "status", "branch", "base_commit", "agent", "created_at"} <= columns


def test_errors_are_json_on_stderr_with_nonzero_exit(repo: Path) -> None:
    res = trails("show", "missing", "--json", cwd=repo)
    assert res.code == 1 and res.stdout == ""
    assert res.error == {"code": "session_not_found", "message": "no session named 'missing'",
                         "hint": "`trails ls` lists the sessions"}
    human = trails("show", "missing", cwd=repo)
    assert human.code == 1 and human.stderr.startswith("trails: error: no session named 'missing'")
    usage = trails("new", "--json", cwd=repo)
    assert usage.code == 2 and usage.error["code"] == "usage"


def test_worktree_dir_setting(tmp_path: Path) -> None:
    import json

    repo = make_repo(tmp_path / "w" / "r")
    (repo / ".trails").mkdir()
    # Inside the directory holding the repository: a repository may not put worktrees further out.
    (repo / ".trails" / "settings.json").write_text(json.dumps({"worktree_dir": str(tmp_path / "w" / "wts"),
                                                                "branch_prefix": "agent/"}))
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["session"]["branch"] == "agent/s1"
    assert res.json["session"]["worktree_path"] == str(tmp_path / "w" / "wts" / "agent-s1")


def test_attach_hands_a_real_terminal_to_the_session_and_returns_on_detach(
    repo: Path, tmp_path: Path, trails_env: dict[str, Path]
) -> None:
    assert trails("new", "s1", ECHO_AGENT, "--mode", "direct", cwd=repo).code == 0
    # The user's own terminal: a pane on a separate tmux server, running `trails attach`.
    outer = trails_env["socket"].with_name("outer.sock")  # a short path: unix sockets have a length limit
    done = tmp_path / "attach.done"
    script = f"{sys.executable} -m trails attach s1; echo $? > {done}"
    subprocess.run(["tmux", "-S", str(outer), "new-session", "-d", "-s", "user", "-x", "120", "-y", "30",
                    "-c", str(repo), "sh", "-c", script], check=True, env=dict(os.environ))
    try:
        wait_until(lambda: "echo-agent ready" in tmux_capture(outer, "user"), message="attached screen")
        subprocess.run(["tmux", "-S", str(outer), "send-keys", "-t", "=user:", "-l", "hello"], check=True)
        subprocess.run(["tmux", "-S", str(outer), "send-keys", "-t", "=user:", "Enter"], check=True)
        wait_until(lambda: "got: hello" in trails("output", "s1", cwd=repo).stdout, message="typed through attach")
        subprocess.run(["tmux", "-S", str(outer), "send-keys", "-t", "=user:", "C-b", "d"], check=True)
        wait_until(done.exists, message="attach to return after detach")
        assert done.read_text().strip() == "0"
        assert trails("ls", "--json", cwd=repo).json["sessions"][0]["status"] == "running"
    finally:
        subprocess.run(["tmux", "-S", str(outer), "kill-server"], capture_output=True, check=False)


def test_attach_without_a_terminal_is_a_clear_error(repo: Path) -> None:
    trails("new", "s1", "sleep 600", "--mode", "direct", cwd=repo)
    res = trails("attach", "s1", "--json", cwd=repo)
    assert res.code == 2 and "needs a terminal" in res.error["message"]
