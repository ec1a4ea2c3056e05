"""A scripted fake of the OpenAI Chat Completions API for driving real CLIs (e.g. Aider) in tests.

Usage::

    with ScriptedOpenAIServer() as server:
        server.script.reply_text("hello.py\\n```python\\nprint('hi')\\n```")
        env = {"OPENAI_API_BASE": server.base_url, "OPENAI_API_KEY": "sk-dummy"}   # base_url ends in /v1
        ...
        server.wait_for_requests(1, timeout=30)

Every ``POST .../chat/completions`` (with or without the ``/v1`` prefix) is recorded in
``server.requests`` and answered, in this order, by the first matching rule (``script.on``), the
responder callable (``script.set_responder``), the next queued reply (``script.reply_*``), or the
default text. With ``"stream": true`` in the body the answer is an SSE stream of
``chat.completion.chunk`` objects (``data: {...}`` lines, then ``data: [DONE]``), as the real API
sends it; otherwise one ``chat.completion`` object. A usage chunk is added when the request asks for
it (``stream_options.include_usage``).

``GET .../models`` lists the models seen in requests plus ``server.models``. Every HTTP request is
logged in ``server.http_log``; unknown paths get ``200 {}``.

Pacing: ``delay`` waits before the reply; ``gate`` (a ``threading.Event``) holds it until the test
sets the event, either before the first byte (``gate_after=0``, the client shows its "waiting" state)
or after ``gate_after`` characters of the text were streamed (the client shows a partial reply).

Run standalone (manual use): ``python -m tests.fakes.openai_chat_server --port 8766 --echo``.
"""

from __future__ import annotations

import argparse
import json
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
CHUNK_CHARS = 24  # characters of text per streamed chunk


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """One assistant message (plain text) with a finish reason and optional pacing."""

    text: str
    finish_reason: str = "stop"
    delay: float = 0.0
    gate: threading.Event | None = None
    gate_after: int = 0  # characters streamed before waiting on ``gate`` (0: before anything is sent)
    status: int = 200  # != 200: an API error response (see ``Reply.error``)
    error: JSON | None = None

    @classmethod
    def of_text(
        cls, text: str, *, delay: float = 0.0, gate: threading.Event | None = None, gate_after: int = 0
    ) -> Reply:
        return cls(text, "stop", delay, gate, gate_after)

    @classmethod
    def api_error(
        cls, status: int = 400, message: str = "scripted error", error_type: str = "invalid_request_error"
    ) -> Reply:
        """An API error (``{"error": {"message", "type", ...}}`` with HTTP ``status``)."""
        return cls("", status=status, error={"message": message, "type": error_type, "param": None, "code": None})


def _as_reply(value: Reply | str) -> Reply:
    return value if isinstance(value, Reply) else Reply.of_text(value)


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

    def reply(self, reply: Reply | str) -> Reply:
        r = _as_reply(reply)
        with self._lock:
            self._queue.append(r)
        return r

    def reply_text(
        self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None, gate_after: int = 0
    ) -> Reply:
        return self.reply(Reply.of_text(text, delay=delay, gate=gate, gate_after=gate_after))

    def reply_error(
        self, status: int = 400, message: str = "scripted error", error_type: str = "invalid_request_error"
    ) -> Reply:
        return self.reply(Reply.api_error(status, message, error_type))

    def on(
        self,
        predicate: Predicate,
        reply: Reply | str | Callable[[JSON], Reply | str | None],
        *,
        times: int | None = None,
    ) -> None:
        """Answer requests matching ``predicate(body)`` with ``reply`` (checked before the queue).

        ``reply`` may be a ``Reply``, a string, or a callable ``body -> Reply | str | None``
        (``None`` falls through). ``times`` limits how often the rule fires.
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
            return Reply.of_text(self.default_text)


# --------------------------------------------------------------------------- request helpers


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, {"type": "image_url", ...}]
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def message_texts(body: JSON, role: str) -> list[str]:
    """Text of every message of ``role`` (system, user, assistant) in the request, in order."""
    return [_content_text(m.get("content")) for m in body.get("messages", []) if m.get("role") == role]


def user_texts(body: JSON) -> list[str]:
    return message_texts(body, "user")


def last_user_text(body: JSON) -> str:
    """The last user message's text ('' if none)."""
    texts = user_texts(body)
    return texts[-1] if texts else ""


def system_text(body: JSON) -> str:
    return "\n".join(message_texts(body, "system"))


# --------------------------------------------------------------------------- wire format


def _usage(body: JSON, reply: Reply) -> JSON:
    prompt = max(1, len(json.dumps(body.get("messages", []))) // 4)
    completion = max(1, len(reply.text) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _completion_json(body: JSON, reply: Reply, model: str, cid: str, created: int) -> JSON:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text, "refusal": None},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": _usage(body, reply),
    }


def _chunk(cid: str, created: int, model: str, delta: JSON, finish: str | None) -> JSON:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _text_pieces(text: str) -> Iterator[tuple[int, str]]:
    """(offset, piece) of the reply text, CHUNK_CHARS at a time."""
    for i in range(0, len(text), CHUNK_CHARS):
        yield i, text[i : i + CHUNK_CHARS]


# --------------------------------------------------------------------------- server


