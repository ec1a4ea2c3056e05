"""The client of this home's trails server: what every front end calls.

    client = Client()                                  # the caller: this process's user, cwd and environment
    shown = client.call(Show(name="s1"))               # → ShowResult, or the server's TrailsError raised here
    client.call(Create(name="s2", agent="claude"), progress=print_line)
    for event in client.subscribe(since=40): ...       # stored events after 40, then live ones

It connects to `$TRAILS_HOME/server.sock` (trails.api.protocol), starting the server first when none
runs, and checks before it sends anything that the socket's directory is the user's own and closed
to others and that the listener runs as this user (trails.core.ownsock): another user's listener gets
nothing, not even the environment. Errors come back as the TrailsError the operation raised (same
`code`, `exit_code`, `hint` and `field`). Ctrl-C while a long operation runs cancels its job, waits
for it to stop, then raises KeyboardInterrupt as a local command would.

TRAILS_SERVER=off serves the same requests in this process (trails.server, imported only then):
for debugging, and for tests that kill the process doing the work.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar

import msgspec

from trails.api import protocol
from trails.api.caller import Caller, Trust
from trails.api.types import (
    ApiError,
    Cancel,
    EventInfo,
    FollowOutput,
    JobStarted,
    OutputChunk,
    Progress,
    Request,
    ServerStatus,
    ServerStatusRequest,
    ServerStop,
    Subscribe,
)
from trails.core import ownsock, paths
from trails.core.errors import InvalidInput, ServerError, TrailsError, UnsafeSocket

if TYPE_CHECKING:
    from trails.server.service import Service

T = TypeVar("T")
OFF_VALUES = frozenset({"off", "0", "no", "false"})
START_TIMEOUT = 10.0
_progress_decoder = msgspec.json.Decoder(Progress)
_services: dict[Path, Service] = {}  # the in-process mode's, by home
_services_lock = threading.Lock()
_event_decoder = msgspec.json.Decoder(EventInfo)


def in_process() -> bool:
    """TRAILS_SERVER=off: requests are served in this process, no server is started or used."""
    return os.environ.get("TRAILS_SERVER", "").strip().lower() in OFF_VALUES


class RemoteError(TrailsError):
    """An error the server sent whose class this process does not know (a merge conflict, say)."""

    def to_dict(self) -> dict[str, str]:
        out: dict[str, object] = dict(super().to_dict())
        for key in ("files", "onto", "sent_to_agent"):
            if getattr(self, key, None) is not None:
                out[key] = getattr(self, key)
        return out  # type: ignore[return-value]


def _error_classes() -> dict[str, type[TrailsError]]:
    found: dict[str, type[TrailsError]] = {}
    todo: list[type[TrailsError]] = [TrailsError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo += cls.__subclasses__()
    return found


def rebuild(error: ApiError) -> TrailsError:
    """The TrailsError the server raised, as one of this process's classes where it knows the code."""
    cls = _error_classes().get(error.code)
    extras = error.files is not None or error.onto is not None or error.sent_to_agent is not None
    if cls is None or extras:
        cls = RemoteError
    exc = cls.__new__(cls)
    TrailsError.__init__(exc, error.message, hint=error.hint, field=error.field)
    exc.code, exc.exit_code = error.code, error.exit_code
    for key in ("files", "onto", "sent_to_agent"):
        if getattr(error, key) is not None:
            setattr(exc, key, getattr(error, key))
    return exc


# --- channels: the server's socket, or this process -------------------------------------------------


class Channel(Protocol):
    def send(self, data: bytes) -> None: ...

    def read(self, timeout: float | None) -> bytes | None: ...  # TimeoutError when nothing came in time

    def close(self) -> None: ...


class SocketChannel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = protocol.FrameReader(sock)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float | None) -> bytes | None:
        self.sock.settimeout(timeout)
        return self.reader.read()

    def close(self) -> None:
        self.sock.close()


class LocalChannel:
    """Requests served by a Service in this process, each in a thread (so Ctrl-C can cancel it)."""

    def __init__(self, home: Path) -> None:
        with _services_lock:
            if home not in _services:
                import atexit

                from trails.server.service import local_service

                _services[home] = local_service(home)
                atexit.register(_services[home].close)  # its database connections: the WAL checkpointed
            self.service = _services[home]
        self.replies: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self.jobs: set[object] = set()

    def send(self, data: bytes) -> None:
        frame = protocol.decode_request(data.rstrip(b"\n"))
        threading.Thread(target=self.service.execute, args=(frame, self.replies.put),
                         kwargs={"under_way": self.jobs}, name=f"trails-{frame.op}", daemon=True).start()

    def read(self, timeout: float | None) -> bytes | None:
        try:
            return self.replies.get(timeout=timeout).rstrip(b"\n")
        except queue.Empty:
            raise TimeoutError from None

    def close(self) -> None:
        for job in list(self.jobs):
            job.cancel()  # type: ignore[attr-defined]


# --- the client -------------------------------------------------------------------------------------


