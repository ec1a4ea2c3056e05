"""Remote hosts' events in this home's stream: one follower thread per configured host (issue #16).

The server follows every host in `hosts.json` for as long as it runs (a host added or removed later is
picked up within a tick): a follower opens one `trails server --stdio` channel over the host's ssh
master connection, subscribes to the remote stream after its cursor, and stores each remote event in
this home's database with `host` and `remote_id` (trails.core.store.import_remote_events), the cursor
moving in the same transaction. The hub then publishes them like any other event, with ids of this
home, so a local subscriber's `since` resumes across hosts too.

- **Nothing lost, nothing twice.** The cursor is the remote id of the last event stored. After a drop
  the follower subscribes again from it; an event at or before it is skipped. A host followed for the
  first time starts at its stream's head (its history stays there: `trails events` on the host). A
  remote whose stream is behind the cursor (its home was made anew) is followed from its head again.
- **Reconnecting.** A link that was up for a while and dropped is retried at once; failed attempts
  (and links that drop as soon as they are up) back off, 1 s doubling to 30 s with jitter.
- **Unreachable, not gone.** When a connection attempt fails the follower stores a `host` event
  (`reachable: false`, the error's code and message); the next success stores `reachable: true`. Only
  changes are stored. Sessions stay what the host last said they were: dashboards grey them.
- Events a host itself follows from other hosts (`host` set there) are not taken: a loop of hosts
  following each other would echo forever.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec

from trails.api import protocol
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import rebuild
from trails.api.types import EventInfo, EventList, Events, JobStarted, Progress, Request, Subscribe
from trails.core import events as ev
from trails.core import hosts as hostfile
from trails.core.errors import HostError, HostUnreachable, ServerError, TrailsError
from trails.core.store import Store

if TYPE_CHECKING:
    from trails.api.remote import SshChannel

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
STEADY = 5.0  # a link up this long that drops is tried again at once
ANSWER_SECONDS = 30.0  # a request over a kept link that takes longer gives up on the link
READ_TICK = 0.5  # how often a quiet follower looks whether it is to stop
T = TypeVar("T")
_progress = msgspec.json.Decoder(Progress)
_event = msgspec.json.Decoder(EventInfo)


class Stopped(Exception):
    pass


_QUIET = object()  # _frame(wait=False): nothing is waiting


class HostFollower:
    """Follows one host's event stream into the store until stopped (see the module docstring)."""

    def __init__(self, name: str, host: hostfile.Host, store: Store) -> None:
        self.name, self.host, self.store = name, host, store
        self.reachable: bool | None = None  # None: not tried yet
        self.error: TrailsError | None = None  # why not, when not
        self._stop = threading.Event()
        self._channel: SshChannel | None = None
        self._rids = 0
        self._subscribed = False  # this connection got as far as its subscription
        self._since = 0.0  # when
        self._thread = threading.Thread(target=self._run, name=f"trails-host-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.0  # a dropped link is retried at once
        while not self._stop.is_set():
            self._subscribed = False
            try:
                self._follow()
                lasted = time.monotonic() - self._since
                delay = 0.0 if lasted > STEADY else min(max(delay * 2, FIRST_DELAY), MAX_DELAY)
            except Stopped:
                return
            except TrailsError as exc:
                if self._subscribed:
                    # A link that was up dropped (ssh says why): tried again before telling, at once unless
                    # it had only just come up (a host that takes the link and drops it is not hammered).
                    lasted = time.monotonic() - self._since
                    delay = 0.0 if lasted > STEADY else min(max(delay * 2, FIRST_DELAY), MAX_DELAY)
                else:
                    self._state(False, exc)
                    delay = min(max(delay * 2, FIRST_DELAY), MAX_DELAY)
            except Exception as exc:  # a bug: logged, the link reported down, tried again later
                traceback.print_exc()
                self._state(False, HostUnreachable(f"following {self.name}'s events failed: {exc!r}"))
                delay = min(max(delay * 2, FIRST_DELAY), MAX_DELAY)
            finally:
                self._close()
            if delay:
                self._stop.wait(delay * random.uniform(0.8, 1.2))

    def _follow(self) -> None:
        """One connection: subscribe after the cursor, store what comes. Returns when the link drops."""
        from trails.api.remote import SshChannel

        self._channel = SshChannel(self.name, self.host)
        head = self._call(Events(limit=1), EventList).events
        last = head[-1].id if head else 0
        cursor = self.store.host_cursor(self.name)
        note = None
        if cursor is None or cursor > last:
            note = None if cursor is None else f"{self.name}'s event stream restarted (its id {last} < {cursor})"
            cursor = last
            self.store.set_host_cursor(self.name, cursor)
        rid = self._send(Subscribe(since=cursor))
        # Events that arrive together (a backlog after a drop) are stored in one transaction: what is
        # waiting is read first, then stored before waiting again. Unstored ones are asked again after
        # a drop (the cursor has not moved past them).
        pending: list[ev.Event] = []
        while True:
            frame = self._frame(rid, wait=not pending)
            is_event = isinstance(frame, protocol.ReplyFrame) and bool(frame.event)
            if pending and (not is_event or len(pending) >= ev.PAGE):
                self.store.import_remote_events(self.name, pending)
                pending = []
            if not isinstance(frame, protocol.ReplyFrame):
                if frame is None:
                    return
                continue  # _QUIET: what was waiting is stored
            if frame.progress and isinstance(_progress.decode(frame.progress), JobStarted):
                self._subscribed, self._since = True, time.monotonic()
                self._state(True, note=note)  # subscribed: from here nothing is missed
            elif frame.event:
                event = _event.decode(frame.event)
                if not isinstance(event.host, str):
                    pending.append(_stored(event))
            elif frame.error is not None:
                raise rebuild(frame.error)
            elif frame.result:
                return  # the remote server ended the stream (it is stopping): subscribe again

    def _send(self, request: Request[object]) -> int:
        assert self._channel is not None
        self._rids += 1
        self._channel.send(protocol.request_frame(self._rids, request, Caller(trust=Trust.USER, cwd="", env={})))
        return self._rids

    def _call(self, request: Request[T], kind: type[T]) -> T:
        rid = self._send(request)
        while True:
            frame = self._frame(rid)
            assert frame is not _QUIET
            if not isinstance(frame, protocol.ReplyFrame):
                raise HostUnreachable(f"the link to {self.name} dropped")
            if frame.error is not None:
                raise rebuild(frame.error)
            if frame.result:
                return msgspec.json.decode(frame.result, type=kind)

    def _frame(self, rid: int, *, wait: bool = True) -> protocol.ReplyFrame | object | None:
        """The next frame of request `rid`; None when the link ended (its reason raised when ssh says one);
        with wait=False, _QUIET when none is waiting."""
        assert self._channel is not None
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                line = self._channel.read(READ_TICK if wait else 0)
            except TimeoutError:
                if not wait:
                    return _QUIET
                continue
            if line is None:
                return None
            frame = protocol.decode_reply(line)
            if frame.id == rid:
                return frame

    def _close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                channel.close()

    def _state(self, reachable: bool, exc: TrailsError | None = None, note: str | None = None) -> None:
        if reachable == self.reachable and note is None:
            return
        self.reachable, self.error = reachable, exc
        payload = ev.HostState(reachable=reachable, note=note)
        if exc is not None:
            payload.code, payload.error = exc.code, exc.message
        with contextlib.suppress(Exception):  # a state that cannot be stored now is told at the next change
            self.store.append_event(payload, host=self.name)


def _stored(event: EventInfo) -> ev.Event:
    caller = event.caller if isinstance(event.caller, str) else None
    return ev.Event(id=event.id, ts=event.ts, session=event.session, kind=event.kind, caller=caller,
                    data=ev.payload_from(event.kind, dict(event.data)))


class KeptLink:
    """One `trails server --stdio` channel kept open to a host for requests, one at a time; a host that
    does not answer within ANSWER_SECONDS is given up on (the channel closed: the next call opens another)."""

    def __init__(self, name: str, host: hostfile.Host) -> None:
        from trails.api.remote import SshChannel

        self.name = name
        self._channel = SshChannel(name, host)
        self._lock = threading.Lock()
        self._rids = 0

    def call(self, request: Request[T]) -> T:
        with self._lock:
            self._rids += 1
            rid = self._rids
            self._channel.send(protocol.request_frame(rid, request, Caller(trust=Trust.USER, cwd="", env={})))
            deadline = time.monotonic() + ANSWER_SECONDS
            while True:
                try:
                    line = self._channel.read(max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    self.close()
                    raise HostUnreachable(f"{self.name} did not answer in {ANSWER_SECONDS:.0f} s",
                                          hint=f"`trails host doctor {self.name}` checks it") from None
                if line is None:
                    raise HostUnreachable(f"the link to {self.name} dropped")
                frame = protocol.decode_reply(line)
                if frame.id != rid:
                    continue
                if frame.error is not None:
                    raise rebuild(frame.error)
                if frame.result:
                    return msgspec.json.decode(frame.result, type=request.result)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._channel.close()


def _close_master(follower: HostFollower) -> None:
    from trails.api.remote import close_master

    follower.join(READ_TICK * 4)
    with contextlib.suppress(Exception):
        close_master(follower.name, follower.host)


def _link(host: hostfile.Host | None) -> tuple[object, ...] | None:
    """What a follower's connection depends on (a changed repository mapping does not restart it)."""
    return None if host is None else (host.target, host.home, tuple(host.command), tuple(host.ssh_options))


class HostFeeds:
    """The followers of this home's hosts: `sync` starts and stops them as hosts.json changes."""

    def __init__(self, db: Path) -> None:
        self._store = Store(db)
        self._followers: dict[str, HostFollower] = {}
        self._seen: tuple[int, int] | None = None
        self._connections: dict[str, KeptLink] = {}
        self._known: dict[str, list[t.SessionInfo]] = {}  # each host's sessions as last listed
        self._lock = threading.Lock()
        self._closed = False

    def sync(self) -> None:
        """Follow the hosts hosts.json names now (cheap when it did not change: one stat)."""
        try:
            st = hostfile.hosts_path().stat()
            seen = (st.st_mtime_ns, st.st_size)
        except OSError:
            seen = (0, 0)
        with self._lock:
            if self._closed or seen == self._seen:
                return
            self._seen = seen
            try:
                wanted = hostfile.load() if seen != (0, 0) else {}
            except TrailsError:
                return  # a hosts file being written, or broken: the followers keep what they had
            for name in list(self._followers):
                if _link(wanted.get(name)) != _link(self._followers[name].host):
                    follower = self._followers.pop(name)
                    follower.stop()
                    self._drop(name)
                    if name not in wanted:  # removed: its master connection goes too, once the follower let go
                        threading.Thread(target=_close_master, args=(follower,), daemon=True).start()
            for name, host in wanted.items():
                if name not in self._followers:
                    follower = HostFollower(name, host, self._store)
                    self._followers[name] = follower
                    follower.start()

    def unreachable(self, name: str) -> TrailsError | None:
        """Why `name` cannot be reached, when its follower's last attempt failed (asking again would only wait)."""
        with self._lock:
            follower = self._followers.get(name)
        return follower.error if follower is not None and follower.reachable is False else None

    def remember(self, name: str, sessions: list[t.SessionInfo]) -> None:
        with self._lock:
            self._known[name] = sessions

    def known(self, name: str) -> list[t.SessionInfo]:
        """The host's sessions as this server last listed them (what an unreachable host last said)."""
        with self._lock:
            return list(self._known.get(name, []))

    def call(self, name: str, host: hostfile.Host, request: Request[T]) -> T:
        """`request` on the host, over a connection kept open for the next one (a channel of the host's ssh
        master and a relay there cost more than the request); a dropped one is opened again, once."""
        for attempt in (1, 2):
            with self._lock:
                conn = self._connections.get(name)
                if conn is None:
                    conn = self._connections[name] = KeptLink(name, host)
                    attempt = 2  # a fresh connection that fails is not tried again
            try:
                return conn.call(request)
            except (HostError, ServerError):
                with self._lock:
                    if self._connections.get(name) is conn:
                        del self._connections[name]
                with contextlib.suppress(Exception):
                    conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _drop(self, name: str) -> None:
        conn = self._connections.pop(name, None)
        if conn is not None:
            threading.Thread(target=conn.close, daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            followers, self._followers = list(self._followers.values()), {}
            for name in list(self._connections):
                self._drop(name)
        for follower in followers:
            follower.stop()
        for follower in followers:
            follower.join(READ_TICK * 4)
        self._store.close()


def host_sessions(feeds: HostFeeds | None, include_ended: bool) -> dict[str, t.HostSessions]:
    """Every configured host's sessions, asked at once (each SessionInfo says its host); a host that
    cannot be asked, or that its follower found unreachable, is `reachable: false` with the error and the
    sessions it had when this server last listed them (dashboards grey them: never dropped).
    `feeds`: the server's followers and kept connections (None in a command's own process: one channel each)."""
    from concurrent.futures import ThreadPoolExecutor

    from trails.api.remote import RemoteClient
    from trails.server.service import api_error

    configured = hostfile.load()
    request = t.ListSessions(include_ended=include_ended)

    def ask(name: str) -> t.HostSessions:
        host = configured[name]
        try:
            known = feeds.unreachable(name) if feeds is not None else None
            if known is not None:
                raise known
            found = feeds.call(name, host, request) if feeds is not None else RemoteClient(name, host).call(request)
        except TrailsError as exc:
            return t.HostSessions(reachable=False, error=api_error(exc),
                                  sessions=feeds.known(name) if feeds is not None else [])
        for session in found.sessions:
            session.host = name
        if feeds is not None and not include_ended:
            feeds.remember(name, found.sessions)
        return t.HostSessions(reachable=True, sessions=found.sessions)

    if not configured:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(configured))) as pool:
        return dict(zip(configured, pool.map(ask, configured), strict=True))
