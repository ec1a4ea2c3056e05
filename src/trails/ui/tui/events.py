"""Where the dashboard's live updates come from: the one seam to change if the source changes.

`EventFeed` reads the supervisor's event stream through `Engine.subscribe_events` on a background
thread and hands each event (a dict, see trails.monitor.events) to a callback. When the stream ends
(supervisor restarted, idle timeout) it reconnects with `since` = the last id seen, so nothing is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

EventCallback = Callable[[dict[str, Any]], object]
# The stream returns after this long without events; the thread then checks whether it should stop.
_IDLE_TIMEOUT = 5.0
_RETRY_DELAY = 3.0


class Feed(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class EventFeed:
    """Engine events delivered to `callback` from a daemon thread (the callback must be thread-safe)."""

    def __init__(self, engine: Any, callback: EventCallback, *, since: int | None = None,
                 on_error: Callable[[str], object] | None = None) -> None:
        self.engine = engine
        self.callback = callback
        self.on_error = on_error
        self.since = since
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trails-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        reported = False
        while not self._stop.is_set():
            try:
                for event in self.engine.subscribe_events(since=self.since, timeout=_IDLE_TIMEOUT):
                    if self._stop.is_set():
                        return
                    self.since = max(self.since or 0, int(event.get("id") or 0)) or self.since
                    self.callback(event)
                reported = False
            except Exception as exc:  # the supervisor may be starting or gone: say so once, retry
                if not reported and self.on_error is not None:
                    self.on_error(f"live updates unavailable ({exc}); retrying")
                reported = True
                self._stop.wait(_RETRY_DELAY)


def latest_event_id(engine: Any) -> int | None:
    """The newest stored event's id, so a new subscriber starts from now, not from history."""
    try:
        latest = engine.events(limit=1)
    except Exception:
        return None
    return int(latest[-1]["id"]) if latest else None
