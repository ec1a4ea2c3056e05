"""Idle agents frozen (core/freeze.py): real processes stopped by the kernel, thawed by a send."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import wait_status
from trails.api import types as t
from trails.api.client import Client

pytestmark = pytest.mark.timeout(90)

ECHO = """import sys
print("echo agent ready>", flush=True)
for line in sys.stdin:
    print("got", line.strip(), flush=True)
"""
# The same agent with a child at work the whole time (a build, say): a little CPU every few ms.
BUSY_CHILD = """import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time\\nend = time.time() + 60\\n"
                  "while time.time() < end:\\n    sum(range(20000)); time.sleep(0.005)"])
""" + ECHO


def agent(tmp_path: Path, name: str, code: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    return f"{sys.executable} {path}"


def state_of(pid: int) -> str:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()[0]


def agent_pid(engine: Any, name: str) -> int:
    """The agent's own process: the child of its pane's shell."""
    pane = engine.tmux.list_panes()[engine.store.get_session(name).tmux_session].pid
    children = Path(f"/proc/{pane}/task/{pane}/children").read_text().split()
    return int(children[0])


def test_an_idle_agent_is_frozen_and_a_send_thaws_it_first(engine: Any, repo: Path, tmp_path: Path) -> None:
    (engine.home / "settings.json").write_text(json.dumps({"idle_freeze_after": 1}))
    TrailsServer(engine.home).start()
    engine.create_session("idle", agent(tmp_path, "idle", ECHO), cwd=repo, mode="direct", caller=as_user())
    engine.create_session("build", agent(tmp_path, "build", BUSY_CHILD), cwd=repo, mode="direct", caller=as_user())
    wait_until(lambda: engine.store.get_session("idle").extra.get("frozen"), timeout=30, message="idle frozen")
    pid = agent_pid(engine, "idle")
    assert state_of(pid) == "T"  # stopped by the kernel: no CPU, whatever it would do
    row = engine.store.get_session("idle")
    assert row.status.value == "ready" and row.status_reason == "ready (frozen after 1s idle)"
    from trails.core.marks import marks

    assert marks(row.conflict, row.pr, frozen=bool(row.extra.get("frozen"))) == ["frozen"]
    # Both were ready alike; the one whose child is at work is not frozen.
    wait_status(engine, "build", "ready")
    assert not engine.store.get_session("build").extra.get("frozen")
    assert state_of(agent_pid(engine, "build")) != "T"

    engine.send("idle", "ping", caller=as_user())
    assert state_of(pid) != "T" and "frozen" not in engine.store.get_session("idle").extra
    wait_until(lambda: "got ping" in engine.tmux.capture(engine.store.get_session("idle").tmux_session),
               timeout=10, message="the agent to answer")
    # Idle again, frozen again; a kill reaches a frozen agent (it is thawed first, then hung up on).
    wait_until(lambda: engine.store.get_session("idle").extra.get("frozen"), timeout=30, message="frozen again")
    assert not engine.store.get_session("build").extra.get("frozen")  # seconds later, still at work
    engine.kill("idle", caller=as_user())
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout=10, message="the frozen agent to end")
    assert [a for a in engine.audit_log("idle", caller=as_user()) if a["action"] == "session_frozen"]


def test_a_session_idle_longer_is_paused_and_the_next_send_resumes_it(engine: Any, repo: Path,
                                                                      tmp_path: Path) -> None:
    (engine.home / "settings.json").write_text(json.dumps({"idle_freeze_after": 1, "idle_pause_after": 3}))
    TrailsServer(engine.home).start()
    session = engine.create_session("nap", agent(tmp_path, "nap", ECHO), cwd=repo, caller=as_user()).session
    wt = Path(session.worktree_path)
    (wt / "draft.txt").write_text("unsaved work\n")  # what a pause must keep
    wait_until(lambda: engine.store.get_session("nap").extra.get("frozen"), timeout=30, message="frozen first")
    wait_until(lambda: engine.store.get_session("nap").status.value == "paused", timeout=30, message="paused")
    row = engine.store.get_session("nap")
    assert row.extra.get("idle_paused") == 3 and row.paused is not None and not wt.exists()
    actions = [a["action"] for a in engine.audit_log("nap", caller=as_user())]
    assert actions.index("session_frozen") < actions.index("session_paused")

    engine.send("nap", "wake up", caller=as_user())  # resumes it first, then types
    row = engine.store.get_session("nap")
    assert row.status.value in ("running", "loading", "ready") and "idle_paused" not in row.extra
    assert (wt / "draft.txt").read_text() == "unsaved work\n"  # the work came back with it
    wait_until(lambda: "got wake up" in engine.tmux.capture(row.tmux_session), timeout=15,
               message="the resumed agent to get the message")
    engine.kill("nap", force=True, caller=as_user())


def frozen_idle(engine: Any, repo: Path, tmp_path: Path, name: str) -> int:
    """A session whose idle agent is frozen (by the server's supervisor); the agent's pid."""
    (engine.home / "settings.json").write_text(json.dumps({"idle_freeze_after": 1}))
    TrailsServer(engine.home).start()
    engine.create_session(name, agent(tmp_path, name, ECHO), cwd=repo, mode="direct", caller=as_user())
    wait_until(lambda: engine.store.get_session(name).extra.get("frozen"), timeout=30, message=f"{name} frozen")
    pid = agent_pid(engine, name)
    assert state_of(pid) == "T"
    return pid


def test_trails_attach_thaws_a_frozen_agent(engine: Any, repo: Path, tmp_path: Path) -> None:
    pid = frozen_idle(engine, repo, tmp_path, "att")
    tmux = ["tmux", "-S", str(engine.tmux.socket)]
    target = f"={engine.store.get_session('att').tmux_session}"
    child, fd = pty.fork()
    if child == 0:  # pragma: no cover - the child: the user's terminal
        os.environ["TERM"] = "xterm"
        os.execv(sys.executable, [sys.executable, "-m", "trails", "attach", "att"])
    try:
        wait_until(lambda: subprocess.run([*tmux, "list-clients", "-t", target], capture_output=True,
                                          text=True).stdout.strip(), timeout=30, message="the attached client")
        # Thawed before the client came, and not frozen again while it is attached.
        assert state_of(pid) != "T" and "frozen" not in engine.store.get_session("att").extra
        os.write(fd, b"typed in the terminal\r")
        wait_until(lambda: "got typed in the terminal" in engine.tmux.capture(target[1:]), timeout=10,
                   message="the thawed agent to answer what the terminal typed")
        subprocess.run([*tmux, "detach-client", "-s", target], check=True)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)


def test_a_message_delivered_into_a_frozen_agent_thaws_it(engine: Any, repo: Path, tmp_path: Path) -> None:
    pid = frozen_idle(engine, repo, tmp_path, "rcpt")
    frozen_at = engine.store.get_session("rcpt").extra["frozen"]["at"]
    engine.create_session("sender", "cat", cwd=repo, mode="direct", caller=as_user())
    client = Client(engine.home, caller=as_user(repo), local=False)
    sent = client.call(t.AgentMessage(to="rcpt", text="please rebase", as_session="sender"))
    tmux_session = engine.store.get_session("rcpt").tmux_session
    # A stopped agent cannot answer: its answer says the delivery thawed it (it may be frozen again after).
    wait_until(lambda: f"got [trails] message {sent.id} from sender to you: please rebase"
               in engine.tmux.capture(tmux_session), timeout=20, message="the thawed agent to answer the message")
    assert engine.store.get_session("rcpt").extra["thawed_at"] > frozen_at
    assert Path(f"/proc/{pid}").exists()  # the same agent, woken, not a new one
