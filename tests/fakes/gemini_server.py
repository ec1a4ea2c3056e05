"""A scripted fake of the Gemini API (Generative Language API) for driving the real Gemini CLI in tests.

Usage::

    with ScriptedGeminiServer() as server:
        server.script.reply_function_call("write_file", {"file_path": "/tmp/x/a.txt", "content": "hi"})
        server.script.reply_text("done")
        env = {"GOOGLE_GEMINI_BASE_URL": server.base_url, "GEMINI_API_KEY": "test-key", ...}
        ...
        server.wait_for_requests(2, timeout=30)

The wire protocol is the public one of ``generativelanguage.googleapis.com`` as the ``@google/genai``
SDK speaks it:

* ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` with a ``GenerateContentRequest``
  (``contents``, ``systemInstruction``, ``tools``, ``generationConfig``) is answered with
  ``text/event-stream`` events ``data: <GenerateContentResponse JSON>``; each response carries
  ``candidates[0].content.parts`` (``{"text": ...}`` or ``{"functionCall": {"name", "args"}}``), the
  last one a ``finishReason`` and ``usageMetadata``.
* ``POST /v1beta/models/{model}:generateContent`` gets one ``GenerateContentResponse``.
* ``POST /v1beta/models/{model}:countTokens`` gets ``{"totalTokens": n}``; ``embedContent`` a small vector.
* Errors are ``{"error": {"code", "message", "status"}}`` with the HTTP status.

Requests are split into two kinds:

* **main** requests: turns of the real conversation (a streamed request that carries ``tools``).
  They are recorded in ``server.requests`` and answered, in this order, by the first matching rule
  (``script.on``), the responder callable (``script.set_responder``), the next queued reply
  (``script.reply_*``), or the default text.
* **side** requests: housekeeping calls (model routing, next-speaker checks, summaries, ...: no tools
  and/or not streamed). They are recorded in ``server.side_requests`` and never consume the script.
  When the request asks for JSON (``generationConfig.responseJsonSchema`` / ``responseSchema``) the
  answer is a minimal object built from the schema (an enum takes ``"user"`` if offered, else its
  first value), otherwise a short canned text.

Every HTTP request (any method/path) is logged in ``server.http_log``; unknown paths get ``200 {}``.

Run standalone (manual use): ``python -m tests.fakes.gemini_server --port 8766 --echo``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.scripted_http import JSON as JSON  # re-exported
from tests.fakes.scripted_http import HttpLogEntry as HttpLogEntry  # re-exported
from tests.fakes.scripted_http import Predicate as Predicate  # re-exported
from tests.fakes.scripted_http import ReplyScript, ScriptedHandler, ScriptedServer, serve_main

DEFAULT_TEXT = "ok"
SIDE_TEXT = "ok"
MODEL_VERSION = "gemini-2.5-flash"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                 500: "INTERNAL", 503: "UNAVAILABLE"}


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """One model turn: content parts plus finish reason, with optional pacing.

    ``delay`` waits before the first byte is sent; ``gate`` (a ``threading.Event``) holds the
    reply until the test sets it (use it to keep the CLI "busy" deterministically).
    """

    parts: list[JSON]
    finish_reason: str = "STOP"
    delay: float = 0.0
    gate: threading.Event | None = None
    status: int = 200  # != 200: an API error response (see ``Reply.error``)
    message: str = ""  # the error message when ``status`` != 200

    @classmethod
    def text(cls, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return cls([{"text": text}], "STOP", delay, gate)

    @classmethod
    def function_call(
        cls,
        name: str,
        args: JSON,
        *,
        text: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> Reply:
        """A call of the CLI's tool ``name`` (e.g. ``run_shell_command``, ``write_file``, ``replace``)."""
        parts: list[JSON] = []
        if text:
            parts.append({"text": text})
        parts.append({"functionCall": {"name": name, "args": args}})
        return cls(parts, "STOP", delay, gate)

    @classmethod
    def error(cls, status: int = 400, message: str = "scripted error") -> Reply:
        """An API error (``{"error": {"code", "message", "status"}}`` with HTTP ``status``).

        The CLI retries 429/5xx with backoff (slow); register a 400 as a rule to surface it at once.
        """
        return cls([], "STOP", status=status, message=message)


