"""The hook socket and the hook reporter (trails/hookreport.py), run as an agent's hooks run it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TrailsServer, as_user, hook_credentials, hooked_agent, run_hook, trails, wait_until
from trails.core import hookwire

REPORTER = hookwire.host_reporter()
ECHO_AGENT = f"{sys.executable} {Path(__file__).resolve().parent.parent / 'core' / 'echo_agent.py'}"


def report(env: dict[str, str], payload: str = "", *args: str, timeout: float = 10) -> tuple[int, float, str]:
    """Run the reporter as a Claude hook does (the event on stdin): (exit status, seconds, stdout)."""
    started = time.monotonic()
    cp = subprocess.run([*REPORTER, *args], input=payload, capture_output=True, text=True, timeout=timeout,
                        env={"PATH": os.environ["PATH"], **env}, check=False)
    return cp.returncode, time.monotonic() - started, cp.stdout


@pytest.fixture
def silent_listener(tmp_path: Path) -> Iterator[Path]:
    """A socket of this user that takes connections and never answers (a server that hangs)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="trails-hang-")) / "hook.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()
    for sock in held:
        sock.close()
    listener.close()


def test_a_hook_that_cannot_reach_trails_exits_0_quickly(tmp_path: Path, silent_listener: Path) -> None:
    event = json.dumps({"hook_event_name": "Stop", "session_id": "x"})
    base = {"TRAILS_SESSION": "s1", "TRAILS_HOOK_TOKEN": "t" * 32}
    cases = {
        "no socket configured": {},
        "no server": {**base, "TRAILS_HOOK_SOCKET": str(tmp_path / "nothing-here.sock")},
        "a server that never answers": {**base, "TRAILS_HOOK_SOCKET": str(silent_listener)},
        "a path that is a directory": {**base, "TRAILS_HOOK_SOCKET": str(tmp_path)},
    }
    for what, env in cases.items():
        for payload in (event, "not json at all \x00", ""):
            code, seconds, out = report(env, payload)
            assert code == 0 and out == "", (what, payload, code, out)
            assert seconds < 3.0, (what, seconds)  # its own deadline is 1 s, plus python's start
    code, seconds, _ = report({**base, "TRAILS_HOOK_SOCKET": str(silent_listener)}, event)
    assert code == 0 and seconds >= 0.9  # it did wait for the answer, up to its deadline


@pytest.fixture
def hooked_session(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A session of an agent called `claude` that writes down the hook environment it was given
    (as a real Claude's hooks inherit it) and then idles."""
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    agent, seen = hooked_agent(tmp_path)
    server = TrailsServer(Path(os.environ["TRAILS_HOME"]))
    server.start()
    from trails.api.types import Create

    server.client.call(Create(name="hk", agent=str(agent), mode="direct", cwd=str(repo)))
    wait_until(seen.exists, timeout=20, message="the agent to start")
    token, sock, args = seen.read_text().splitlines()
    yield {"token": token, "socket": sock, "args": args, "server": server}


def test_a_hooks_report_sets_the_status_and_only_its_sessions_token_counts(hooked_session: dict[str, Any]) -> None:
    server, token, sock = hooked_session["server"], hooked_session["token"], hooked_session["socket"]
    assert token and sock == str(hookwire.socket_path(Path(os.environ["TRAILS_HOME"])))
    assert "--settings" in hooked_session["args"] and token not in hooked_session["args"]  # never on a command line
    from trails.core.engine import Engine

    engine = Engine()

    def status() -> tuple[str, str | None]:
        row = engine.store.get_session("hk")
        return row.status.value, row.status_source

    env = {"TRAILS_SESSION": "hk", "TRAILS_HOOK_SOCKET": sock}
    # Another session's token (or none) changes nothing.
    before = status()
    for wrong in ("", "x" * 32, token[:-1] + ("A" if token[-1] != "A" else "B")):
        code, _, _ = report({**env, "TRAILS_HOOK_TOKEN": wrong}, json.dumps({"hook_event_name": "UserPromptSubmit"}))
        assert code == 0
    time.sleep(0.5)  # nothing is to happen: give the supervisor time to get it wrong
    assert status() == before
    code, seconds, _ = report({**env, "TRAILS_HOOK_TOKEN": token}, json.dumps({"hook_event_name": "UserPromptSubmit"}))
    assert code == 0 and seconds < 3
    wait_until(lambda: status() == ("running", "hook"), timeout=10, message="running from the hook")
    report({**env, "TRAILS_HOOK_TOKEN": token}, json.dumps({"hook_event_name": "Stop"}))
    wait_until(lambda: status() == ("ready", "hook"), timeout=10, message="ready from the hook")
    events = [e for e in server.events(session="hk") if e["kind"] == "status"]
    assert [(e["data"]["status"], e["data"]["status_source"]) for e in events[-2:]] == \
        [("running", "hook"), ("ready", "hook")]
    engine.close()


def test_the_hook_socket_answers_nothing_but_hook_reports(hooked_session: dict[str, Any]) -> None:
    from trails.api import protocol
    from trails.api.types import HookEvent, ListSessions

    caller = as_user()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(hooked_session["socket"])
        sock.sendall(protocol.request_frame(1, ListSessions(), caller))
        reply = protocol.decode_reply(protocol.FrameReader(sock).read() or b"")
    assert reply.error is not None and reply.error.code == "not_permitted" and reply.error.field == "op"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(hooked_session["socket"])
        sock.sendall(protocol.request_frame(2, HookEvent(session="hk", token="forged", event="Stop"), caller))
        reply = protocol.decode_reply(protocol.FrameReader(sock).read() or b"")
    assert reply.error is not None and reply.error.code == "not_permitted" and reply.error.field == "token"


def test_show_says_what_set_the_status(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    server = TrailsServer(Path(os.environ["TRAILS_HOME"]))
    server.start()
    agent, seen = hooked_agent(tmp_path)
    assert trails("new", "hk", str(agent), "--mode", "direct", cwd=repo).code == 0
    assert trails("new", "scr", ECHO_AGENT, "--mode", "direct", cwd=repo).code == 0
    token, sock = hook_credentials(seen)
    run_hook("hk", token, sock, "UserPromptSubmit")
    run_hook("hk", token, sock, "Stop")

    def source_line(name: str, wanted: str) -> list[str] | None:
        shown = trails("show", name, cwd=repo).stdout.splitlines()
        lines = [line.split() for line in shown if line.startswith("status")]
        return lines if ["status:", wanted] in lines else None

    assert ["status_source:", "hook"] in wait_until(lambda: source_line("hk", "ready"), timeout=15,
                                                    message="hk ready from its hooks")
    assert ["status_source:", "screen"] in wait_until(lambda: source_line("scr", "ready"), timeout=20,
                                                      message="scr ready from its screen")
