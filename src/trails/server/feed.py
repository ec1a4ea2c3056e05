"""Stored events to the server's subscribers: every event after a subscriber's `since`, then each new
one, in id order and exactly once (trails.core.events.EventHub does the fan-out).

The database is the source of truth. Writes made in the server's own process (requests, the
supervisor's thread) publish through the store's commit listener; the server also calls
`publish_pending` when another process nudges it and on a timer, for writers that do not nudge.
"""

from __future__ import annotations

from pathlib import Path

from trails.api.types import EventInfo
from trails.core.errors import ServerError
from trails.core.events import Event, EventHub, Subscription
from trails.core.store import Store


def info(event: Event) -> EventInfo:
    """An event in the API's terms (the JSON form `trails events --json` prints)."""
    plain = event.to_dict()
    found = EventInfo(id=event.id, ts=event.ts, session=event.session, kind=event.kind, data=plain["data"],
                      caller=event.caller)
    if event.host is not None:
        found.host = event.host
        if event.remote_id is not None:
            found.remote_id = event.remote_id
    return found


class Feed:
    def __init__(self, db: Path) -> None:
        self._store = Store(db)
        self._hub = EventHub(self._store)
        self._closed = False

    def publish_pending(self) -> None:
        if not self._closed:  # a closed store would open its connection again
            self._hub.publish_pending()

    def subscribe(self, since: int | None = None) -> Subscription:
        """Stored events with id > since (none when since is None), then live ones."""
        if self._closed:
            raise ServerError("the trails server is stopping", hint="subscribe again")
        self._hub.publish_pending()
        return self._hub.subscribe(since)

    def close(self) -> None:
        self._closed = True
        self._hub.close()
        self._store.close()