@dataclass
class HttpLogEntry:
    method: str
    path: str
    body: JSON | None
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
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self.server.owner._log(self, None)
        self._send_json(HTTPStatus.OK, {})

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._log(self, None)
        path = urlsplit(self.path).path.rstrip("/")
        if path.endswith("/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "scripted"} for m in owner.model_ids()]
            self._send_json(HTTPStatus.OK, {"object": "list", "data": data})
        else:
            self._send_json(HTTPStatus.OK, {})

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_json() or {}
        path = urlsplit(self.path).path.rstrip("/")
        owner._log(self, body)
        if not path.endswith("/chat/completions"):
            self._send_json(HTTPStatus.OK, {})
            return
        owner._record_request(body)
        reply = owner.script.next_reply(body)
        if reply.delay:
            owner._stopping.wait(reply.delay)
        streaming = bool(body.get("stream")) and reply.status == HTTPStatus.OK
        if reply.gate is not None and not (streaming and reply.gate_after > 0):
            owner._wait_gate(reply.gate)
        model = str(body.get("model", "gpt-test"))
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        try:
            if reply.status != HTTPStatus.OK:
                self._send_json(reply.status, {"error": reply.error or {"message": "error"}})
            elif streaming:
                self._stream(body, reply, model, cid, created)
            else:
                self._send_json(HTTPStatus.OK, _completion_json(body, reply, model, cid, created))
        except (BrokenPipeError, ConnectionResetError):  # client gave up (e.g. user pressed Ctrl-C)
            self.close_connection = True
        owner._record_done(body)

    def _write_chunk(self, payload: bytes) -> None:
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def _send_event(self, data: JSON | str) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        self._write_chunk(f"data: {text}\n\n".encode())

    def _stream(self, body: JSON, reply: Reply, model: str, cid: str, created: int) -> None:
        owner = self.server.owner
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:24]}")
        self.end_headers()
        self._send_event(_chunk(cid, created, model, {"role": "assistant", "content": "", "refusal": None}, None))
        held = reply.gate is None
        for offset, piece in _text_pieces(reply.text):
            if not held and reply.gate is not None and offset >= reply.gate_after:
                owner._wait_gate(reply.gate)
                held = True
            self._send_event(_chunk(cid, created, model, {"content": piece}, None))
            if owner.chunk_interval:
                owner._stopping.wait(owner.chunk_interval)
        if not held and reply.gate is not None:
            owner._wait_gate(reply.gate)
        self._send_event(_chunk(cid, created, model, {}, reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = _chunk(cid, created, model, {}, None) | {"choices": [], "usage": _usage(body, reply)}
            self._send_event(usage)
        self._send_event("[DONE]")
        self._write_chunk(b"")  # the terminating zero-length chunk


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedOpenAIServer


class ScriptedOpenAIServer:
    """Fake OpenAI Chat Completions API on 127.0.0.1 in a background thread. See the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.script = Script()
        self.gate_timeout = 120.0
        self.chunk_interval = 0.0  # seconds between streamed chunks
        self.verbose = verbose
        self.models: list[str] = ["gpt-4o"]
        self.requests: list[JSON] = []  # chat-completion request bodies, in arrival order
        self.http_log: list[HttpLogEntry] = []
        self._answered: list[JSON] = []  # requests whose reply has been fully sent
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
        """The API base URL clients expect (``http://127.0.0.1:<port>/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ScriptedOpenAIServer:
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

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # recording
    def model_ids(self) -> list[str]:
        with self._cond:
            seen = [str(r["model"]) for r in self.requests if r.get("model")]
        return list(dict.fromkeys([*self.models, *seen]))

    def _wait_gate(self, gate: threading.Event) -> None:
        deadline = time.monotonic() + self.gate_timeout
        while not gate.wait(0.1) and not self._stopping.is_set() and time.monotonic() < deadline:
            pass

    def _log(self, handler: _Handler, body: JSON | None) -> None:
        entry = HttpLogEntry(handler.command, handler.path, body, dict(handler.headers.items()))
        with self._cond:
            self.http_log.append(entry)
            self._cond.notify_all()

    def _record_request(self, body: JSON) -> None:
        with self._cond:
            self.requests.append(body)
            self._cond.notify_all()

    def _record_done(self, body: JSON) -> None:
        with self._cond:
            self._answered.append(body)
            self._cond.notify_all()

    def wait_for_requests(self, n: int, timeout: float = 30.0, *, answered: bool = False) -> list[JSON]:
        """Block until at least ``n`` chat requests arrived (or, with ``answered``, were replied to)."""
        target = self._answered if answered else self.requests
        with self._cond:
            if not self._cond.wait_for(lambda: len(target) >= n, timeout=timeout):
                raise TimeoutError(
                    f"expected {n} chat requests within {timeout}s, got {len(target)}; "
                    f"http log: {[(e.method, e.path) for e in self.http_log]}"
                )
            return list(target)

    def wait_for(self, predicate: Callable[[JSON], bool], timeout: float = 30.0) -> JSON:
        """Block until a chat request satisfying ``predicate`` has arrived; return it."""
        found: list[JSON] = []

        def check() -> bool:
            found[:] = [r for r in self.requests if predicate(r)][:1]
            return bool(found)

        with self._cond:
            if not self._cond.wait_for(check, timeout=timeout):
                raise TimeoutError(f"no matching chat request within {timeout}s ({len(self.requests)} seen)")
        return found[0]

    # convenience re-exports of the module helpers
    user_texts = staticmethod(user_texts)
    last_user_text = staticmethod(last_user_text)
    system_text = staticmethod(system_text)
    message_texts = staticmethod(message_texts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted fake OpenAI Chat Completions API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--echo", action="store_true", help="reply to each prompt with 'echo: <prompt>'")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each reply")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    server = ScriptedOpenAIServer(args.host, args.port, verbose=args.verbose)
    if args.echo or args.delay:
        delay = args.delay

        def respond(body: JSON) -> Reply:
            text = f"echo: {last_user_text(body)}" if args.echo else DEFAULT_TEXT
            return Reply.of_text(text, delay=delay)

        server.script.set_responder(respond)
    server.start()
    print(f"listening on {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
