"""Events over the server's socket: live ones as they happen, and a subscriber that reconnects with
the last id it saw gets exactly the ones after it, in order, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from trails.api import types as t
from trails.api.client import Client


def _in(client: Client, cwd: Path) -> Client:
    own = Client(client.home, local=False)
    own.caller = own.caller.__class__(cwd=str(cwd), env=own.caller.env)
    return own


def _until(stream: Iterator[t.EventInfo], kind: str) -> list[t.EventInfo]:
    """Events from `stream` up to and including the first of `kind`."""
    got = []
    for event in stream:
        got.append(event)
        if event.kind == kind:
            return got
    raise AssertionError(f"the stream ended before a {kind!r} event; got {[e.kind for e in got]}")


def test_subscribe_streams_events_and_resumes_from_an_id(client: Client, tmp_path: Path) -> None:
    own = _in(client, tmp_path)
    own.call(t.Create(name="e1", agent="cat", mode="direct"))
    before = client.call(t.Events(limit=1)).events
    baseline = before[-1].id if before else 0
    live = client.subscribe(timeout=10)  # live only: from now on
    own.call(t.Pause(name="e1"))
    own.call(t.Resume(name="e1"))
    seen = _until(live, "paused") + _until(live, "resumed")
    live.close()  # a disconnect...
    own.call(t.Pause(name="e1"))  # ...while this happens
    # ...and back, from the last id seen: the rest, then new ones live.
    again = client.subscribe(since=seen[-1].id, timeout=10)
    seen += _until(again, "paused")
    own.call(t.Resume(name="e1"))
    seen += _until(again, "resumed")
    again.close()
    stored = [e.id for e in client.call(t.Events()).events if e.id > baseline]
    assert [e.id for e in seen] == stored  # every one, once, in id order, across the reconnect
    assert [e.kind for e in seen if e.kind in ("paused", "resumed")] == ["paused", "resumed", "paused", "resumed"]


def test_subscribe_of_one_session(client: Client, tmp_path: Path) -> None:
    own = _in(client, tmp_path)
    own.call(t.Create(name="a", agent="cat", mode="direct"))
    own.call(t.Create(name="b", agent="cat", mode="direct"))
    stream = client.stream(t.Subscribe(since=0, session="b"), timeout=3)
    assert isinstance(next(stream), t.JobStarted)
    own.call(t.Pause(name="a"))
    own.call(t.Pause(name="b"))
    got = [item for item in stream if isinstance(item, t.EventInfo)]
    assert {e.session for e in got} == {"b"} and "paused" in [e.kind for e in got]