class Client:
    def __init__(self, home: Path | None = None, *, caller: Caller | None = None, local: bool | None = None) -> None:
        """`local`: serve requests in this process (default: when TRAILS_SERVER=off)."""
        self.home = home if home is not None else paths.trails_home()
        self.caller = caller or Caller(trust=Trust.USER, cwd=_cwd(), env=_environment())
        self.local = in_process() if local is None else local
        self._ids = itertools.count(1)

    # --- requests ---

    def call(self, request: Request[T], *, progress: Callable[[Progress], None] | None = None,
             on_event: Callable[[EventInfo], None] | None = None, start: bool = True,
             local: bool | None = None) -> T:
        """Send one request; progress (and events) go to the callbacks; returns the typed result.
        `start`: start the server when none runs; `local`: serve it in this process (default: self.local)."""
        rid = next(self._ids)
        frame = protocol.request_frame(rid, request, self.caller)  # a request that cannot be sent starts nothing
        with self._channel(start, local) as channel:
            return self._exchange(channel, rid, frame, request, progress, on_event)

    def _exchange(self, channel: Channel, rid: int, frame_bytes: bytes, request: Request[T],
                  progress: Callable[[Progress], None] | None, on_event: Callable[[EventInfo], None] | None) -> T:
        channel.send(frame_bytes)
        job: int | None = None
        cancelling = False
        while True:
            try:
                line = channel.read(None)
            except KeyboardInterrupt:
                if job is None or cancelling:
                    raise
                cancelling = True  # the job stops at its next step; its answer says when
                channel.send(protocol.request_frame(next(self._ids), Cancel(job=job), self.caller))
                continue
            if line is None:
                raise ServerError("the trails server closed the connection before answering",
                                  hint=f"see {self.home / protocol.LOG_NAME}")
            frame = protocol.decode_reply(line)
            if frame.id != rid:
                continue  # the answer to our cancel
            if frame.progress:
                item = _progress_decoder.decode(frame.progress)
                if isinstance(item, JobStarted):
                    job = item.job
                elif progress is not None:
                    progress(item)
            elif frame.event:
                if on_event is not None:
                    on_event(_event_decoder.decode(frame.event))
            elif frame.error is not None:
                if cancelling and frame.error.code == "cancelled":
                    raise KeyboardInterrupt
                raise rebuild(frame.error)
            elif frame.result:
                result: T = msgspec.json.decode(frame.result, type=request.result)
                return result
            else:
                raise ServerError(f"the trails server sent a frame this client does not understand: {line[:200]!r}")

    def stream(self, request: Request[object], *, timeout: float | None = None,
               start: bool = True) -> Iterator[Progress | EventInfo]:
        """A streaming request's progress (a long one's JobStarted first) and events as they come; ends
        with the request, or when nothing came for `timeout` seconds. Closing it early cancels the request.

        The request is under way when this returns (a subscription is registered: what happens from
        now on reaches it), not on the first next()."""
        rid = next(self._ids)
        frame = protocol.request_frame(rid, request, self.caller)
        channel = self._open(start)
        try:
            channel.send(frame)
            first = self._next_frame(channel, rid, timeout) if request.long else None
        except BaseException:
            channel.close()
            raise
        return self._rest(channel, rid, timeout, first)

    def _rest(self, channel: Channel, rid: int, timeout: float | None,
              first: Progress | EventInfo | None) -> Iterator[Progress | EventInfo]:
        try:
            if first is not None:
                yield first
            while (item := self._next_frame(channel, rid, timeout)) is not None:
                yield item
        finally:
            channel.close()

    def _next_frame(self, channel: Channel, rid: int, timeout: float | None) -> Progress | EventInfo | None:
        """The request's next progress item or event; None once it has ended (or after `timeout` of quiet)."""
        while True:
            try:
                line = channel.read(timeout)
            except TimeoutError:
                return None
            if line is None:
                raise ServerError("the trails server closed the connection",
                                  hint=f"see {self.home / protocol.LOG_NAME}")
            frame = protocol.decode_reply(line)
            if frame.id != rid:
                continue
            if frame.progress:
                return _progress_decoder.decode(frame.progress)
            if frame.event:
                return _event_decoder.decode(frame.event)
            if frame.error is not None:
                raise rebuild(frame.error)
            return None

    def subscribe(self, since: int | None = None, *, session: str | None = None,
                  timeout: float | None = None) -> Iterator[EventInfo]:
        """Events as they happen (stored ones after `since` first); ends after `timeout` s of quiet."""
        return (item for item in self.stream(Subscribe(since=since, session=session), timeout=timeout)
                if isinstance(item, EventInfo))

    def follow_output(self, name: str, lines: int | None = None, raw: bool = False) -> Iterator[str]:
        """The session's last `lines` of output, then its new output as it is written, until it stops."""
        return (item.text for item in self.stream(FollowOutput(name=name, lines=lines, raw=raw))
                if isinstance(item, OutputChunk))

    def connection(self, start: bool = True) -> Connection:
        """One connection for many short requests in turn (a terminal's keystrokes): no connect each time."""
        return Connection(self, self._open(start))

    # --- the server ---

    def status(self) -> ServerStatus:
        """Whether this home's server runs (never starts one)."""
        if self.local:
            return self.call(ServerStatusRequest())
        try:
            return self.call(ServerStatusRequest(), start=False, local=False)
        except ServerError:
            return ServerStatus(running=False, pid=None, socket=str(protocol.socket_path(self.home)))

    def stop_server(self, timeout: float = 10.0) -> bool:
        """Ask this home's server to exit and wait until it has. False when none was running."""
        import signal

        lock = self.home / protocol.LOCK_NAME
        if not protocol.lock_held(lock):
            return False
        pid = protocol.server_pid(self.home)
        try:
            self.call(ServerStop(), start=False, local=False)
        except (OSError, TrailsError):
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        # Gone, not only its lock let go: until it has exited it holds its log (and so the home) open.
        while (protocol.lock_held(lock) or (pid is not None and _running(pid))) and time.monotonic() < deadline:
            time.sleep(0.02)
        return True

    def _open(self, start: bool, local: bool | None = None) -> Channel:
        if self.local if local is None else local:
            return LocalChannel(self.home)
        return SocketChannel(self.connect(start))

    @contextlib.contextmanager
    def _channel(self, start: bool, local: bool | None = None) -> Iterator[Channel]:
        channel = self._open(start, local)
        try:
            yield channel
        finally:
            channel.close()

    def connect(self, start: bool = True) -> socket.socket:
        """A connection to this home's server, started first when none runs (and `start`)."""
        path = protocol.socket_path(self.home)
        sock = _try_connect(path)
        if sock is not None:
            return sock
        if not start:
            raise ServerError("no trails server runs for this home", hint="`trails server` starts one")
        return self._start(path)

    def _start(self, path: Path) -> socket.socket:
        import subprocess
        import sys

        log_file = self.home / protocol.LOG_NAME
        hint = f"see {log_file}; with TRAILS_SERVER=off each command runs trails in its own process instead"
        try:
            paths.private_file(log_file)
            log = open(log_file, "ab")  # noqa: SIM115 - handed to the child
        except OSError as exc:
            raise paths.unusable(exc, "write") from None
        started_at = log.tell()
        with log:
            child = subprocess.Popen(
                [sys.executable, "-m", "trails.server"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=dict(os.environ, TRAILS_HOME=str(self.home)), start_new_session=True, close_fds=True, cwd="/")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            sock = _try_connect(path)
            if sock is not None:
                return sock
            code = child.poll()
            # It exits 0 at once when another server holds the lock: that one answers soon. Anything
            # else means it could not start, and waiting longer changes nothing.
            if code is not None and (code != 0 or not protocol.lock_held(self.home / protocol.LOCK_NAME)):
                said = protocol.read_stop_line(_last_line(log_file, started_at))
                if isinstance(said, ApiError):  # why, as the error it was (a damaged database: state_error)
                    said.message = f"the trails server could not start: {said.message}"
                    said.hint = f"{said.hint}; {hint}" if said.hint else hint
                    raise rebuild(said)
                raise ServerError(f"the trails server could not start: {said} (exit status {code})", hint=hint)
            time.sleep(0.01)
        raise ServerError(f"the trails server did not answer within {START_TIMEOUT:g}s", hint=hint)


def _running(pid: int) -> bool:
    """The process exists and has not exited (a zombie waiting for its parent has)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Connection:
    """Requests over one channel, one at a time (calls from several threads wait their turn)."""

    def __init__(self, client: Client, channel: Channel) -> None:
        self._client = client
        self._channel = channel
        self._lock = threading.Lock()

    def call(self, request: Request[T]) -> T:
        with self._lock:
            rid = next(self._client._ids)
            frame = protocol.request_frame(rid, request, self._client.caller)
            return self._client._exchange(self._channel, rid, frame, request, None, None)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _try_connect(path: Path) -> socket.socket | None:
    """A checked connection (see the module docstring), or None when nothing listens there."""
    try:
        sock = ownsock.connect(path, 5.0)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    except PermissionError as exc:
        raise UnsafeSocket(f"{exc}: trails sent it nothing",
                           hint=f"{path} is not this user's trails server; remove it, or set TRAILS_HOME "
                                "to a directory of your own") from None
    sock.settimeout(None)
    return sock


def _last_line(log_file: Path, offset: int) -> str:
    """The last line the server wrote to its log from `offset` on (its error)."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            lines = [ln.strip() for ln in handle.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    return lines[-1] if lines else "it wrote nothing to its log"


def _cwd() -> str:
    try:
        cwd = os.getcwd()
    except OSError:  # the directory was removed under us
        return "/"
    if not protocol.encodable(cwd):
        raise InvalidInput(f"the current directory {cwd!r} has a name that is not UTF-8 text, which the trails "
                           "server cannot be told", hint="run trails from a directory whose path is UTF-8")
    return cwd


def _environment() -> dict[str, str]:
    """This process's environment as the caller's, but for variables that are not text (bytes that
    are not UTF-8 in a name or value cannot cross the socket; no agent needs them from trails)."""
    return {k: v for k, v in os.environ.items() if protocol.encodable(k) and protocol.encodable(v)}
