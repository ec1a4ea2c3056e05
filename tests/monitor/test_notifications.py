"""Notifications when sessions wait, fail or finish: a local HTTP receiver as the webhook, a terminal
attached to trails' tmux server in a real pty, and a stand-in `notify-send` on the server's PATH."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import wait_status


class Receiver:
    """An HTTP server on the loopback that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def sessions(self) -> list[str]:
        return [n["session"] for body in self.bodies for n in body["notices"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


@pytest.fixture
def desktop_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in notify-send (no desktop here) that writes down what it was asked to show."""
    bindir = tmp_path / "desktop-bin"
    bindir.mkdir()
    log = tmp_path / "notify-send.log"
    tool = bindir / "notify-send"
    tool.write_text(f"#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> {log}\necho --- >> {log}\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


class AttachedTerminal:
    """`tmux attach` to a session in a real pty, everything it is sent kept."""

    def __init__(self, socket: Path, tmux_session: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(["tmux", "-S", str(socket), "attach-session", "-t", f"={tmux_session}"],
                                     stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "TERM": "xterm"},
                                     start_new_session=True)
        os.close(slave)
        self.data = bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.data += chunk

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        os.close(self.master)


def lambda_state(engine: Any, receiver: Receiver) -> str:
    """What to show when a notice does not come: what was received, the events, the server's log."""
    events = [(e["session"], e["kind"], e["data"].get("status")) for e in TrailsServer(engine.home).events()]
    log = (engine.home / "server.log").read_text()[-2000:] if (engine.home / "server.log").exists() else ""
    return f"watcher's notice (received {receiver.bodies}; events {events}; server log {log})"


def waiter(go: Path, code: int) -> str:
    """A command agent that ends (with `code`) once `go` exists: several can be made to end at once."""
    return f"sh -c 'while [ ! -e {go} ]; do sleep 0.05; done; exit {code}'"


def test_sessions_that_end_together_are_one_notification_on_every_channel(
        engine: Any, repo: Path, tmp_path: Path, receiver: Receiver, desktop_log: Path) -> None:
    (engine.home / "settings.json").write_text(json.dumps({"notifications": {"webhook": receiver.url}}))
    server = TrailsServer(engine.home)
    server.start()
    go = tmp_path / "go"
    for name, code in (("ok1", 0), ("ok2", 0), ("bad", 3)):
        engine.create_session(name, waiter(go, code), cwd=repo, mode="direct", caller=as_user())
    engine.create_session("watcher", "sleep 600", cwd=repo, mode="direct", caller=as_user())
    for name in ("ok1", "ok2", "bad", "watcher"):
        wait_status(engine, name, "loading", "running", "ready")
    terminal = AttachedTerminal(engine.tmux.socket, engine.store.get_session("watcher").tmux_session)
    try:
        wait_until(lambda: engine.tmux.client_fields("client_tty"), timeout=10, message="the attached client")
        go.touch()
        wait_until(lambda: len(receiver.sessions()) >= 3, timeout=20, message="the webhook's notices")
        assert len(receiver.bodies) == 1, receiver.bodies  # three sessions, one message
        body = receiver.bodies[0]
        assert sorted(receiver.sessions()) == ["bad", "ok1", "ok2"]
        assert {n["session"]: n["status"] for n in body["notices"]} == {"ok1": "completed", "ok2": "completed",
                                                                       "bad": "error"}
        assert body["text"].startswith("trails: ") and "bad error" in body["text"]  # Slack shows `text`
        wait_until(lambda: b"\x1b]9;trails: " in terminal.data, timeout=10, message="an OSC 9 notification")
        osc = bytes(terminal.data).split(b"\x1b]9;", 1)[1].split(b"\x07", 1)[0].decode()
        assert all(name in osc for name in ("ok1", "ok2", "bad")), osc
        shown = wait_until(lambda: desktop_log.exists() and desktop_log.read_text(), timeout=10,
                           message="notify-send")
        assert "trails: 3 sessions need a look" in shown and "ok1 completed" in shown

        # The same news again within the coalescing window is not told twice: ok1 ends once more
        # (resumed, it finds `go` and exits), then `watcher` fails; only watcher's notice follows.
        engine.resume("ok1", caller=as_user())
        wait_status(engine, "ok1", "completed", timeout=20)
        engine.tmux.kill_session(engine.store.get_session("watcher").tmux_session)
        try:
            wait_until(lambda: len(receiver.bodies) >= 2, timeout=20, message="watcher's notice")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {lambda_state(engine, receiver)}") from None
        assert [n["session"] for n in receiver.bodies[1]["notices"]] == ["watcher"], receiver.bodies
    finally:
        terminal.close()


def test_a_repositorys_webhook_is_ignored(repo: Path) -> None:
    from trails.core import config

    (repo / ".trails").mkdir()
    (repo / ".trails" / "settings.json").write_text(json.dumps(
        {"notifications": {"webhook": "https://collector.example/hook", "events": ["error"]}}))
    loaded = config.load(repo)
    assert loaded.project.notifications is not None
    assert loaded.project.notifications.webhook is None and loaded.project.notifications.events == ["error"]
    assert [i.key for i in loaded.ignored] == ["notifications.webhook"]
    from trails.monitor.notify import channels_for

    assert channels_for(str(repo)).webhook is None and channels_for(str(repo)).events == ("error",)


def test_a_webhook_must_be_an_http_url(engine: Any) -> None:
    from trails.core import config
    from trails.core.errors import ConfigError

    (engine.home / "settings.json").write_text(json.dumps({"notifications": {"webhook": "file:///etc/passwd"}}))
    with pytest.raises(ConfigError, match=r"notifications\.webhook"):
        config.load(None)


def test_a_session_that_starts_waiting_is_told(engine: Any, repo: Path, receiver: Receiver,
                                               fake_claude: Path) -> None:
    (engine.home / "settings.json").write_text(json.dumps({"notifications": {"webhook": receiver.url}}))
    TrailsServer(engine.home).start()
    engine.create_session("asks", str(fake_claude), cwd=repo, mode="direct", caller=as_user())
    wait_status(engine, "asks", "ready")
    assert receiver.bodies == []  # being ready is no news
    engine.send("asks", "write a.txt", caller=as_user())
    wait_status(engine, "asks", "waiting")
    try:
        wait_until(lambda: receiver.bodies, timeout=20, message="the waiting notice")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {lambda_state(engine, receiver)}") from None
    [notice] = receiver.bodies[0]["notices"]
    assert (notice["session"], notice["status"]) == ("asks", "waiting"), receiver.bodies
    assert receiver.bodies[0]["text"].startswith("trails: asks is waiting"), receiver.bodies


def test_an_event_left_out_of_the_settings_is_not_sent(engine: Any, repo: Path, tmp_path: Path,
                                                       receiver: Receiver) -> None:
    (engine.home / "settings.json").write_text(json.dumps(
        {"notifications": {"webhook": receiver.url, "events": ["error"]}}))
    TrailsServer(engine.home).start()
    done_go, bad_go = tmp_path / "done-go", tmp_path / "bad-go"
    engine.create_session("done", waiter(done_go, 0), cwd=repo, mode="direct", caller=as_user())
    engine.create_session("bad", waiter(bad_go, 3), cwd=repo, mode="direct", caller=as_user())
    for name in ("done", "bad"):
        wait_status(engine, name, "loading", "running", "ready")
    # `done` completes first; its notice (if one were sent) is queued before `bad`'s, so it would
    # arrive no later than `bad`'s error, the positive control.
    done_go.touch()
    wait_status(engine, "done", "completed")
    bad_go.touch()
    try:
        wait_until(lambda: "bad" in receiver.sessions(), timeout=20, message="bad's error notice")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {lambda_state(engine, receiver)}") from None
    assert [(n["session"], n["status"]) for b in receiver.bodies for n in b["notices"]] == [("bad", "error")], \
        receiver.bodies
