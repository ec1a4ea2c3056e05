"""The event seam: the feed adapter (reconnects with `since`) and how the app applies each kind of event."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from tests.helpers import wait_until
from tests.tui.fake_engine import NOW, FakeEngine, session
from tests.tui.tuihelp import SIZE, record_notifications, status_text, until
from trails.core.models import Status
from trails.ui.tui.app import TrailsApp
from trails.ui.tui.events import EventFeed


class StreamEngine:
    """subscribe_events: first a stream that breaks, then one that ends after two events."""

    def __init__(self) -> None:
        self.sinces: list[int | None] = []

    def subscribe_events(self, since: int | None = None, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        self.sinces.append(since)
        if len(self.sinces) == 1:
            yield {"id": 7, "kind": "status", "session": "a", "data": {"status": "ready"}}
            raise ConnectionResetError("supervisor restarted")
        yield {"id": 8, "kind": "status", "session": "a", "data": {"status": "running"}}


def test_feed_delivers_and_resumes_after_the_last_id(monkeypatch: Any) -> None:
    import trails.ui.tui.events as events_mod

    monkeypatch.setattr(events_mod, "_RETRY_DELAY", 0.01)
    engine = StreamEngine()
    got: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def callback(event: dict[str, Any]) -> None:
        got.append(event["id"])
        if event["id"] == 8:
            done.set()

    feed = EventFeed(engine, callback, since=5, on_error=errors.append)
    feed.start()
    wait_until(done.is_set, message="second event")
    feed.stop()
    assert got[:2] == [7, 8]
    assert engine.sinces[:2] == [5, 7]
    assert len(errors) == 1 and "supervisor restarted" in errors[0]


class ManualFeed:
    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


async def test_events_update_rows_add_new_sessions_and_drop_killed_ones() -> None:
    engine = FakeEngine()
    feeds: list[ManualFeed] = []
    app = TrailsApp(engine, clock=lambda: NOW, stats=False,
                    feed=lambda e, cb, err: feeds.append(ManualFeed(cb)) or feeds[-1])
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded.is_set() and bool(feeds))
        emit = feeds[0].callback
        emit({"id": 1, "kind": "status", "session": "add-tests",
              "data": {"status": "waiting", "reason": "Allow?", "needs_user": True}})
        await until(pilot, lambda: status_text(app, "add-tests") == "waiting")
        assert app.sub_title == "6 sessions · 3 need you"
        engine.sessions["late"] = session("late", Status.LOADING, i=9)
        emit({"id": 2, "kind": "status", "session": "late", "data": {"status": "loading"}})
        await until(pilot, lambda: "late" in app.sessions, message="a session made elsewhere appears")
        engine.sessions["bot"].status = Status.KILLED
        emit({"id": 3, "kind": "status", "session": "bot", "data": {"status": "killed"}})
        await until(pilot, lambda: "bot" not in app.sessions, message="a session killed elsewhere leaves")
        assert not [n for n in notes if n[1] == "error"]
        emit({"id": 4, "kind": "status", "session": "add-tests", "data": {"status": "bogus"}})
        await until(pilot, lambda: any("could not apply an event" in m for m, _ in notes))
        assert app.is_running and status_text(app, "add-tests") == "waiting"
