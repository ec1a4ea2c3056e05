"""The event stream: every change to trails' state, stored with a monotonic id and fanned out live.

An event is written by the store in the same transaction as the change it tells of (a session's row,
its audit entry), so the stream and the state never disagree: what committed is in the stream, what
rolled back is not. Its `id` is the SQLite rowid of the `events` table: it only grows, and a
subscriber resumes after a disconnect with `since` = the last id it saw.

    {"id": 41, "ts": 1763750000.12, "session": "s1", "kind": "status", "caller": null,
     "data": {"status": "waiting", "previous": "running", "reason": "Do you want to create a.txt?",
              "needs_user": false}}

`session` is the session's name (null for home-wide events: supervisor, repository trust, runs);
`caller` the label of who asked (`user`, `web`, `agent:NAME`; null for the supervisor's own work).
`data` is one of the payload Structs below, tagged by `kind` (msgspec's tagged union: encoded, the
payload carries its kind too; `Event.to_dict` leaves that copy out).

Kinds (and where they come from): every audited action writes one (`KIND_OF_ACTION`), a status
change writes `status`, the supervisor writes `supervisor`, long operations' progress is `job`;
agents' coordination writes `message`, `claim`, `claim_released` and `artifact`. A remote host's events
are stored here too by the server that follows it (trails.server.hostfeed), with `host` and their
`remote_id` there, and its link's state is `host`.

`EventHub` fans stored events out to subscribers in one process. Its source of truth is the database:
after a commit (the store's commit listener) or a nudge or poll (a write by another process), it
reads what was stored after the last id it published and hands it on in id order. A subscriber too
slow to keep up does not hold anyone back: its queue is bounded, and once it overflows it reads what
it missed from the database instead.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import asyncio  # at run time only where an event loop is in use: it is slow to import

    from trails.core.store import Store


class Payload(msgspec.Struct, kw_only=True, tag_field="kind"):
    """The base of every event's `data`; its tag is the event's kind."""


class Created(Payload, tag="created"):
    mode: str | None = None
    workdir: str | None = None
    branch: str | None = None
    status: str | None = None  # the status it started in
    notes: list[str] = []
    coordinator: bool = False  # the user made it a coordinator
    parent: str | None = None  # the coordinator that created it


class StatusChanged(Payload, tag="status"):
    status: str
    previous: str | None = None
    reason: str | None = None
    needs_user: bool = False  # a prompt waits for a person (e.g. a guard refused to answer it)
    status_source: str | None = None  # hook: the agent's own hooks said it; screen: its screen; null: trails


class Sent(Payload, tag="sent"):
    text: str = ""


class Paused(Payload, tag="paused"):
    ref: str | None = None
    commit: str | None = None
    conversation_id: str | None = None
    worktree_removed: bool = False
    dirty: bool | None = None
    notes: list[str] = []


class Resumed(Payload, tag="resumed"):
    conversation_id: str | None = None
    command: list[str] = []
    notes: list[str] = []


class Killed(Payload, tag="killed"):
    force: bool = False
    delete_branch: bool = False
    saved_refs: list[str] = []
    notes: list[str] = []


class Moved(Payload, tag="moved"):
    source: str | None = None
    target: str | None = None
    workdir: str | None = None
    branch: str | None = None
    container_id: str | None = None
    work_ref: str | None = None
    restarted_with: Any = None
    notes: list[str] = []


class MoveFailed(Payload, tag="move_failed"):
    source: str | None = None
    target: str | None = None
    step: str | None = None
    error: str | None = None
    rollback_problems: list[str] = []
    notes: list[str] = []


class Merged(Payload, tag="merged"):
    branch: str | None = None
    into: str | None = None
    commit: str | None = None
    strategy: str | None = None


class Conflict(Payload, tag="conflict"):
    op: str = "rebase"  # merge | rebase
    files: list[str] = []
    branch: str | None = None
    into: str | None = None
    onto: str | None = None
    strategy: str | None = None


class Rebased(Payload, tag="rebased"):
    onto: str | None = None
    before: str | None = None
    after: str | None = None
    kept: str | None = None


class CleanedUp(Payload, tag="cleaned_up"):
    branch: str | None = None
    kept_ref: str | None = None
    branch_deleted: bool = False


class PullRequest(Payload, tag="pr"):
    opened: bool = False  # False: the branch was pushed, no pull request could be opened
    remote: str | None = None
    url: str | None = None
    number: int | None = None


class AutoYesSet(Payload, tag="auto_yes_set"):
    enabled: bool = False


class AutoAnswered(Payload, tag="auto_yes"):
    prompt_kind: str | None = None
    prompt: str = ""
    response: str | None = None
    keys: list[str] = []
    judged: str | None = None  # hook: judged on what the agent's hook said it would do; screen: on the dialog


class Refused(Payload, tag="refused"):
    prompt_kind: str | None = None
    prompt: str = ""
    guard: str | None = None
    reason: str | None = None
    judged: str | None = None  # hook: judged on what the agent's hook said it would do; screen: on the dialog


class TrustAnswered(Payload, tag="trust"):
    prompt_kind: str | None = None
    prompt: str = ""
    response: str | None = None
    keys: list[str] = []
    judged: str | None = None  # hook: judged on what the agent's hook said it would do; screen: on the dialog


class RepositoryTrust(Payload, tag="repository_trust"):
    root: str | None = None
    trusted: bool = False
    digest: str | None = None
    agents: dict[str, Any] = {}
    was_trusted: bool | None = None


class SettingsIgnored(Payload, tag="settings_ignored"):
    settings: list[Any] = []


class SettingsError(Payload, tag="settings_error"):
    error: str = ""


class MonitorError(Payload, tag="monitor_error"):
    step: str | None = None
    error: str = ""


class CreateUndone(Payload, tag="create_undone"):
    reason: str | None = None
    made: dict[str, Any] = {}
    notes: list[str] = []


class RunFinished(Payload, tag="run_finished"):
    out: str | None = None
    status: str | None = None
    totals: Any = None


class Job(Payload, tag="job"):
    """A long operation's progress (appended by the server): started, progress, done, failed, cancelled."""

    job: int
    op: str
    state: str
    message: str | None = None
    error: str | None = None


