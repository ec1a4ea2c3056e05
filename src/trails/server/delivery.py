"""Messages typed into their recipients' panes (issue #12): a thread of the server.

A message waits in its recipient's inbox until read (read_messages) or, when the recipient's agent is
`ready` (its screen or hooks say it waits for input — never `waiting`, which is a dialog, nor while a
prompt needs a person), typed into its pane as one line, the way `trails send` types, with the
sender as its caller. One message per recipient at a time: typing makes it busy, and the next one
goes when it is ready again. It looks whenever a message is sent or a status changes (the event
feed), and every few seconds besides; without the supervisor's watch no session is `ready`, so
messages are only read.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from typing import TYPE_CHECKING

from trails.api.caller import Caller, Trust
from trails.core import coordination as co
from trails.core.errors import TrailsError
from trails.core.models import Status

if TYPE_CHECKING:
    from trails.core.events import Subscription
    from trails.server.service import Service

POLL = 5.0
WAKE_KINDS = frozenset({"message", "status"})


class Deliverer:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None

    def start(self) -> None:
        try:
            self._subscription = self.service.feed.subscribe(None)
        except TrailsError:
            return
        self._thread = threading.Thread(target=self._run, args=(self._subscription,), name="trails-delivery",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._subscription is not None:
            self._subscription.close()  # its wait ends at once
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, subscription: Subscription) -> None:
        with subscription:
            while not self._stop.is_set():
                event = subscription.get(timeout=POLL)
                if event is not None and event.kind not in WAKE_KINDS:
                    continue
                try:
                    self.deliver()
                except Exception:  # the database went away for a moment, a bug: try again next time
                    traceback.print_exc(file=sys.stderr)

    def deliver(self) -> int:
        """Type each ready recipient's oldest undelivered message; how many were typed."""
        typed = 0
        with self.service.engines.engine() as engine:
            coordination = co.Coordination(engine.store)
            for message, recipient_id, recipient in coordination.deliverable():
                if self._stop.is_set():
                    break
                with contextlib.suppress(TrailsError):  # it ended or changed meanwhile: left for it to read
                    if engine.store.get_session(recipient).status is not Status.READY:
                        continue
                    sender = Caller(trust=Trust.AGENT, session=message.from_session)
                    engine.send(recipient, co.typed_text(message), caller=sender)
                    coordination.delivered(message, recipient_id)
                    typed += 1
        return typed
