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

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.scripted_http import JSON as JSON  # re-exported
from tests.fakes.scripted_http import HttpLogEntry as HttpLogEntry  # re-exported
from tests.fakes.scripted_http import Predicate as Predicate  # re-exported
from tests.fakes.scripted_http import ReplyScript, ScriptedHandler, ScriptedServer, serve_main

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


class Script(ReplyScript[Reply]):
    """Scripted chat completions: :class:`ReplyScript` plus ``gate_after`` pacing and ``reply_error``."""

    default_text = DEFAULT_TEXT

    def text_reply(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return Reply.of_text(text, delay=delay, gate=gate)

    def reply_text(
        self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None, gate_after: int = 0
    ) -> Reply:
        return self.reply(Reply.of_text(text, delay=delay, gate=gate, gate_after=gate_after))

    def reply_error(
        self, status: int = 400, message: str = "scripted error", error_type: str = "invalid_request_error"
    ) -> Reply:
        return self.reply(Reply.api_error(status, message, error_type))


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


class _Handler(ScriptedHandler["ScriptedOpenAIServer"]):
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
        if not path.endswith("/chat/completions"):
            owner._log(self, body)
            self._send_json(HTTPStatus.OK, {})
            return
        owner._log(self, body, "main")
        reply = owner.script.next_reply(body)
        owner._pause(reply.delay)
        streaming = bool(body.get("stream")) and reply.status == HTTPStatus.OK
        if reply.gate is not None and not (streaming and reply.gate_after > 0):
            owner._wait_gate(reply.gate)
        model = str(body.get("model", "gpt-test"))
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def send() -> None:
            if reply.status != HTTPStatus.OK:
                self._send_json(reply.status, {"error": reply.error or {"message": "error"}})
            elif streaming:
                self._stream(body, reply, model, cid, created)
            else:
                self._send_json(HTTPStatus.OK, _completion_json(body, reply, model, cid, created))

        self._answer(body, True, send)

    def _stream(self, body: JSON, reply: Reply, model: str, cid: str, created: int) -> None:
        owner = self.server.owner
        self._start_stream("text/event-stream; charset=utf-8")
        self._write_sse(_chunk(cid, created, model, {"role": "assistant", "content": "", "refusal": None}, None))
        held = reply.gate is None
        for offset, piece in _text_pieces(reply.text):
            if not held and reply.gate is not None and offset >= reply.gate_after:
                owner._wait_gate(reply.gate)
                held = True
            self._write_sse(_chunk(cid, created, model, {"content": piece}, None))
            owner._pause(owner.chunk_interval)
        if not held and reply.gate is not None:
            owner._wait_gate(reply.gate)
        self._write_sse(_chunk(cid, created, model, {}, reply.finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = _chunk(cid, created, model, {}, None) | {"choices": [], "usage": _usage(body, reply)}
            self._write_sse(usage)
        self._write_sse("[DONE]")
        self._write_chunk(b"")  # the terminating zero-length chunk


class ScriptedOpenAIServer(ScriptedServer[Script]):
    """Fake OpenAI Chat Completions API on 127.0.0.1 in a background thread. See the module docstring.

    Every chat-completion request is a main request (``requests``); ``side_requests`` stays empty.
    """

    script_class = Script
    handler_class = _Handler
    base_path = "/v1"  # clients expect ``http://127.0.0.1:<port>/v1``
    request_noun = "chat"
    log_kinds_on_timeout = False

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        super().__init__(host, port, verbose=verbose)
        self.chunk_interval = 0.0  # seconds between streamed chunks
        self.models: list[str] = ["gpt-4o"]

    def model_ids(self) -> list[str]:
        with self._cond:
            seen = [str(r["model"]) for r in self.requests if r.get("model")]
        return list(dict.fromkeys([*self.models, *seen]))

    # convenience re-exports of the module helpers
    user_texts = staticmethod(user_texts)
    last_user_text = staticmethod(last_user_text)
    system_text = staticmethod(system_text)
    message_texts = staticmethod(message_texts)


def main(argv: list[str] | None = None) -> None:
    serve_main(argv, "Scripted fake OpenAI Chat Completions API", ScriptedOpenAIServer, last_user_text)


if __name__ == "__main__":
    main()