class Script(ReplyScript[Reply]):
    """Scripted Gemini turns: :class:`ReplyScript` plus ``reply_function_call`` / ``reply_error``."""

    default_text = DEFAULT_TEXT

    def text_reply(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return Reply.text(text, delay=delay, gate=gate)

    def reply_function_call(
        self,
        name: str,
        args: JSON,
        *,
        text: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> Reply:
        return self.reply(Reply.function_call(name, args, text=text, delay=delay, gate=gate))

    def reply_error(self, status: int = 400, message: str = "scripted error") -> Reply:
        return self.reply(Reply.error(status, message))


# --------------------------------------------------------------------------- request helpers


def system_text(body: JSON) -> str:
    """Text of the request's ``systemInstruction`` (a Content, or a bare string)."""
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, str):
        return system
    if isinstance(system, dict):
        return "\n".join(p.get("text", "") for p in system.get("parts", []) if isinstance(p, dict))
    return ""


def _parts(body: JSON, role: str) -> Iterator[JSON]:
    for content in body.get("contents", []):
        if isinstance(content, dict) and content.get("role", "user") == role:
            yield from (p for p in content.get("parts", []) if isinstance(p, dict))


def user_texts(body: JSON) -> list[str]:
    """Text parts of every user turn, in order (function responses are not text)."""
    return [p["text"] for p in _parts(body, "user") if isinstance(p.get("text"), str)]


def last_user_text(body: JSON) -> str:
    """The text of the last user turn that has text ('' if none)."""
    texts = user_texts(body)
    return texts[-1] if texts else ""


def function_responses(body: JSON) -> list[JSON]:
    """All ``functionResponse`` parts sent back in user turns (``{"name", "response", "id"?}``)."""
    return [p["functionResponse"] for p in _parts(body, "user") if isinstance(p.get("functionResponse"), dict)]


def model_texts(body: JSON) -> list[str]:
    """Text of every model turn sent back as history."""
    return [p["text"] for p in _parts(body, "model") if isinstance(p.get("text"), str) and not p.get("thought")]


def tool_names(body: JSON) -> list[str]:
    """Names of the function declarations the request offers."""
    names: list[str] = []
    for tool in body.get("tools", []) or []:
        for decl in (tool or {}).get("functionDeclarations", []) or []:
            if isinstance(decl, dict) and "name" in decl:
                names.append(str(decl["name"]))
    return names


def is_main_request(body: JSON, method: str) -> bool:
    """True for a turn of the real conversation: streamed, with tools."""
    return method == "streamGenerateContent" and bool(tool_names(body))


def _json_schema(body: JSON) -> JSON | None:
    config = body.get("generationConfig") or body.get("config") or {}
    for key in ("responseJsonSchema", "responseSchema", "response_json_schema", "response_schema"):
        value = config.get(key)
        if isinstance(value, dict):
            return value
    if config.get("responseMimeType") == "application/json":
        return {}
    return None


def sample_for_schema(schema: JSON) -> Any:
    """A small value matching a JSON / OpenAPI schema (enum: ``"user"`` if offered, else the first)."""
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return "user" if "user" in enum else enum[0]
    kind = str(schema.get("type", "object")).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: sample_for_schema(sub) for name, sub in props.items() if isinstance(sub, dict)}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return SIDE_TEXT


# --------------------------------------------------------------------------- wire format


def _usage(body: JSON, output_tokens: int) -> JSON:
    prompt = _approx_tokens(body)
    total = prompt + output_tokens
    return {"promptTokenCount": prompt, "candidatesTokenCount": output_tokens, "totalTokenCount": total}


def _response(
    parts: list[JSON], response_id: str, *, model: str = MODEL_VERSION, finish: str | None = None,
    usage: JSON | None = None,
) -> JSON:
    candidate: JSON = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    out: JSON = {"candidates": [candidate], "modelVersion": model or MODEL_VERSION, "responseId": response_id}
    if usage:
        out["usageMetadata"] = usage
    return out


def _stream_chunks(reply: Reply, body: JSON, response_id: str, model: str) -> Iterator[JSON]:
    """The GenerateContentResponse chunks of one streamed reply: text in pieces, each call whole."""
    pieces: list[JSON] = []
    for part in reply.parts:
        text = part.get("text")
        if isinstance(text, str) and len(text) > 40:
            pieces.extend({"text": text[i : i + 40]} for i in range(0, len(text), 40))
        else:
            pieces.append(part)
    if not pieces:
        pieces = [{"text": ""}]
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        yield _response(
            [piece], response_id, model=model,
            finish=reply.finish_reason if last else None,
            usage=_usage(body, 5) if last else None,
        )