class SupervisorState(Payload, tag="supervisor"):
    state: str  # started | stopping
    pid: int | None = None


class MessageSent(Payload, tag="message"):
    """A session's message to another (or to every live session of its repository: `to` is "*")."""

    id: int | None = None
    to: str | None = None
    text: str = ""
    repo: str | None = None


class ResourceClaimed(Payload, tag="claim"):
    id: int | None = None
    pattern: str | None = None
    reason: str = ""
    expires_at: float | None = None
    repo: str | None = None


class ResourceReleased(Payload, tag="claim_released"):
    ids: list[int] = []
    patterns: list[str] = []
    repo: str | None = None


class ArtifactShared(Payload, tag="artifact"):
    id: int | None = None
    name: str | None = None
    size: int = 0
    replaced: bool = False
    repo: str | None = None


class HostState(Payload, tag="host"):
    """A remote host's link, as the local server's follower of its event stream finds it (event.host names it):
    unreachable ones keep their sessions, which dashboards grey until it is reachable again."""

    reachable: bool
    code: str | None = None  # why not: host_unreachable, host_auth_refused, …
    error: str | None = None
    note: str | None = None


class Audited(Payload, tag="audit"):
    """An audited action with no kind of its own yet: nothing the audit log records is missing here."""

    action: str
    detail: dict[str, Any] = {}


EventData = (
    Created | StatusChanged | Sent | Paused | Resumed | Killed | Moved | MoveFailed | Merged | Conflict | Rebased
    | CleanedUp | PullRequest | AutoYesSet | AutoAnswered | Refused | TrustAnswered | RepositoryTrust
    | SettingsIgnored | SettingsError | MonitorError | CreateUndone | RunFinished | Job | SupervisorState
    | MessageSent | ResourceClaimed | ResourceReleased | ArtifactShared | HostState | Audited
)
PAYLOADS: dict[str, type[Payload]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (Created, StatusChanged, Sent, Paused, Resumed, Killed, Moved, MoveFailed, Merged, Conflict, Rebased,
                CleanedUp, PullRequest, AutoYesSet, AutoAnswered, Refused, TrustAnswered, RepositoryTrust,
                SettingsIgnored, SettingsError, MonitorError, CreateUndone, RunFinished, Job, SupervisorState,
                MessageSent, ResourceClaimed, ResourceReleased, ArtifactShared, HostState, Audited)
}
KINDS = frozenset(PAYLOADS)

# The event each audited action writes in its transaction: (kind, fields the action itself implies).
# None: the action is told by another event of the same transaction (mode_selected by `created`, a
# reconciled status by `status`). An action missing here is written as kind `audit`.
KIND_OF_ACTION: dict[str, tuple[str, dict[str, Any]] | None] = {
    "session_created": ("created", {}),
    "mode_selected": None,
    "status_reconciled": None,
    "settings_ignored": ("settings_ignored", {}),
    "settings_error": ("settings_error", {}),
    "monitor_error": ("monitor_error", {}),
    "prompt_sent": ("sent", {}),
    "sent": ("sent", {}),
    "session_paused": ("paused", {}),
    "session_resumed": ("resumed", {}),
    "session_killed": ("killed", {}),
    "session_moved": ("moved", {}),
    "session_move_failed": ("move_failed", {}),
    "session_merged": ("merged", {}),
    "merge_conflict": ("conflict", {"op": "merge"}),
    "rebase_conflict": ("conflict", {"op": "rebase"}),
    "session_rebased": ("rebased", {}),
    "session_cleaned_up": ("cleaned_up", {}),
    "pr_opened": ("pr", {"opened": True}),
    "branch_pushed": ("pr", {"opened": False}),
    "auto_yes_set": ("auto_yes_set", {}),
    "auto_yes_answered": ("auto_yes", {}),
    "auto_yes_refused": ("refused", {}),
    "trust_answered": ("trust", {}),
    "repository_trusted": ("repository_trust", {"trusted": True}),
    "repository_untrusted": ("repository_trust", {"trusted": False}),
    "session_create_interrupted": ("create_undone", {}),
    "run_finished": ("run_finished", {}),
    "message_sent": ("message", {}),
    "resource_claimed": ("claim", {}),
    "resource_released": ("claim_released", {}),
    "artifact_shared": ("artifact", {}),
}


