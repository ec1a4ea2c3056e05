"""A scripted fake of the OpenAI Responses API for driving the real Codex CLI in tests.

Usage::

    with ScriptedResponsesServer() as server:
        server.script.reply_shell("python3 hello.py")   # the model asks to run a command
        server.script.reply_text("It printed hello.")   # answer to the turn carrying the command output
        env = make_codex_home(tmp_path, server.base_url)  # tests/fakes/record_codex_screens.py
        ...  # run codex --no-daemon in tmux with env
        server.wait_for_requests(2, timeout=30)

The wire protocol is the one the pinned CLI (``@openai/codex`` 0.169.0) speaks to a model provider with
``wire_api = "responses"``: ``POST {base_url}/responses`` with ``"stream": true`` is answered with
server-sent events ``response.created``, ``response.in_progress``, then per output item
``response.output_item.added`` / deltas (``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.custom_tool_call_input.delta``) /
``response.output_item.done``, and finally ``response.completed`` (with token usage).

Tool calls adapt to the tools the CLI advertised in the request: :meth:`Reply.shell` becomes a call of
whichever shell tool is offered (``shell_command`` with a string, ``shell`` with an argv list, or
``exec_command`` with ``cmd``), and :meth:`Reply.apply_patch` becomes a freeform ``custom_tool_call``
when ``apply_patch`` is a custom tool, a ``function_call`` with ``{"input": patch}`` when it is a function,
and an ``apply_patch <<'PATCH'`` shell command (which the CLI intercepts) when only a shell tool is offered.
0.169.0 offers ``exec_command`` (``{"cmd": ...}``) and, for models of its bundled catalog such as
``gpt-5.5``, a freeform ``apply_patch``; for unknown model names it offers no ``apply_patch`` tool.

Every HTTP request is logged in ``server.http_log``. Main ``POST .../responses`` bodies (conversation
turns) are recorded in ``server.requests`` and answered, in order, by the first matching rule
(``script.on``), the responder (``script.set_responder``), the next queued reply, or the default text.
Side requests (the thread title the CLI asks for once per thread, see :func:`is_main_request`) go to
``server.side_requests`` and get ``{"title": server.side_text}``; they never consume the script.
A ``gate`` holds a reply open after ``response.created`` (the CLI shows "Working (… esc to interrupt)").
``GET .../models`` gets an empty model list; any other path gets ``200 {}`` (0.169.0 sent neither).

Run standalone (manual use): ``python -m tests.fakes.openai_responses_server --port 8766 --echo``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.scripted_http import JSON as JSON  # re-exported
from tests.fakes.scripted_http import HttpLogEntry as HttpLogEntry  # re-exported
from tests.fakes.scripted_http import Predicate as Predicate  # re-exported
from tests.fakes.scripted_http import ReplyScript, ScriptedHandler, ScriptedServer, serve_main
from tests.fakes.scripted_http import new_id as _new_id

DEFAULT_TEXT = "ok"
SIDE_TEXT = "Scripted task"
SHELL_TOOLS = ("shell_command", "shell", "exec_command", "local_shell")


# --------------------------------------------------------------------------- replies


@dataclass
class Reply:
    """One model response: a list of output items (abstract until sent), with optional pacing.

    Items are ``{"kind": "text", "text": ...}``, ``{"kind": "shell", "command": ...}``,
    ``{"kind": "apply_patch", "patch": ...}`` or ``{"kind": "function", "name": ..., "arguments": ...}``;
    they are turned into Responses-API output items when the request (and its tool list) is known.

    ``gate`` (a ``threading.Event``) holds the stream open after ``response.created`` until the test
    sets it (keeps the CLI "busy" deterministically); ``delay`` waits before the first byte.
    """

    items: list[JSON]
    delay: float = 0.0
    gate: threading.Event | None = None
    status: int = 200  # != 200: an API error response (see ``Reply.error``)
    error: JSON | None = None

    @classmethod
    def text(cls, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return cls([{"kind": "text", "text": text}], delay, gate)

    @classmethod
    def shell(
        cls,
        command: str,
        *,
        text: str | None = None,
        workdir: str | None = None,
        escalate: str | None = None,
        call_id: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> Reply:
        """The model asks to run ``command`` (a shell command line) with the CLI's shell tool.

        ``escalate`` (a question for the user) asks to run it outside the sandbox
        (``sandbox_permissions: "require_escalated"`` plus ``justification``), which makes the CLI
        ask for approval under the ``on-request`` approval policy.
        """
        items: list[JSON] = [{"kind": "text", "text": text}] if text else []
        spec = {"kind": "shell", "command": command, "workdir": workdir, "escalate": escalate, "call_id": call_id}
        items.append(spec)
        return cls(items, delay, gate)

    @classmethod
    def apply_patch(
        cls,
        patch: str,
        *,
        text: str | None = None,
        call_id: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
    ) -> Reply:
        """The model asks to edit files with ``patch`` (``*** Begin Patch`` ... ``*** End Patch``)."""
        items: list[JSON] = [{"kind": "text", "text": text}] if text else []
        items.append({"kind": "apply_patch", "patch": patch, "call_id": call_id})
        return cls(items, delay, gate)

    @classmethod
    def function_call(
        cls,
        name: str,
        arguments: JSON | str,
        *,
        call_id: str | None = None,
        delay: float = 0.0,
        gate: threading.Event | None = None,
        namespace: str | None = None,
    ) -> Reply:
        """A raw ``function_call`` item for any tool the CLI offers (``namespace``: of a tool a
        ``tool_search`` found, e.g. an MCP server's ``mcp__NAME``)."""
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        spec = {"kind": "function", "name": name, "arguments": args, "call_id": call_id}
        return cls([{**spec, "namespace": namespace} if namespace else spec], delay, gate)

    @classmethod
    def tool_search(cls, query: str, *, call_id: str | None = None, delay: float = 0.0) -> Reply:
        """The model searches the CLI's deferred tools (Codex offers MCP tools only through it)."""
        return cls([{"kind": "tool_search", "query": query, "call_id": call_id}], delay)

    @classmethod
    def failure(cls, status: int = 400, message: str = "scripted error", code: str = "invalid_request_error") -> Reply:
        """An HTTP error answer (``{"error": {...}}`` with ``status``). The CLI retries 429/5xx."""
        return cls([], status=status, error={"message": message, "type": code, "param": None, "code": code})


def add_line_patch(path: str, lines: list[str]) -> str:
    """An apply_patch envelope creating ``path`` (relative to the workspace) with ``lines``."""
    body = "".join(f"+{line}\n" for line in lines)
    return f"*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch"


class Script(ReplyScript[Reply]):
    """Scripted Responses-API replies: :class:`ReplyScript` plus shell / apply_patch / error shortcuts."""

    default_text = DEFAULT_TEXT

    def text_reply(self, text: str, *, delay: float = 0.0, gate: threading.Event | None = None) -> Reply:
        return Reply.text(text, delay=delay, gate=gate)

    def reply_shell(
        self,
        command: str,
        *,
        text: str | None = None,
        workdir: str | None = None,
        escalate: str | None = None,
        gate: threading.Event | None = None,
    ) -> Reply:
        return self.reply(Reply.shell(command, text=text, workdir=workdir, escalate=escalate, gate=gate))

    def reply_apply_patch(self, patch: str, *, text: str | None = None, gate: threading.Event | None = None) -> Reply:
        return self.reply(Reply.apply_patch(patch, text=text, gate=gate))

    def reply_error(self, status: int = 400, message: str = "scripted error") -> Reply:
        return self.reply(Reply.failure(status, message))


# --------------------------------------------------------------------------- request helpers


def tool_names(body: JSON) -> list[str]:
    """Names of the tools the request offers (function, custom and built-in tools)."""
    names: list[str] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            name = tool.get("name") or (tool.get("function") or {}).get("name") or tool.get("type")
            if isinstance(name, str):
                names.append(name)
    return names


def _tool(body: JSON, name: str) -> JSON | None:
    return next((t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name") == name), None)


def _content_texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [c["text"] for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
    return []


def user_texts(body: JSON) -> list[str]:
    """Text of every user message in the request's ``input``, in order (the CLI's context blocks included)."""
    texts: list[str] = []
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type", "message") == "message" and item.get("role") == "user":
            texts.extend(_content_texts(item.get("content")))
    return texts


def last_user_text(body: JSON) -> str:
    """The last user text of the request that is not one of the CLI's ``<...>`` context blocks."""
    texts = [t for t in user_texts(body) if not t.lstrip().startswith("<")]
    return texts[-1] if texts else ""


def tool_outputs(body: JSON) -> list[JSON]:
    """``function_call_output`` / ``custom_tool_call_output`` items sent back in the request."""
    return [
        item
        for item in body.get("input") or []
        if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output")
    ]


def _wants_title(body: JSON) -> bool:
    fmt = (body.get("text") or {}).get("format") or {}
    properties = (fmt.get("schema") or {}).get("properties") or {}
    return fmt.get("type") == "json_schema" and "title" in properties


def turn_metadata(headers: Mapping[str, str]) -> JSON:
    """The CLI's ``x-codex-turn-metadata`` request header, decoded (``{}`` if absent or invalid)."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-codex-turn-metadata"), "")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def is_main_request(body: JSON, headers: Mapping[str, str] | None = None) -> bool:
    """True for a turn of the conversation, False for housekeeping requests.

    0.169.0 sends one side request per new thread, right after the first turn starts: the thread title
    (``x-codex-turn-metadata`` has ``"thread_source": "thread_title"``; the body asks for a JSON object
    ``{"title": ...}`` via ``text.format``, and offers at most one tool).
    """
    if turn_metadata(headers or {}).get("thread_source") == "thread_title" or _wants_title(body):
        return False
    return bool(body.get("tools"))


def side_text(body: JSON, text: str = SIDE_TEXT) -> str:
    """The answer to a side request: JSON ``{"title": text}`` when a structured title is asked for."""
    if _wants_title(body):
        return json.dumps({"title": text[:36]})
    return text


# --------------------------------------------------------------------------- wire format


def _shell_item(body: JSON, spec: JSON) -> JSON:
    names = tool_names(body)
    name = next((n for n in SHELL_TOOLS if n in names), "shell_command")
    command: str = spec["command"]
    args: JSON
    if name == "shell":
        args = {"command": ["bash", "-lc", command]}
    elif name == "exec_command":
        args = {"cmd": command}
    else:
        args = {"command": command}
    if spec.get("workdir"):
        args["workdir"] = spec["workdir"]
    if spec.get("escalate"):
        args["sandbox_permissions"] = "require_escalated"
        args["justification"] = spec["escalate"]
    return {
        "type": "function_call",
        "name": name,
        "arguments": json.dumps(args),
        "call_id": spec.get("call_id") or _new_id("call"),
    }


def _patch_item(body: JSON, spec: JSON) -> JSON:
    tool = _tool(body, "apply_patch")
    call_id = spec.get("call_id") or _new_id("call")
    if tool is None and any(n in tool_names(body) for n in SHELL_TOOLS):
        # No apply_patch tool (a model outside the CLI's catalog): the CLI intercepts the patch as a command.
        command = f"apply_patch <<'PATCH'\n{spec['patch']}\nPATCH"
        return _shell_item(body, {"command": command, "call_id": call_id})
    if tool is not None and tool.get("type") == "custom":
        return {"type": "custom_tool_call", "name": "apply_patch", "input": spec["patch"], "call_id": call_id}
    return {
        "type": "function_call",
        "name": "apply_patch",
        "arguments": json.dumps({"input": spec["patch"]}),
        "call_id": call_id,
    }


def output_items(reply: Reply, body: JSON) -> list[JSON]:
    """The Responses-API output items of ``reply`` for the request ``body`` (tool names resolved)."""
    items: list[JSON] = []
    for spec in reply.items:
        kind = spec["kind"]
        if kind == "text":
            content = [{"type": "output_text", "text": spec["text"], "annotations": []}]
            items.append({"type": "message", "role": "assistant", "status": "completed", "content": content})
        elif kind == "shell":
            items.append(_shell_item(body, spec))
        elif kind == "apply_patch":
            items.append(_patch_item(body, spec))
        elif kind == "function":
            call_id = spec.get("call_id") or _new_id("call")
            items.append(
                {"type": "function_call", "name": spec["name"], "arguments": spec["arguments"], "call_id": call_id,
                 **({"namespace": spec["namespace"]} if spec.get("namespace") else {})}
            )
        elif kind == "tool_search":
            call_id = spec.get("call_id") or _new_id("call")
            items.append({"type": "tool_search_call", "call_id": call_id, "execution": "client",
                          "arguments": {"query": spec["query"]}})
        else:
            raise ValueError(f"unsupported reply item {kind!r}")
    for item in items:
        item["id"] = _new_id({"message": "msg", "function_call": "fc", "custom_tool_call": "ctc",
                              "tool_search_call": "tsc"}[item["type"]])
        item.setdefault("status", "completed")
    return items


def _chunks(text: str, size: int = 32) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i : i + size]


def _usage(body: JSON) -> JSON:
    input_tokens = max(1, len(json.dumps(body.get("input", []))) // 4)
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + 5,
    }


def _response_json(resp_id: str, model: str, status: str, output: list[JSON], usage: JSON | None) -> JSON:
    return {
        "id": resp_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "usage": usage,
        "error": None,
        "incomplete_details": None,
    }


def sse_head(resp_id: str, model: str) -> Iterator[JSON]:
    """The events sent before any output (``response.created``, ``response.in_progress``)."""
    yield {"type": "response.created", "response": _response_json(resp_id, model, "in_progress", [], None)}
    yield {"type": "response.in_progress", "response": _response_json(resp_id, model, "in_progress", [], None)}


def sse_body(resp_id: str, model: str, items: list[JSON], body: JSON) -> Iterator[JSON]:
    """The output events and ``response.completed`` of one streamed response."""
    for index, item in enumerate(items):
        started = dict(item, status="in_progress")
        if item["type"] == "message":
            started["content"] = []
            yield {"type": "response.output_item.added", "output_index": index, "item": started}
            part = {"type": "output_text", "text": "", "annotations": []}
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield {"type": "response.content_part.added", **where, "part": part}
            text = item["content"][0]["text"]
            for piece in _chunks(text):
                yield {"type": "response.output_text.delta", **where, "delta": piece}
            yield {"type": "response.output_text.done", **where, "text": text}
            yield {"type": "response.content_part.done", **where, "part": item["content"][0]}
        elif item["type"] == "function_call":
            started["arguments"] = ""
            yield {"type": "response.output_item.added", "output_index": index, "item": started}
            where = {"item_id": item["id"], "output_index": index}
            for piece in _chunks(item["arguments"], 64):
                yield {"type": "response.function_call_arguments.delta", **where, "delta": piece}
            yield {"type": "response.function_call_arguments.done", **where, "arguments": item["arguments"]}
        elif item["type"] == "custom_tool_call":
            started["input"] = ""
            yield {"type": "response.output_item.added", "output_index": index, "item": started}
            where = {"item_id": item["id"], "output_index": index}
            for piece in _chunks(item["input"], 64):
                yield {"type": "response.custom_tool_call_input.delta", **where, "delta": piece}
            yield {"type": "response.custom_tool_call_input.done", **where, "input": item["input"]}
        yield {"type": "response.output_item.done", "output_index": index, "item": item}
    done = _response_json(resp_id, model, "completed", items, _usage(body))
    yield {"type": "response.completed", "response": done}


# --------------------------------------------------------------------------- server


class _Handler(ScriptedHandler["ScriptedResponsesServer"]):
    def do_HEAD(self) -> None:
        self.server.owner._log(self, None)
        self._send_json(HTTPStatus.OK, {})

    def do_GET(self) -> None:
        self.server.owner._log(self, None)
        path = urlsplit(self.path).path
        if path.endswith("/models"):
            self._send_json(HTTPStatus.OK, {"object": "list", "data": [], "models": []})
        else:
            self._send_json(HTTPStatus.OK, {})

    def do_POST(self) -> None:
        owner = self.server.owner
        body = self._read_json() or {}
        path = urlsplit(self.path).path
        if not path.endswith("/responses"):
            owner._log(self, body)
            self._send_json(HTTPStatus.OK, {})
            return
        main = is_main_request(body, dict(self.headers.items()))
        owner._log(self, body, "main" if main else "side")
        reply = owner.script.next_reply(body) if main else Reply.text(side_text(body, owner.side_text))
        owner._pause(reply.delay)
        model = str(body.get("model", "gpt-test"))

        def send() -> None:
            if reply.status != HTTPStatus.OK:
                self._send_json(reply.status, {"error": reply.error or {"message": "error"}})
            elif body.get("stream", False):
                self._stream(reply, model, body)
            else:
                items = output_items(reply, body)
                self._send_json(HTTPStatus.OK, _response_json(_new_id("resp"), model, "completed", items, _usage(body)))

        self._answer(body, main, send)

    def _stream(self, reply: Reply, model: str, body: JSON) -> None:
        self._start_stream()
        resp_id = _new_id("resp")
        for event in sse_head(resp_id, model):
            self._write_sse(event, event["type"])
        if reply.gate is not None:
            self.server.owner._wait_gate(reply.gate)
        for event in sse_body(resp_id, model, output_items(reply, body), body):
            self._write_sse(event, event["type"])
        self._write_chunk(b"")


class ScriptedResponsesServer(ScriptedServer[Script]):
    """Fake OpenAI Responses API on 127.0.0.1 in a background thread. See the module docstring."""

    script_class = Script
    handler_class = _Handler
    base_path = "/v1"  # the provider base URL; the CLI posts to ``{base_url}/responses``
    request_noun = "responses"
    log_kinds_on_timeout = False
    side_text = SIDE_TEXT

    user_texts = staticmethod(user_texts)
    last_user_text = staticmethod(last_user_text)
    tool_outputs = staticmethod(tool_outputs)
    tool_names = staticmethod(tool_names)


def main(argv: list[str] | None = None) -> None:
    serve_main(argv, "Scripted fake OpenAI Responses API", ScriptedResponsesServer, last_user_text)


if __name__ == "__main__":
    main()
