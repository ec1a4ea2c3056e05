"""Events over the server's socket: live ones as they happen, and a subscriber that reconnects with
the last id it saw gets exactly the ones after it, in order, once — for every kind of operation, done
for real through the server (tests/core/test_events.py drives the store's side of each kind)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from tests.helpers import git
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


def _take(stream: Iterator[t.EventInfo], count: int) -> list[t.EventInfo]:
    """The next `count` events of `stream` (fewer only if it went quiet for its timeout)."""
    return [event for _, event in zip(range(count), stream, strict=False)]


# What each real operation must tell, by the kind of its own event (status changes come and go with
# them, as the operation makes them: they are checked as part of the whole stream, not one by one).
OPERATION_KINDS = ("created", "sent", "auto_yes_set", "paused", "resumed", "moved", "merged", "killed")


def test_every_operation_through_the_server_is_in_the_stream_once_in_order_for_two_subscribers(
        client: Client, repo: Path) -> None:
    own = _in(client, repo)
    before = client.call(t.Events(limit=1)).events
    mark = baseline = before[-1].id if before else 0
    stays = client.subscribe(since=baseline, timeout=10)  # reads everything, at the end
    leaves = client.subscribe(since=baseline, timeout=10)  # reads part, disconnects, comes back

    def merge_w() -> object:
        wt = Path(str(own.call(t.Get(name="w")).worktree_path))  # the agent's work, committed: merged
        (wt / "w.txt").write_text("from w\n")
        git(wt, "add", "w.txt")
        git(wt, "commit", "-qm", "w's work")
        return own.call(t.Merge(name="w"))

    steps: list[tuple[Callable[[], object], str, str]] = [  # (operation, its kind, its session)
        (lambda: own.call(t.Create(name="w", agent="cat", mode="worktree")), "created", "w"),
        (lambda: own.call(t.Create(name="d", agent="cat", mode="direct")), "created", "d"),
        (lambda: own.call(t.Send(name="w", text="hello")), "sent", "w"),
        (lambda: own.call(t.AutoYes(name="w", on=True)), "auto_yes_set", "w"),
        (lambda: own.call(t.AutoYes(name="w", on=False)), "auto_yes_set", "w"),
        (lambda: own.call(t.Pause(name="w")), "paused", "w"),
        (lambda: own.call(t.Resume(name="w")), "resumed", "w"),
        (lambda: own.call(t.Upgrade(name="d", to="worktree")), "moved", "d"),
        (merge_w, "merged", "w"),
        (lambda: own.call(t.Kill(name="w")), "killed", "w"),
        (lambda: own.call(t.Kill(name="d")), "killed", "d"),
    ]
    left_with: list[t.EventInfo] = []
    for i, (op, kind, name) in enumerate(steps):
        op()
        # The operation's own event is among those stored while it ran, exactly once, its session's
        # and its caller's.
        during = client.call(t.Events(since=mark)).events
        assert [(e.kind, e.session, e.caller) for e in during if e.kind in OPERATION_KINDS] == [(kind, name, "user")], \
            (i, [e.kind for e in during])
        mark = during[-1].id
        if i == 5:  # after the pause, part of the way: the leaving subscriber misses its last two events
            left_with = _take(leaves, len(client.call(t.Events(since=baseline)).events) - 2)
            leaves.close()  # a disconnect
    expected = [(kind, name) for _, kind, name in steps]

    stored = client.call(t.Events(since=baseline)).events
    ids = [e.id for e in stored]
    assert ids == sorted(set(ids)) and ids[-1] == mark  # monotonic, each once
    back = client.subscribe(since=left_with[-1].id, timeout=10)
    for seen in (_take(stays, len(stored)), left_with + _take(back, len(stored) - len(left_with))):
        assert [e.id for e in seen] == ids  # every stored event, once, in id order, across the reconnect
        assert [(e.kind, e.session) for e in seen if e.kind in OPERATION_KINDS] == expected
        assert seen == stored
    # Nothing comes after: no event twice, none the operations did not cause.
    assert _take(client.subscribe(since=mark, timeout=1), 1) == []
    stays.close()
    back.close()
