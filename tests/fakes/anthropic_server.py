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

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.scripted_http import JSON as JSON  # re-exported
from tests.fakes.scripted_http import HttpLogEntry as HttpLogEntry  # re-exported
from tests.fakes.scripted_http import Predicate as Predicate  # re-exported
from tests.fakes.scripted_http import ReplyScript, ScriptedHandler, ScriptedServer, new_id, serve_main

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
                "id": tool_id or new_id("toolu"),
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


class Script(ReplyScript[Reply]):
    """Scripted Messages-API replies: :class:`ReplyScript` plus ``reply_tool_use`` / ``reply_error``."""

    default_text = DEFAULT_TEXT

    def text_reply(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return Reply.text(text, delay=delay, gate=gate)

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


class _Handler(ScriptedHandler["ScriptedAnthropicServer"]):
    request_id_header = "request-id"

    def do_HEAD(self) -> None:
        self.server.owner._log(self, None)
        self._send_json(HTTPStatus.OK, {})

    def do_GET(self) -> None:
        self.server.owner._log(self, None)
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
            owner._log(self, body)
            self._send_json(HTTPStatus.OK, {"input_tokens": _approx_tokens(body)})
            return
        if path != "/v1/messages":
            owner._log(self, body)
            self._send_json(HTTPStatus.OK, {})
            return
        main = is_main_request(body)
        owner._log(self, body, "main" if main else "side")
        reply = owner.script.next_reply(body) if main else Reply.text(owner.side_text)
        if reply.gate is not None:
            owner._wait_gate(reply.gate)
        owner._pause(reply.delay)
        model = str(body.get("model", "claude-test"))
        msg_id = new_id("msg")

        def send() -> None:
            if reply.status != HTTPStatus.OK:
                self._send_json(reply.status, {"type": "error", "error": reply.content[0]["error"]})
            elif body.get("stream"):
                self._start_stream()
                for event, data in _sse_events(reply, model, msg_id):
                    self._write_sse(data, event)
                self._write_chunk(b"")
            else:
                self._send_json(HTTPStatus.OK, _message_json(reply, model, msg_id))

        self._answer(body, main, send)


class ScriptedAnthropicServer(ScriptedServer[Script]):
    """Fake Anthropic API on 127.0.0.1 in a background thread. See the module docstring."""

    script_class = Script
    handler_class = _Handler
    side_text = SIDE_TEXT

    # convenience re-exports of the module helpers
    user_texts = staticmethod(user_texts)
    last_user_text = staticmethod(last_user_text)
    assistant_texts = staticmethod(assistant_texts)
    session_id = staticmethod(session_id)
    tool_results = staticmethod(tool_results)
    working_directory = staticmethod(working_directory)
    system_text = staticmethod(system_text)


def main(argv: list[str] | None = None) -> None:
    serve_main(
        argv, "Scripted fake Anthropic Messages API", ScriptedAnthropicServer,
        last_user_text, delay_help="seconds to wait before each main reply",
    )


if __name__ == "__main__":
    main()