class Event(msgspec.Struct, kw_only=True):
    id: int
    ts: float
    session: str | None
    kind: str
    caller: str | None = None
    data: EventData
    host: str | None = None  # the remote host it happened on (None: this machine); `id` is this home's
    remote_id: int | None = None  # its id on that host

    def to_dict(self) -> dict[str, Any]:
        """The JSON form `trails events` prints: id, ts, session, kind, caller, data (without its tag), and
        host and remote_id for a host's event."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        out["data"].pop("kind", None)
        if self.host is None:
            out.pop("host")
            out.pop("remote_id")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        """An event from its `to_dict` form (or its msgspec encoding)."""
        payload = payload_from(str(data["kind"]), dict(data.get("data") or {}))
        remote_id = data.get("remote_id")
        return cls(id=int(data["id"]), ts=float(data["ts"]), session=data.get("session"), kind=str(data["kind"]),
                   caller=data.get("caller"), data=payload, host=data.get("host"),
                   remote_id=int(remote_id) if remote_id is not None else None)


def payload_from(kind: str, data: dict[str, Any]) -> EventData:
    """The typed payload of a stored event's `data`; one that does not fit its kind (a row written by an
    older trails) comes back whole as `Audited`, so a reader never fails on history."""
    cls = PAYLOADS.get(kind)
    if cls is not None:
        try:
            payload: EventData = msgspec.convert({**data, "kind": kind}, cls, strict=False)  # type: ignore[assignment]
            return payload
        except msgspec.ValidationError:
            pass
    return Audited(action=kind, detail=data)


def from_audit(action: str, detail: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(kind, data) of the event an audited action writes, `data` as stored (its payload's fields,
    without the tag); None when another event of the same transaction tells it."""
    found = KIND_OF_ACTION.get(action, ("audit", {}))
    if found is None:
        return None
    kind, fixed = found
    fields = {k: v for k, v in detail.items() if k != "caller"}
    if kind == "audit":
        return kind, {"action": action, "detail": fields}
    try:
        payload = msgspec.convert({**fields, **fixed, "kind": kind}, PAYLOADS[kind], strict=False)
    except msgspec.ValidationError:  # a detail of another shape: told whole rather than not at all
        return "audit", {"action": action, "detail": fields}
    return kind, encode_payload(payload)


def encode_payload(payload: Payload) -> dict[str, Any]:
    """A payload as stored in the `events` table: its fields, without the tag (the row has the kind)."""
    out: dict[str, Any] = msgspec.to_builtins(payload)
    out.pop("kind", None)
    return out


def kind_of(payload: Payload) -> str:
    tag = payload.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


# --- fan-out ---------------------------------------------------------------------------------------

QUEUE_LIMIT = 1000  # live events a subscriber may have waiting before it reads from the database instead
PAGE = 500  # events read from the database at a time


class _Fetch(msgspec.Struct, frozen=True):
    after: int
    upto: int


_CLOSED = object()


