"""A message reaches a `ready` agent: typed into its pane, as one line, by the server's delivery thread."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.helpers import TrailsServer, as_user, wait_until
from trails.api import types as t
from trails.api.client import Client

ECHO_AGENT = Path(__file__).resolve().parent.parent / "core" / "echo_agent.py"


def test_a_message_is_typed_into_a_ready_recipient(trails_env: dict[str, Path], repo: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)  # statuses come from the supervisor's watch
    TrailsServer(trails_env["home"]).start()
    client = Client(trails_env["home"], caller=as_user(repo), local=False)
    logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
    for name in ("a", "b"):
        client.call(t.Create(name=name, agent=f"{sys.executable} {ECHO_AGENT}", mode="worktree", cwd=str(repo),
                             env={"ECHO_LOG": str(logs[name])}))
    wait_until(lambda: client.call(t.Get(name="b")).status == "ready", timeout=20, message="b to be ready")
    sent = client.call(t.AgentMessage(to="b", text="please rebase\nonto main", as_session="a"))
    typed = f"[trails] message {sent.id} from a to you: please rebase onto main"
    try:
        wait_until(lambda: logs["b"].exists() and typed in logs["b"].read_text(), timeout=20,
                   message="the message typed into b")
    except AssertionError as exc:  # say what b's screen and the stream showed
        screen = client.call(t.Output(name="b")).output
        told = [(e.kind, e.session, e.data) for e in client.call(t.Events()).events if e.kind in ("status", "sent")]
        raise AssertionError(f"{exc}\nscreen of b: {screen!r}\nevents: {told}") from None
    # Marked once typed (the echo agent logs the line before the typing is done: wait for the mark).
    with contextlib.closing(sqlite3.connect(trails_env["home"] / "state.db")) as db:
        wait_until(lambda: db.execute("SELECT how FROM deliveries WHERE message_id = ?", (sent.id,)).fetchall()
                   == [("typed",)], message="the delivery marked typed")
    (event,) = [e for e in client.call(t.Events(session="b")).events if e.kind == "sent"]
    assert (event.caller, event.data["text"]) == ("agent:a", typed)
    assert not logs["a"].exists()  # the sender got nothing typed
