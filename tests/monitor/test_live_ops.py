"""Output logs, pause/resume and the live CLI commands, with the scripted fake agent."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TrailsServer, as_user, git, trails, wait_until
from tests.monitor.conftest import wait_status


def test_output_log_keeps_everything_and_survives_the_pane(engine: Any, supervisor: int, tmp_path: Path) -> None:
    script = tmp_path / "chatty.py"
    script.write_text("import sys\nfor i in range(3000):\n    print(f'line {i}')\nsys.stdin.readline()\n")
    engine.create_session("o1", f"{sys.executable} {script}", cwd=tmp_path, mode="direct", caller=as_user())
    wait_status(engine, "o1", "ready")
    tname = engine.store.get_session("o1").tmux_session
    engine.tmux.kill_session(tname)  # gone outside trails: only the log remains
    text = engine.output("o1", caller=as_user())
    assert "line 0" in text.splitlines()[0] and text.splitlines()[-1] == "line 2999"
    assert engine.output("o1", 2, caller=as_user()).splitlines() == ["line 2998", "line 2999"]
    cli = trails("output", "o1", "--lines", "1", "--json")
    assert cli.code == 0 and cli.json["output"] == "line 2999"


def test_output_follow_streams(engine: Any, supervisor: int, tmp_path: Path) -> None:
    agent = Path(__file__).resolve().parent.parent / "core" / "echo_agent.py"
    engine.create_session("f1", f"{sys.executable} {agent}", cwd=tmp_path, mode="direct", caller=as_user())
    wait_status(engine, "f1", "ready")
    proc = subprocess.Popen([sys.executable, "-m", "trails", "output", "f1", "--follow"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        wait_until(lambda: "echo-agent ready" in proc.stdout.readline(), message="the first lines")  # type: ignore[union-attr]
        engine.send("f1", "streamed words", caller=as_user())
        wait_until(lambda: "got: streamed words" in proc.stdout.readline(), message="new output")  # type: ignore[union-attr]
        engine.send("f1", "exit", caller=as_user())
        assert proc.wait(timeout=15) == 0  # it stops once the session has ended
    finally:
        proc.kill()


def test_pause_and_resume_a_worktree_session(engine: Any, supervisor: int, repo: Path, fake_claude: Path) -> None:
    session = engine.create_session("p1", str(fake_claude), cwd=repo, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "p1", "ready")
    (wt / "README.md").write_text("edited\n")
    (wt / "new.txt").write_text("untracked\n")
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")
    (wt / "staged.txt").write_text("staged, then edited\n")
    status_before = git(wt, "status", "--porcelain")

    result = trails("pause", "p1", "--json", cwd=repo)
    assert result.code == 0, result.stderr
    assert not wt.exists() and git(repo, "rev-parse", "--verify", "refs/heads/trails/p1")
    ref = result.json["ref"]
    assert ref.startswith("refs/trails/paused/p1/") and git(repo, "rev-parse", ref) == result.json["commit"]
    shown = engine.show("p1", caller=as_user())
    assert shown["session"]["status"] == "paused" and shown["checkpoints"][-1]["ref"] == ref
    assert not engine.tmux.has_session(session.tmux_session)

    result = trails("resume", "p1", "--json", cwd=repo)
    assert result.code == 0, result.stderr
    assert result.json["command"][-2:] == ["--session-id", session.conversation_id]  # nothing said yet
    assert git(wt, "status", "--porcelain") == status_before
    assert (wt / "staged.txt").read_text() == "staged, then edited\n" and (wt / "new.txt").exists()
    wait_status(engine, "p1", "ready")
    kinds = [e["kind"] for e in TrailsServer(engine.home).events(session="p1")]
    assert [k for k in kinds if k in ("paused", "resumed")] == ["paused", "resumed"]


def test_pause_in_direct_mode_only_stops_the_agent(engine: Any, supervisor: int, tmp_path: Path) -> None:
    agent = Path(__file__).resolve().parent.parent / "core" / "echo_agent.py"
    (tmp_path / "keep.txt").write_text("mine\n")
    engine.create_session("d1", f"{sys.executable} {agent}", cwd=tmp_path, mode="direct", caller=as_user())
    wait_status(engine, "d1", "ready")
    engine.pause("d1", caller=as_user())
    assert (tmp_path / "keep.txt").read_text() == "mine\n"
    assert engine.store.get_session("d1").status.value == "paused"
    engine.resume("d1", caller=as_user())
    wait_status(engine, "d1", "ready")


def test_auto_yes_and_daemon_commands(engine: Any, repo: Path, fake_claude: Path) -> None:
    assert trails("daemon", "--status", "--json").json["running"] is False
    started = trails("daemon", "--json")
    try:
        assert started.code == 0 and started.json["running"] and started.json["pid"]
        assert trails("new", "a1", str(fake_claude), "--json", cwd=repo).code == 0
        wait_status(engine, "a1", "ready")
        assert trails("auto-yes", "a1", "on", "--json").json["auto_yes"] is True
        assert engine.store.get_session("a1").auto_yes
        assert any(a["action"] == "auto_yes_set" for a in engine.audit_log("a1", caller=as_user()))
        listed = trails("events", "--session", "a1", "--json").json["events"]
        assert listed and listed[0]["data"]["status"] == "loading"
    finally:
        assert trails("daemon", "--stop", "--json").json["stopped"] is True


def test_daemon_status_exit_code_says_whether_the_supervisor_runs() -> None:
    stopped = trails("daemon", "--status", "--json")
    assert stopped.code == 3 and stopped.json == {**stopped.json, "running": False, "pid": None}
    assert trails("daemon", "--status").code == 3
    assert trails("daemon", "--json").code == 0
    try:
        running = trails("daemon", "--status", "--json")
        assert running.code == 0 and running.json["running"] is True and running.json["pid"]
    finally:
        assert trails("daemon", "--stop", "--json").json["stopped"] is True
    assert trails("daemon", "--status").code == 3


def test_output_log_is_bounded_without_a_supervisor_and_both_generations_read(
        tmp_path: Path, monkeypatch: Any) -> None:
    from trails.api import protocol
    from trails.core.engine import Engine

    monkeypatch.setenv("TRAILS_OUTPUT_MAX_BYTES", "20000")
    engine = Engine()  # tmux's hook takes the limit from the settings of the engine that starts the server
    try:
        assert not protocol.lock_held(engine.home / protocol.MONITOR_LOCK_NAME)
        script = tmp_path / "chatty.py"
        script.write_text("import sys\nfor i in range(7000):\n    print(f'old {i}')\nsys.stdin.readline()\n"
                          "print('new line after rotation')\nsys.stdin.readline()\n")
        engine.create_session("rot", f"{sys.executable} {script}", cwd=tmp_path, mode="direct", caller=as_user())
        log = engine.home / "output" / f"{engine.store.get_session('rot').tmux_session}.log"
        # ~66 kB of output: rotated three times, never more than the limit on disk per generation.
        wait_until(lambda: log.exists() and b"old 6999" in log.read_bytes(), message="the last line in the log")
        old = log.with_name(log.name + ".1")
        assert old.stat().st_size == 20000 and log.stat().st_size <= 20000
        engine.send("rot", "go", caller=as_user())
        wait_until(lambda: b"new line after rotation" in log.read_bytes(), message="the new line")
        engine.tmux.kill_session(engine.store.get_session("rot").tmux_session)
        text = engine.output("rot", caller=as_user())
        assert "old 0" not in text and "old 6999" in text and text.endswith("new line after rotation")
        kept = [ln for ln in text.split("\n") if ln.startswith("old ")]
        first = int(kept[0].split()[-1])  # the oldest line kept: everything after it is there, in order
        assert kept == [f"old {i}" for i in range(first, 7000)]
    finally:
        engine.close()


@pytest.mark.parametrize("removal", ["rm -rf", "git worktree remove --force"])
def test_a_worktree_removed_under_a_live_session_is_an_error_that_resume_restarts(
        engine: Any, supervisor: int, repo: Path, fake_claude: Path, removal: str) -> None:
    session = engine.create_session("g1", str(fake_claude), cwd=repo, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "g1", "ready")
    (wt / "kept.txt").write_text("committed on the branch\n")
    git(wt, "add", "kept.txt")
    git(wt, "commit", "-qm", "agent commit")
    if removal == "rm -rf":
        shutil.rmtree(wt)
    else:
        git(repo, "worktree", "remove", "--force", str(wt))

    listed = trails("ls", "--json", cwd=repo).json["sessions"]
    assert [(s["name"], s["status"]) for s in listed] == [("g1", "error")]  # not `ready` any more
    assert f"its worktree {wt} is gone (removed outside trails)" in listed[0]["status_reason"]
    assert not engine.tmux.has_session(session.tmux_session)  # its agent had nowhere left to work

    res = trails("resume", "g1", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert (wt / "kept.txt").read_text() == "committed on the branch\n"  # re-created from its branch
    assert git(wt, "rev-parse", "--abbrev-ref", "HEAD") == "trails/g1"
    assert res.json["command"][-2:] == ["--session-id", session.conversation_id]  # its conversation
    wait_status(engine, "g1", "ready")


@pytest.mark.parametrize(("ending", "status"), [("exit", "completed"), ("fail", "error")])
def test_resume_restarts_a_completed_or_failed_session_where_it_was(
        engine: Any, supervisor: int, repo: Path, fake_claude: Path, ending: str, status: str) -> None:
    session = engine.create_session("e1", str(fake_claude), cwd=repo, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "e1", "ready")
    (wt / "notes.txt").write_text("uncommitted\n")
    engine.send("e1", ending, caller=as_user())
    wait_until(lambda: engine.get_session("e1", caller=as_user()).status.value == status, message=f"e1 to be {status}")

    res = trails("resume", "e1", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert (wt / "notes.txt").read_text() == "uncommitted\n"  # the worktree as it was
    assert res.json["command"][-2:] == ["--session-id", session.conversation_id]
    wait_status(engine, "e1", "ready")
    assert trails("resume", "e1", "--json", cwd=repo).error["code"] == "session_state"  # running: nothing to do