def _approx_tokens(body: JSON) -> int:
    return max(1, len(json.dumps(body.get("contents", []))) // 4)


# --------------------------------------------------------------------------- server


class _Handler(ScriptedHandler["ScriptedGeminiServer"]):
    json_content_type = "application/json; charset=UTF-8"
    request_id_header = None

    def do_GET(self) -> None:
        owner = self.server.owner
        owner._log(self, None)
        path = urlsplit(self.path).path
        if path.rstrip("/").endswith("/models"):
            models = [{"name": f"models/{MODEL_VERSION}", "supportedGenerationMethods": ["generateContent"]}]
            self._send_json(HTTPStatus.OK, {"models": models})
            return
        self._send_json(HTTPStatus.OK, {})

    def do_HEAD(self) -> None:
        self.server.owner._log(self, None)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_json() or {}
        split = urlsplit(self.path)
        path = unquote(split.path)
        model, _, method = path.rpartition("/")[2].partition(":")
        if method in ("countTokens", "embedContent", "batchEmbedContents"):
            owner._log(self, body)
            if method == "countTokens":
                self._send_json(HTTPStatus.OK, {"totalTokens": _approx_tokens(body)})
            elif method == "embedContent":
                self._send_json(HTTPStatus.OK, {"embedding": {"values": [0.0] * 8}})
            else:
                count = len(body.get("requests", []))
                self._send_json(HTTPStatus.OK, {"embeddings": [{"values": [0.0] * 8}] * count})
            return
        if method not in ("streamGenerateContent", "generateContent"):
            owner._log(self, body)
            self._send_json(HTTPStatus.OK, {})
            return
        main = is_main_request(body, method)
        owner._log(self, body, "main" if main else "side")
        reply = owner.script.next_reply(body) if main else owner._side_reply(body)
        if reply.gate is not None:
            owner._wait_gate(reply.gate)
        owner._pause(reply.delay)
        response_id = uuid.uuid4().hex[:22]

        def send() -> None:
            if reply.status != HTTPStatus.OK:
                error = {"code": reply.status, "message": reply.message,
                         "status": _STATUS_NAMES.get(reply.status, "UNKNOWN")}
                self._send_json(reply.status, {"error": error})
            elif method == "streamGenerateContent":
                sse = parse_qs(split.query).get("alt", [""])[0] == "sse"
                self._stream(reply, body, response_id, model, sse=sse)
            else:
                response = _response(reply.parts, response_id, model=model, finish=reply.finish_reason,
                                     usage=_usage(body, 5))
                self._send_json(HTTPStatus.OK, response)

        self._answer(body, main, send)

    def _stream(self, reply: Reply, body: JSON, response_id: str, model: str, *, sse: bool) -> None:
        chunks = list(_stream_chunks(reply, body, response_id, model))
        self._start_stream("text/event-stream" if sse else self.json_content_type)
        if sse:
            for chunk in chunks:
                self._write_chunk(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        else:  # without alt=sse the API streams one JSON array
            self._write_chunk(json.dumps(chunks).encode())
        self._write_chunk(b"")


class ScriptedGeminiServer(ScriptedServer[Script]):
    """Fake Gemini API on 127.0.0.1 in a background thread. See the module docstring."""

    script_class = Script
    handler_class = _Handler
    side_text = SIDE_TEXT

    def _side_reply(self, body: JSON) -> Reply:
        schema = _json_schema(body)
        if schema is None:
            return Reply.text(self.side_text)
        return Reply.text(json.dumps(sample_for_schema(schema)))

    # convenience re-exports of the module helpers
    user_texts = staticmethod(user_texts)
    last_user_text = staticmethod(last_user_text)
    model_texts = staticmethod(model_texts)
    function_responses = staticmethod(function_responses)
    tool_names = staticmethod(tool_names)
    system_text = staticmethod(system_text)


def main(argv: list[str] | None = None) -> None:
    serve_main(
        argv, "Scripted fake Gemini API (Generative Language API)", ScriptedGeminiServer,
        last_user_text, delay_help="seconds to wait before each main reply",
    )


if __name__ == "__main__":
    main()
