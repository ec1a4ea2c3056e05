"""The machinery shared by the scripted fake model APIs (tests/fakes/*_server.py).

Each fake is a thin module over this one with only its own wire format:

* :class:`ReplyScript`: the thread-safe queue of scripted replies and the rules / responder consulted
  before it (a module's ``Script`` adds its ``reply_*`` shortcuts and says how a bare string becomes a reply).
* :class:`ScriptedServer`: a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0: a free one) in a background
  thread with ``start``/``stop``/context manager, the request recording (``http_log``, ``requests``,
  ``side_requests``) and the ``wait_for_requests`` / ``wait_for`` helpers.
* :class:`ScriptedHandler`: the request handler base (quiet logging, JSON in/out, chunked streaming).
* :func:`serve_main`: the ``python -m tests.fakes.<server> --port N --echo`` entry point.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

R = TypeVar("R")
S = TypeVar("S", bound="ScriptedServer[Any]")
Sc = TypeVar("Sc", bound="ReplyScript[Any]")


def new_id(prefix: str) -> str:
    """``<prefix>_<24 hex digits>``, the id shape of the real APIs (``req_...``, ``msg_...``)."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


# --------------------------------------------------------------------------- the reply script


@dataclass
class _Rule(Generic[R]):
    predicate: Predicate
    reply: R | str | Callable[[JSON], R | str | None]
    times: int | None  # None: unlimited


