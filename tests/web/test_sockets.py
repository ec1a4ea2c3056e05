"""The WebSockets: the event stream (resumable from an id), the terminal bridged to a session's tmux
pane (its output shown, typed input reaching it; output only for a read-only token), and a shell."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection

from tests.helpers import tmux_capture, wait_until
from tests.web.conftest import Web, frames


def _until_event(ws: ClientConnection, kind: str, timeout: float = 15) -> list[dict[str, Any]]:
    got = []
    for event in frames(ws, timeout):
        got.append(event)
        if event["kind"] == kind:
            return got
    raise AssertionError(f"no {kind!r} event came; got {[e['kind'] for e in got]}")


def test_the_event_stream_resumes_from_an_id(web: Web) -> None:
    web.create("ev", mode="direct")
    with web.http() as api:
        stored = api.get("/api/events").json()["events"]
        baseline = stored[-1]["id"] if stored else 0
        with web.ws("/api/events") as live:  # live only
            api.post("/api/sessions/ev/pause")
            seen = _until_event(live, "paused")
        api.post("/api/sessions/ev/resume")  # while no one listens
        with web.ws(f"/api/events?since={seen[-1]['id']}") as again:
            seen += _until_event(again, "resumed")  # the one missed, from the store
            api.post("/api/sessions/ev/pause")
            seen += _until_event(again, "paused")  # and live ones after it
        ids = [e["id"] for e in seen]
        everything = [e["id"] for e in api.get("/api/events", params={"since": baseline}).json()["events"]]
        assert ids == everything  # each once, in order, across the reconnect
        with web.ws("/api/events?since=0&session=nobody") as other:
            assert list(frames(other, timeout=1)) == []
        with pytest.raises(InvalidStatus) as bad, web.ws("/api/events?since=yesterday"):
            pass
        assert bad.value.response.status_code == 400


def _screen(ws: ClientConnection, want: str, timeout: float = 15) -> str:
    """The terminal's output (decoded) until it holds `want`."""
    shown = ""
    for frame in frames(ws, timeout):
        if frame["type"] == "output":
            shown += base64.b64decode(frame["data"]).decode(errors="replace")
            if want in shown:
                return shown
        elif frame["type"] in ("exit", "error"):
            raise AssertionError(f"the terminal ended: {frame}")
    raise AssertionError(f"{want!r} never showed; the terminal showed {shown[-500:]!r}")


def test_the_terminal_shows_the_agent_and_takes_typing(web: Web, tmp_path: Path,
                                                       trails_env: dict[str, Path]) -> None:
    log = tmp_path / "echo.log"
    web.create("tm", env={"ECHO_LOG": str(log)})
    wait_until(lambda: "echo-agent ready" in tmux_capture(trails_env["socket"], "trails-tm"))
    with web.ws("/api/sessions/tm/terminal?cols=100&rows=30") as ws:
        first = json.loads(ws.recv(timeout=15))
        assert first == {"type": "size", "cols": 100, "rows": 30}  # the pane now has the page's size
        assert "echo-agent ready" in _screen(ws, "echo-agent ready")  # the screen as it is, first
        ws.send(json.dumps({"type": "input", "data": "typed in the page\r"}))
        assert "got: typed in the page" in _screen(ws, "got: typed in the page")
        wait_until(lambda: log.exists() and log.read_text() == "typed in the page\n")
        ws.send(json.dumps({"type": "resize", "cols": 80, "rows": 24}))
        sizes = [f for f in frames(ws, 15) if f["type"] == "size"][:1] or [None]
        assert sizes[0] == {"type": "size", "cols": 80, "rows": 24}
        ws.send(json.dumps({"type": "dance"}))
        assert json.loads(ws.recv(timeout=10))["code"] == "invalid_input"
    with web.http() as api:
        api.post("/api/sessions/tm/kill", json={"force": True})


def test_a_read_only_terminal_shows_output_but_cannot_type(web: Web, tmp_path: Path,
                                                            trails_env: dict[str, Path]) -> None:
    log = tmp_path / "echo.log"
    web.create("ro", mode="direct", env={"ECHO_LOG": str(log)})
    wait_until(lambda: "echo-agent ready" in tmux_capture(trails_env["socket"], "trails-ro"))
    size_before = tmux_capture(trails_env["socket"], "trails-ro")
    with web.ws("/api/sessions/ro/terminal?cols=40&rows=10", token="read-only") as ws:
        assert "echo-agent ready" in _screen(ws, "echo-agent ready")
        ws.send(json.dumps({"type": "input", "data": "sneaky\r"}))
        refused = next(f for f in frames(ws) if f["type"] == "error")
        assert refused["code"] == "not_permitted"
        ws.send(json.dumps({"type": "resize", "cols": 20, "rows": 5}))  # ignored, not an error
        with web.http() as api:  # what the owner sends, the viewer sees
            api.post("/api/sessions/ro/send", json={"text": "from the owner"})
        assert "got: from the owner" in _screen(ws, "got: from the owner")
    assert log.read_text() == "from the owner\n"  # the viewer's keys never reached the pane
    assert "sneaky" not in tmux_capture(trails_env["socket"], "trails-ro")
    assert size_before.count("\n") == tmux_capture(trails_env["socket"], "trails-ro").count("\n")
    with pytest.raises(InvalidStatus) as refused_shell, web.ws("/api/sessions/ro/shell", token="read-only"):
        pass
    assert refused_shell.value.response.status_code == 403


def test_a_shell_in_the_sessions_worktree(web: Web, trails_env: dict[str, Path]) -> None:
    created = web.create("sh1")
    worktree = created["worktree_path"]
    with web.ws("/api/sessions/sh1/shell?cols=120&rows=20") as ws:
        ws.send(json.dumps({"type": "input", "data": "pwd; echo shell-$((6*7))\r"}))
        shown = _screen(ws, "shell-42")
        assert worktree in shown
        ws.send(json.dumps({"type": "input", "data": "exit\r"}))
        ended = [f for f in frames(ws, 15) if f["type"] in ("exit", "error")]
        assert ended and ended[0]["type"] == "exit"
    listed = tmux_capture(trails_env["socket"], "trails-sh1")
    assert "echo-agent ready" in listed  # the agent's own pane was never touched


def test_a_terminal_of_a_session_that_does_not_exist(web: Web) -> None:
    with web.ws("/api/sessions/ghost/terminal") as ws:
        frame = json.loads(ws.recv(timeout=15))
        assert frame["type"] == "error" and frame["code"] == "session_not_found"


def test_opening_the_terminal_of_a_frozen_agent_thaws_it(web: Web, tmp_path: Path, trails_env: dict[str, Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAILS_SUPERVISOR", "on")  # freezing is the supervisor's
    (trails_env["home"] / "settings.json").write_text(json.dumps({"idle_freeze_after": 1}))
    log = tmp_path / "echo.log"
    web.create("fz", mode="direct", env={"ECHO_LOG": str(log)})

    def frozen() -> bool:
        with web.http() as api:
            return bool(api.get("/api/sessions/fz").json()["session"]["extra"].get("frozen"))

    wait_until(frozen, timeout=30, message="the idle agent to be frozen")
    with web.ws("/api/sessions/fz/terminal?cols=100&rows=30") as ws:
        assert not frozen()  # thawed before the first frame
        ws.send(json.dumps({"type": "input", "data": "after the thaw\r"}))
        wait_until(lambda: log.exists() and "after the thaw" in log.read_text(), timeout=15,
                   message="what was typed to reach the thawed agent")
    with web.http() as api:
        api.post("/api/sessions/fz/kill", json={"force": True})