class Subscription:
    """Events with id > `since`, in id order, each once: stored ones first, then live ones. Thread-safe;
    a context manager. Read with `get`, by iterating (blocking, for threads) or `async for` (asyncio)."""

    def __init__(self, hub: EventHub, cursor: int, backlog_until: int | None) -> None:
        self._hub = hub
        self._cond = threading.Condition()
        self._cursor = cursor  # the id of the last event handed out (or `since`)
        # Events in (cursor, until] are to be read from the database (a backlog, or what overflowed);
        # None: every event after the cursor is in the queue or yet to come.
        self._until = backlog_until if backlog_until is not None and backlog_until > cursor else None
        self._buffer: deque[Event] = deque()  # read from the database, not handed out yet
        self._queue: deque[Event] = deque()  # published live
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._closed = False

    @property
    def cursor(self) -> int:
        """The id of the last event handed out: where to resume after this subscription ends."""
        with self._cond:
            return self._cursor

    # --- the publisher's side (EventHub, under its lock) ---------------------------------------

    def _offer(self, event: Event) -> None:
        with self._cond:
            if self._closed or event.id <= self._cursor:
                return
            if self._until is not None:
                self._until = max(self._until, event.id)  # reading from the database already: read it there
            elif len(self._queue) >= QUEUE_LIMIT:
                self._queue.clear()  # a slow reader: it reads what it missed from the database
                self._until = event.id
            else:
                self._queue.append(event)
            self._wake()

    def _wake(self) -> None:
        self._cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, future)

    # --- the reader's side ----------------------------------------------------------------------

    def _step(self) -> Event | _Fetch | object | None:
        """Under the lock: the next event, what to read from the database, _CLOSED, or None (nothing yet)."""
        if self._closed:
            return _CLOSED
        while True:
            if self._buffer:
                event = self._buffer.popleft()
            elif self._until is not None:
                if self._until <= self._cursor:
                    self._until = None
                    continue
                return _Fetch(self._cursor, self._until)
            elif self._queue:
                event = self._queue.popleft()
            else:
                return None
            if event.id > self._cursor:
                self._cursor = event.id
                return event

    def _fetch(self, want: _Fetch) -> list[Event]:
        return self._hub.store.events_after(want.after, upto=want.upto, count=PAGE)

    def _fill(self, want: _Fetch, got: list[Event]) -> None:
        with self._cond:
            if self._cursor != want.after:
                return  # closed or reset meanwhile
            if got:
                self._buffer.extend(got)
            else:  # nothing stored up to there (cannot happen with ids from the table; never loop on it)
                self._cursor = max(self._cursor, want.upto)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event; None after `timeout` seconds without one, or once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                step = self._step()
                if step is None:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return None
                    self._cond.wait(remaining)
                    continue
            if step is _CLOSED:
                return None
            if isinstance(step, _Fetch):
                self._fill(step, self._fetch(step))
                continue
            assert isinstance(step, Event)
            return step

    def __iter__(self) -> Iterator[Event]:
        while (event := self.get()) is not None:
            yield event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._async_events()

    async def _async_events(self) -> AsyncIterator[Event]:
        import asyncio

        loop = asyncio.get_running_loop()
        while True:
            future: asyncio.Future[None] | None = None
            with self._cond:
                step = self._step()
                if step is None:
                    future = loop.create_future()
                    self._waiters.append((loop, future))
            if future is not None:
                await future
                continue
            if step is _CLOSED:
                return
            if isinstance(step, _Fetch):
                # A database read is short, but it is I/O: off the event loop.
                self._fill(step, await asyncio.to_thread(self._fetch, step))
                continue
            assert isinstance(step, Event)
            yield step

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._buffer.clear()
            self._queue.clear()
            self._wake()
        self._hub._forget(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class EventHub:
    """Fans the store's events out to this process's subscribers, in id order, each event once.

    Publishing is driven by the store's commit listener (writes in this process); `publish_pending`
    is also what a nudge calls, and `poll` seconds (when given) has a thread look for writes made by
    other processes (PRAGMA data_version: no read of the events table unless something committed).
    """

    def __init__(self, store: Store, *, poll: float | None = None) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self.last_id = store.last_event_id()
        self._listener: Callable[[], None] = self.publish_pending
        store.add_commit_listener(self._listener)
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        if poll is not None:
            self._poller = threading.Thread(target=self._poll, args=(poll,), name="trails-event-poll", daemon=True)
            self._poller.start()

    def publish_pending(self) -> None:
        """Hand every event stored after the last published id to the subscribers."""
        with self._lock:
            while True:
                batch = self.store.events_after(self.last_id, count=PAGE)
                for event in batch:
                    for sub in self._subs:
                        sub._offer(event)
                    self.last_id = event.id
                if len(batch) < PAGE:
                    return

    def subscribe(self, since: int | None = None) -> Subscription:
        """Events after `since` (stored ones first), then live ones; since=None: live ones only."""
        with self._lock:
            # Under the publishing lock: what is published from here on is queued, what was before is
            # read from the database, and the boundary between the two is last_id exactly.
            start = self.last_id if since is None else since
            sub = Subscription(self, start, self.last_id)
            self._subs.append(sub)
        return sub

    def _forget(self, sub: Subscription) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._subs.remove(sub)

    def _poll(self, interval: float) -> None:
        seen = None
        while not self._stop.wait(interval):
            try:
                version = self.store.data_version()
                if version != seen:
                    seen = version
                    self.publish_pending()
            except Exception:  # a database that went away for a moment: try again next time
                continue

    def close(self) -> None:
        """Stop publishing; every subscription ends."""
        self._stop.set()
        self.store.remove_commit_listener(self._listener)
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.close()
        if self._poller is not None and self._poller is not threading.current_thread():
            self._poller.join(timeout=5)