class ReplyScript(Generic[R]):
    """The queue of scripted replies and the rules consulted before it (thread-safe).

    A main request is answered by the first matching rule (:meth:`on`), the responder
    (:meth:`set_responder`), the next queued reply (:meth:`reply`), or ``default_text``.
    Subclasses define :meth:`text_reply` (how a bare string becomes a reply) and their ``reply_*`` shortcuts.
    """

    default_text = "ok"  # the answer when no rule, responder or queued reply applies

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[R] = deque()
        self._rules: list[_Rule[R]] = []
        self._responder: Callable[[JSON], R | str | None] | None = None

    def text_reply(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> R:
        raise NotImplementedError

    def _as_reply(self, value: R | str) -> R:
        return self.text_reply(value) if isinstance(value, str) else value

    # queued replies, consumed in order by main-conversation requests
    def reply(self, reply: R | str) -> R:
        r = self._as_reply(reply)
        with self._lock:
            self._queue.append(r)
        return r

    def reply_text(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> R:
        return self.reply(self.text_reply(text, delay=delay, gate=gate))

    # rules: checked first, in registration order
    def on(
        self,
        predicate: Predicate,
        reply: R | str | Callable[[JSON], R | str | None],
        *,
        times: int | None = None,
    ) -> None:
        """Answer main requests matching ``predicate(body)`` with ``reply``.

        ``reply`` may be a ``Reply``, a string, or a callable ``body -> Reply | str | None``
        (``None`` falls through to the next rule / the queue). ``times`` limits how often it fires.
        """
        with self._lock:
            self._rules.append(_Rule(predicate, reply, times))

    def set_responder(self, responder: Callable[[JSON], R | str | None] | None) -> None:
        """A catch-all callable consulted after the rules and before the queue."""
        with self._lock:
            self._responder = responder

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self._responder = None

    def next_reply(self, body: JSON) -> R:
        with self._lock:
            for rule in list(self._rules):
                if not rule.predicate(body):
                    continue
                value = rule.reply(body) if callable(rule.reply) else rule.reply
                if value is None:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                return self._as_reply(value)
            if self._responder is not None:
                value = self._responder(body)
                if value is not None:
                    return self._as_reply(value)
            if self._queue:
                return self._queue.popleft()
            return self.text_reply(self.default_text)


# --------------------------------------------------------------------------- the server


@dataclass
class HttpLogEntry:
    method: str
    path: str
    body: JSON | None
    kind: str  # "main", "side" or "other"
    headers: dict[str, str] = field(default_factory=dict)


class OwnedHTTPServer(ThreadingHTTPServer, Generic[S]):
    daemon_threads = True
    owner: S


class ScriptedHandler(BaseHTTPRequestHandler, Generic[S]):
    """Handler base: quiet unless ``verbose``, JSON bodies in and out, chunked (SSE) streaming."""

    protocol_version = "HTTP/1.1"
    server: OwnedHTTPServer[S]
    json_content_type = "application/json"
    request_id_header: str | None = "x-request-id"  # None: no request id header

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        if self.server.owner.verbose:
            super().log_message(format, *args)

    def _read_json(self) -> JSON | None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else {"_": value}

    def _send_request_id(self) -> None:
        if self.request_id_header:
            self.send_header(self.request_id_header, new_id("req"))

    def _send_json(self, status: int, payload: JSON) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", self.json_content_type)
        self.send_header("Content-Length", str(len(data)))
        self._send_request_id()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
            self.wfile.flush()

    def _start_stream(self, content_type: str = "text/event-stream") -> None:
        """Send the headers of a chunked 200 answer (write the body with :meth:`_write_chunk`)."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._send_request_id()
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        """One chunk of a chunked body; ``b""`` is the terminating zero-length chunk."""
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _write_sse(self, data: JSON | str, event: str | None = None) -> None:
        """One server-sent event (``event: ...`` line only when ``event`` is given) as a chunk."""
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {event}\n" if event is not None else ""
        self._write_chunk(f"{head}data: {text}\n\n".encode())

    def _answer(self, body: JSON, main: bool, send: Callable[[], None]) -> None:
        """Run ``send`` (tolerating a client that hung up), then record the request as answered."""
        try:
            send()
        except (BrokenPipeError, ConnectionResetError):  # client gave up (e.g. user pressed Esc)
            self.close_connection = True
        self.server.owner._record_done(body, main)


class ScriptedServer(Generic[Sc]):
    """A fake API on 127.0.0.1 in a background thread: lifecycle, recording and waiting.

    Subclasses set ``script_class``, ``handler_class`` (their :class:`ScriptedHandler`), ``base_path``
    (appended to ``base_url``), ``side_text`` (the canned answer to side requests) and ``request_noun``
    (used in timeout messages).
    """

    script_class: type[Sc]
    handler_class: type[ScriptedHandler[Any]]
    side_text = "ok"
    base_path = ""
    request_noun = "main"
    log_kinds_on_timeout = True  # list (method, path, kind) rather than (method, path) on a timeout

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.script = self.script_class()
        self.gate_timeout = 120.0
        self.verbose = verbose
        self.requests: list[JSON] = []  # main request bodies, in arrival order
        self.side_requests: list[JSON] = []  # housekeeping requests (never consume the script)
        self.http_log: list[HttpLogEntry] = []
        self._answered: list[JSON] = []  # main requests whose reply has been fully sent
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._httpd: OwnedHTTPServer[Any] = OwnedHTTPServer((host, port), self.handler_class)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # lifecycle
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # pacing
    def _wait_gate(self, gate: threading.Event) -> None:
        """Hold until ``gate`` is set, the server stops, or ``gate_timeout`` passes."""
        deadline = time.monotonic() + self.gate_timeout
        while not gate.wait(0.1) and not self._stopping.is_set() and time.monotonic() < deadline:
            pass

    def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` (cut short when the server stops)."""
        if seconds:
            self._stopping.wait(seconds)

    # recording
    def _log(self, handler: BaseHTTPRequestHandler, body: JSON | None, kind: str = "other") -> None:
        entry = HttpLogEntry(handler.command, handler.path, body, kind, dict(handler.headers.items()))
        with self._cond:
            self.http_log.append(entry)
            if kind == "main" and body is not None:
                self.requests.append(body)
            elif kind == "side" and body is not None:
                self.side_requests.append(body)
            self._cond.notify_all()

    def _record_done(self, body: JSON, main: bool) -> None:
        with self._cond:
            if main:
                self._answered.append(body)
            self._cond.notify_all()

    def wait_for_requests(self, n: int, timeout: float = 30.0, *, answered: bool = False) -> list[JSON]:
        """Block until at least ``n`` main requests arrived (or, with ``answered``, were replied to)."""
        target = self._answered if answered else self.requests
        with self._cond:
            if not self._cond.wait_for(lambda: len(target) >= n, timeout=timeout):
                log = [(e.method, e.path, e.kind) if self.log_kinds_on_timeout else (e.method, e.path)
                       for e in self.http_log]
                raise TimeoutError(
                    f"expected {n} {self.request_noun} requests within {timeout}s, got {len(target)}; "
                    f"http log: {log}"
                )
            return list(target)

    def wait_for(self, predicate: Callable[[JSON], bool], timeout: float = 30.0) -> JSON:
        """Block until a main request satisfying ``predicate`` has arrived; return it."""
        found: list[JSON] = []

        def check() -> bool:
            found[:] = [r for r in self.requests if predicate(r)][:1]
            return bool(found)

        with self._cond:
            if not self._cond.wait_for(check, timeout=timeout):
                raise TimeoutError(
                    f"no matching {self.request_noun} request within {timeout}s ({len(self.requests)} seen)"
                )
        return found[0]


# --------------------------------------------------------------------------- standalone use


def serve_main(
    argv: list[str] | None,
    description: str,
    server_class: type[ScriptedServer[Any]],
    last_user_text: Callable[[JSON], str],
    *,
    delay_help: str = "seconds to wait before each reply",
) -> None:
    """Parse ``--host --port --echo --delay --verbose``, serve until Ctrl-C.

    ``--echo`` answers each prompt with ``echo: <last user text>``; ``--delay`` paces every main reply.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--echo", action="store_true", help="reply to each prompt with 'echo: <prompt>'")
    parser.add_argument("--delay", type=float, default=0.0, help=delay_help)
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    server = server_class(args.host, args.port, verbose=args.verbose)
    if args.echo or args.delay:
        delay = args.delay
        script = server.script
        default = script.default_text

        def respond(body: JSON) -> Any:
            text = f"echo: {last_user_text(body)}" if args.echo else default
            return script.text_reply(text, delay=delay)

        server.script.set_responder(respond)
    server.start()
    print(f"listening on http://{args.host}:{server.port}{server.base_path}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
