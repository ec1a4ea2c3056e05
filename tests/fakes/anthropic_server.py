"""A scripted fake of the Anthropic Messages API for driving the real Claude Code CLI in tests.

Usage::

    with ScriptedAnthropicServer() as server:
        server.script.reply_tool_use("Write", {"file_path": "/tmp/x/a.txt", "content": "hi"})
        server.script.reply_text("done")
        env = make_claude_env(tmp_path, server.base_url)   # tests/fakes/claude_env.py
        ...
        server.wait_for_requests(2, timeout=30)

Requests are split into two kinds:

* **main** requests: turns of the real conversation (the request carries tools and Claude Code's
  "Primary working directory: <path>" line, which 2.1.330 puts in a ``<system-reminder>`` block of the
  first user message rather than in the system prompt). They are recorded in ``server.requests`` and
  answered, in this order, by the first matching rule (``script.on``), the responder callable
  (``script.set_responder``), the next queued reply (``script.reply_*``), or the default text.
* **side** requests: housekeeping calls the CLI makes with a small model and/or without tools
  (quota probe, session title, topic detection, bash command-prefix checks, ...). They are recorded
  in ``server.side_requests`` and answered with a short canned text; they never consume the script.
  (With the env from ``claude_env.make_claude_env`` the pinned CLI 2.1.330 sent none in our runs.)

Every HTTP request (any method/path) is logged in ``server.http_log``; the only non-messages call
seen from 2.1.330 is ``HEAD /api/hello`` (a connectivity probe, skipped when nonessential traffic
is disabled), answered 200. Unknown paths get ``200 {}``.

Run standalone (manual or bench use): ``python -m tests.fakes.anthropic_server --port 8765``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

DEFAULT_TEXT = "ok"
SIDE_TEXT = "ok"
_WORKDIR_RE = re.compile(r"Primary working directory:\s*(\S.*)")


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """One assistant message: content blocks plus stop reason, with optional pacing.

    ``delay`` waits before the first byte is sent; ``gate`` (a ``threading.Event``) holds the
    reply until the test sets it (use it to keep the CLI "busy" deterministically).
    """

    content: list[JSON]
    stop_reason: str = "end_turn"
    delay: float = 0.0
    gate: threading.Event | None = None
    status: int = 200  # != 200: an API error response (see ``Reply.error``)

    @classmethod
    def text(cls, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return cls([{"type": "text", "text": text}], "end_turn", delay, gate)

    @classmethod
    def tool_use(
        cls,
        name: str,
        tool_input: JSON,
        *,
        text: str | None = None,
        tool_id: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> Reply:
        blocks: list[JSON] = []
        if text:
            blocks.append({"type": "text", "text": text})
        blocks.append(
            {
                "type": "tool_use",
                "id": tool_id or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": name,
                "input": tool_input,
            }
        )
        return cls(blocks, "tool_use", delay, gate)

    @classmethod
    def error(
        cls, status: int = 400, message: str = "scripted error", error_type: str = "invalid_request_error"
    ) -> Reply:
        """An API error (``{"type": "error", "error": {...}}`` with HTTP ``status``).

        The CLI retries 429/5xx/529 with backoff (slow). It also retries a 400 several times
        (2.1.330: 6 requests, dropping beta headers), so to surface an error register it as a rule:
        ``script.on(lambda body: True, Reply.error(400, "boom"))``.
        """
        return cls([{"type": "error", "error": {"type": error_type, "message": message}}], status=status)


def _as_reply(value: Reply | str) -> Reply:
    return value if isinstance(value, Reply) else Reply.text(value)


@dataclass
class _Rule:
    predicate: Predicate
    reply: Reply | str | Callable[[JSON], Reply | str | None]
    times: int | None  # None: unlimited


class Script:
    """The queue of scripted replies and the rules consulted before it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._rules: list[_Rule] = []
        self._responder: Callable[[JSON], Reply | str | None] | None = None
        self.default_text = DEFAULT_TEXT

    # queued replies, consumed in order by main-conversation requests
    def reply(self, reply: Reply | str) -> Reply:
        r = _as_reply(reply)
        with self._lock:
            self._queue.append(r)
        return r

    def reply_text(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return self.reply(Reply.text(text, delay=delay, gate=gate))

    def reply_tool_use(
        self,
        name: str,
        tool_input: JSON,
        *,
        text: str | None = None,
        tool_id: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> Reply:
        return self.reply(Reply.tool_use(name, tool_input, text=text, tool_id=tool_id, delay=delay, gate=gate))

    def reply_error(
        self, status: int = 400, message: str = "scripted error", error_type: str = "invalid_request_error"
    ) -> Reply:
        return self.reply(Reply.error(status, message, error_type))

    # rules: checked first, in registration order
    def on(
        self,
        predicate: Predicate,
        reply: Reply | str | Callable[[JSON], Reply | str | None],
        *,
        times: int | None = None,
    ) -> None:
        """Answer main requests matching ``predicate(body)`` with ``reply``.

        ``reply`` may be a ``Reply``, a string, or a callable ``body -> Reply | str | None``
        (``None`` falls through to the next rule / the queue). ``times`` limits how often it fires.
        """
        with self._lock:
            self._rules.append(_Rule(predicate, reply, times))

    def set_responder(self, responder: Callable[[JSON], Reply | str | None] | None) -> None:
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

    def next_reply(self, body: JSON) -> Reply:
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
                return _as_reply(value)
            if self._responder is not None:
                value = self._responder(body)
                if value is not None:
                    return _as_reply(value)
            if self._queue:
                return self._queue.popleft()
            return Reply.text(self.default_text)


# --------------------------------------------------------------------------- request helpers


def system_text(body: JSON) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system if isinstance(b, dict))
    return ""


def _block_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"]
    return []


def user_texts(body: JSON, *, include_reminders: bool = False) -> list[str]:
    """Text of every user message in the request, in order (tool results are not text).

    Claude Code injects ``<system-reminder>`` text blocks into user turns; they are left out
    unless ``include_reminders`` is true.
    """
    texts: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        for text in _block_texts(message.get("content")):
            if include_reminders or not text.lstrip().startswith("<system-reminder>"):
                texts.append(text)
    return texts


def last_user_text(body: JSON) -> str:
    """The last non-reminder user text of the request ('' if none)."""
    texts = user_texts(body)
    return texts[-1] if texts else ""


def tool_results(body: JSON) -> list[JSON]:
    """All tool_result blocks sent in user messages of the request."""
    out: list[JSON] = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            out.extend(b for b in content if isinstance(b, dict) and b.get("type") == "tool_result")
    return out


def assistant_texts(body: JSON) -> list[str]:
    """Text of every assistant message in the request (earlier replies sent back as history)."""
    texts: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") == "assistant":
            texts.extend(_block_texts(message.get("content")))
    return texts


def session_id(body: JSON) -> str | None:
    """The CLI's session id, taken from ``metadata.user_id`` (a JSON string) of the request."""
    raw = (body.get("metadata") or {}).get("user_id")
    if not isinstance(raw, str):
        return None
    try:
        value = json.loads(raw).get("session_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def working_directory(body: JSON) -> str | None:
    """The path from Claude Code's "Primary working directory: <path>" line, if any.

    Depending on the CLI version the line is in the system prompt or in a ``<system-reminder>``
    block of the first user message; both are searched.
    """
    for text in [system_text(body), *user_texts(body, include_reminders=True)]:
        match = _WORKDIR_RE.search(text)
        if match:
            return match.group(1).strip()
    return None


def is_main_request(body: JSON) -> bool:
    """True for a turn of the real conversation, False for the CLI's side requests."""
    return bool(body.get("tools")) and working_directory(body) is not None


# --------------------------------------------------------------------------- wire format


def _usage(input_tokens: int = 10, output_tokens: int = 1) -> JSON:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _message_json(reply: Reply, model: str, msg_id: str) -> JSON:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": reply.content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": _usage(output_tokens=5),
    }


def _event(kind: str, **fields: Any) -> tuple[str, JSON]:
    return kind, {"type": kind, **fields}


def _sse_events(reply: Reply, model: str, msg_id: str) -> Iterator[tuple[str, JSON]]:
    """The SSE events of one streamed message, in the order the real API sends them."""
    start = _message_json(reply, model, msg_id) | {"content": [], "stop_reason": None, "usage": _usage()}
    yield _event("message_start", message=start)
    yield _event("ping")
    for index, block in enumerate(reply.content):
        if block["type"] == "text":
            yield _event("content_block_start", index=index, content_block={"type": "text", "text": ""})
            text = block["text"]
            for i in range(0, max(len(text), 1), 40):
                delta = {"type": "text_delta", "text": text[i : i + 40]}
                yield _event("content_block_delta", index=index, delta=delta)
        elif block["type"] == "tool_use":
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            yield _event("content_block_start", index=index, content_block=head)
            raw = json.dumps(block["input"])
            for i in range(0, len(raw), 64):
                delta = {"type": "input_json_delta", "partial_json": raw[i : i + 64]}
                yield _event("content_block_delta", index=index, delta=delta)
        else:
            raise ValueError(f"unsupported block type {block['type']!r}")
        yield _event("content_block_stop", index=index)
    delta = {"stop_reason": reply.stop_reason, "stop_sequence": None}
    yield _event("message_delta", delta=delta, usage={"output_tokens": 5})
    yield _event("message_stop")


def _approx_tokens(body: JSON) -> int:
    return max(1, len(json.dumps(body.get("messages", []))) // 4)


# --------------------------------------------------------------------------- server


@dataclass
class HttpLogEntry:
    method: str
    path: str
    body: JSON | None
    kind: str  # "main", "side" or "other"
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

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

    def _send_json(self, status: int, payload: JSON) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.server.owner._log(self, None, "other")
        self._send_json(HTTPStatus.OK, {})

    def do_GET(self) -> None:
        self.server.owner._log(self, None, "other")
        path = urlsplit(self.path).path
        if path.startswith("/v1/models"):
            self._send_json(HTTPStatus.OK, {"data": [], "has_more": False, "first_id": None, "last_id": None})
        else:
            self._send_json(HTTPStatus.OK, {})

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_json() or {}
        path = urlsplit(self.path).path
        if path == "/v1/messages/count_tokens":
            owner._log(self, body, "other")
            self._send_json(HTTPStatus.OK, {"input_tokens": _approx_tokens(body)})
            return
        if path != "/v1/messages":
            owner._log(self, body, "other")
            self._send_json(HTTPStatus.OK, {})
            return
        main = is_main_request(body)
        owner._log(self, body, "main" if main else "side")
        reply = owner.script.next_reply(body) if main else Reply.text(owner.side_text)
        if reply.gate is not None:
            deadline = time.monotonic() + owner.gate_timeout
            while not reply.gate.wait(0.1) and not owner._stopping.is_set() and time.monotonic() < deadline:
                pass
        if reply.delay:
            owner._stopping.wait(reply.delay)
        model = str(body.get("model", "claude-test"))
        msg_id = f"msg_{uuid.uuid4().hex[:24]}"
        try:
            if reply.status != HTTPStatus.OK:
                self._send_json(reply.status, {"type": "error", "error": reply.content[0]["error"]})
            elif body.get("stream"):
                self._stream(reply, model, msg_id)
            else:
                self._send_json(HTTPStatus.OK, _message_json(reply, model, msg_id))
        except (BrokenPipeError, ConnectionResetError):  # client gave up (e.g. user pressed Esc)
            self.close_connection = True
        owner._record_done(body, main)

    def _stream(self, reply: Reply, model: str, msg_id: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        for event, data in _sse_events(reply, model, msg_id):
            chunk = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedAnthropicServer


class ScriptedAnthropicServer:
    """Fake Anthropic API on 127.0.0.1 in a background thread. See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.script = Script()
        self.side_text = SIDE_TEXT
        self.gate_timeout = 120.0
        self.verbose = verbose
        self.requests: list[JSON] = []  # main-conversation request bodies, in arrival order
        self.side_requests: list[JSON] = []
        self.http_log: list[HttpLogEntry] = []
        self._answered: list[JSON] = []  # main requests whose reply has been fully sent
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # lifecycle
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ScriptedAnthropicServer:
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

    def __enter__(self) -> ScriptedAnthropicServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # recording
    def _log(self, handler: _Handler, body: JSON | None, kind: str) -> None:
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
                raise TimeoutError(
                    f"expected {n} main requests within {timeout}s, got {len(target)}; "
                    f"http log: {[(e.method, e.path, e.kind) for e in self.http_log]}"
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
                raise TimeoutError(f"no matching main request within {timeout}s ({len(self.requests)} seen)")
        return found[0]

    # convenience re-exports of the module helpers
    user_texts = staticmethod(user_texts)
    last_user_text = staticmethod(last_user_text)
    assistant_texts = staticmethod(assistant_texts)
    session_id = staticmethod(session_id)
    tool_results = staticmethod(tool_results)
    working_directory = staticmethod(working_directory)
    system_text = staticmethod(system_text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted fake Anthropic Messages API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--echo", action="store_true", help="reply to each prompt with 'echo: <prompt>'")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each main reply")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    server = ScriptedAnthropicServer(args.host, args.port, verbose=args.verbose)
    if args.echo or args.delay:
        delay = args.delay

        def respond(body: JSON) -> Reply:
            text = f"echo: {last_user_text(body)}" if args.echo else DEFAULT_TEXT
            return Reply.text(text, delay=delay)

        server.script.set_responder(respond)
    server.start()
    print(f"listening on http://{args.host}:{server.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
