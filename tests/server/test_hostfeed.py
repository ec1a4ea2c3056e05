"""The follower of a host's events and the server's kept link to it, against a scripted channel (the real
sshd is tests/remote's): an unreachable host told once, not per retry; back, it is told reachable and
followed from the cursor; a link that answers nothing is given up on."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.helpers import wait_until
from trails.api import protocol
from trails.api import types as t
from trails.core import hosts as hostfile
from trails.core.errors import HostAuthRefused, HostUnreachable
from trails.core.store import Store
from trails.server import hostfeed

HOST = hostfile.Host(target="me@box")


class ScriptedHost:
    """What `box` does: refuse logins while `refusing`, else answer `events` and `subscribe` from `events`."""

    def __init__(self) -> None:
        self.refusing = True
        self.attempts = 0
        self.sinces: list[int | None] = []
        self.events: list[t.EventInfo] = []

    def channel(self, name: str, host: hostfile.Host) -> Channel:
        self.attempts += 1
        if self.refusing:
            raise HostAuthRefused(f"{name} refused every key")
        return Channel(self)


class Channel:
    def __init__(self, box: ScriptedHost) -> None:
        self.box = box
        self.lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.closed = False

    def send(self, data: bytes) -> None:
        frame = protocol.decode_request(data.rstrip(b"\n"))
        if frame.op == "events":
            last = self.box.events[-1:] if self.box.events else []
            self.lines.put(protocol.reply(frame.id, result=t.EventList(events=last)).rstrip(b"\n"))
        elif frame.op == "subscribe":
            since = msgspec.json.decode(frame.params, type=t.Subscribe).since
            self.box.sinces.append(since)
            self.lines.put(protocol.reply(frame.id, progress=t.JobStarted(job=1)).rstrip(b"\n"))
            for event in self.box.events:
                if since is None or event.id > since:
                    self.lines.put(protocol.reply(frame.id, event=event).rstrip(b"\n"))

    def read(self, timeout: float | None) -> bytes | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def close(self) -> None:
        self.closed = True


def status(i: int, to: str) -> t.EventInfo:
    return t.EventInfo(id=i, ts=float(i), session="s1", kind="status", data={"status": to})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "state.db")
    yield st
    st.close()


def test_an_unreachable_host_is_told_once_then_followed_from_its_cursor(store: Store, monkeypatch: Any) -> None:
    box = ScriptedHost()
    monkeypatch.setattr("trails.api.remote.SshChannel", box.channel)
    monkeypatch.setattr(hostfeed, "FIRST_DELAY", 0.01)
    monkeypatch.setattr(hostfeed, "MAX_DELAY", 0.02)
    store.set_host_cursor("box", 1)  # followed before: events 2 and 3 happened while it was away
    box.events = [status(1, "running"), status(2, "ready"), status(3, "waiting")]
    follower = hostfeed.HostFollower("box", HOST, store)
    follower.start()
    try:
        wait_until(lambda: box.attempts >= 4, message="several refused attempts")
        states = [e for e in store.events() if e.kind == "host"]
        assert len(states) == 1 and states[0].host == "box"
        assert msgspec.to_builtins(states[0].data)["code"] == "host_auth_refused"
        box.refusing = False
        wait_until(lambda: store.host_cursor("box") == 3, message="the events after the cursor stored")
    finally:
        follower.stop()
        follower.join(5)
    assert box.sinces == [1]
    stored = store.events()
    assert [(e.host, e.remote_id, e.kind) for e in stored if e.kind != "host"] == [("box", 2, "status"),
                                                                                   ("box", 3, "status")]
    assert [msgspec.to_builtins(e.data)["reachable"] for e in stored if e.kind == "host"] == [False, True]


def test_a_host_followed_for_the_first_time_starts_at_its_head(store: Store, monkeypatch: Any) -> None:
    box = ScriptedHost()
    box.refusing = False
    box.events = [status(40, "running"), status(41, "ready")]
    monkeypatch.setattr("trails.api.remote.SshChannel", box.channel)
    follower = hostfeed.HostFollower("box", HOST, store)
    follower.start()
    try:
        wait_until(lambda: box.sinces, message="the subscription")
    finally:
        follower.stop()
        follower.join(5)
    assert box.sinces == [41] and store.host_cursor("box") == 41
    assert [e.kind for e in store.events()] == ["host"]  # its history stays on it


def test_a_kept_link_that_answers_nothing_is_given_up_on(monkeypatch: Any) -> None:
    box = ScriptedHost()
    box.refusing = False
    silent = Channel(box)
    monkeypatch.setattr("trails.api.remote.SshChannel", lambda name, host: silent)
    monkeypatch.setattr(hostfeed, "ANSWER_SECONDS", 0.1)
    link = hostfeed.KeptLink("box", HOST)
    with pytest.raises(HostUnreachable, match="did not answer"):
        link.call(t.ListSessions())  # `list` is not scripted: nothing comes back
    assert silent.closed


def test_a_backlog_is_stored_whole_and_in_order(store: Store, monkeypatch: Any) -> None:
    box = ScriptedHost()
    box.refusing = False
    box.events = [status(i, "running" if i % 2 else "ready") for i in range(1, 1201)]
    store.set_host_cursor("box", 0)
    monkeypatch.setattr("trails.api.remote.SshChannel", box.channel)
    follower = hostfeed.HostFollower("box", HOST, store)
    follower.start()
    try:
        wait_until(lambda: store.host_cursor("box") == 1200, message="the whole backlog stored")
    finally:
        follower.stop()
        follower.join(5)
    assert [e.remote_id for e in store.events() if e.kind == "status"] == list(range(1, 1201))
