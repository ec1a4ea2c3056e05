"""The WebSockets: the event stream, and terminals (a session's pane, or a shell in its worktree).

`/api/events?since=ID&session=NAME` sends each event as its JSON (EventInfo), stored ones after
`since` first, then live ones: reconnect with the last id seen and nothing is missed or repeated.

`/api/sessions/NAME/terminal?cols=C&rows=R` (and `/shell`): server → page frames
`{"type": "output", "data": BASE64}` (the pane's bytes; the first repaints the screen),
`{"type": "size", "cols", "rows"}` (the pane's size, on opening and when it changes),
`{"type": "exit", "reason"}` (the pane ended: then a normal close) and
`{"type": "error", "code", "message"}`; page → server `{"type": "input", "data": TEXT}` and
`{"type": "resize", "cols", "rows"}`. A read-only token gets output only: its input is answered with
an error frame, its resizes are ignored, and it cannot open a shell at all.

Each socket is one streaming request to the trails server, read in a thread of its own; closing the
socket cancels it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import msgspec
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from trails.api import types as t
from trails.api.client import Connection
from trails.core.errors import InvalidInput, NotPermitted, ServerError, TrailsError
from trails.ui.web.api import Context
from trails.ui.web.backend import error_json, http_status
from trails.ui.web.tokens import Access

_END = object()
_encoder = msgspec.json.Encoder()


def _text(obj: object) -> str:
    return _encoder.encode(obj).decode()


class Pump:
    """A blocking stream's items, read in a thread and handed to the event loop in order; the last
    item is _END, or the TrailsError the stream ended with."""

    def __init__(self, stream: Iterator[t.Progress | t.EventInfo]) -> None:
        self._stream = stream
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        threading.Thread(target=self._run, name="trails-web-stream", daemon=True).start()

    def _put(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody listens any more
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        try:
            for item in self._stream:
                self._put(item)
            self._put(_END)
        except TrailsError as exc:
            self._put(exc)
        except Exception as exc:  # a broken connection to the trails server, say
            self._put(ServerError(f"the stream from the trails server broke off: {exc}"))

    async def get(self) -> object:
        return await self._queue.get()


def _access(ws: WebSocket) -> Access:
    access = ws.scope.get("state", {}).get("access")
    assert isinstance(access, Access)
    return access


def _int(ws: WebSocket, name: str) -> int | None:
    value = ws.query_params.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise InvalidInput(f"{name} must be a whole number", field=name)
    return int(value)


async def _refuse(ws: WebSocket, exc: TrailsError) -> None:
    """Refuse before accepting: an HTTP answer with the error, where the server can send one."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(JSONResponse(error_json(exc), status_code=http_status(exc)))
    else:
        await ws.close(code=1008, reason=exc.message[:120])


async def _close_with(ws: WebSocket, exc: TrailsError) -> None:
    with contextlib.suppress(Exception):
        await ws.send_text(_text({"type": "error", "code": exc.code, "message": exc.message, "hint": exc.hint}))
        await ws.close(code=1011 if http_status(exc) >= 500 else 4000 + http_status(exc), reason=exc.message[:120])


class Streamed:
    """One socket's streaming request: started, pumped, and cancelled on the trails server when the
    socket goes (with the web's own rights: a read-only caller may not cancel jobs, but this is ours)."""

    def __init__(self, ctx: Context, ws: WebSocket, request: t.Request[Any]) -> None:
        self.ctx, self.ws, self.request = ctx, ws, request
        self.job: int | None = None
        self.pump: Pump | None = None

    async def start(self) -> None:
        client = self.ctx.backend.client(_access(self.ws))
        stream = await self.ctx.backend.run(client.stream, self.request)
        first = await self.ctx.backend.run(next, stream, None)  # read already: the job, registered
        if isinstance(first, t.JobStarted):
            self.job = first.job
        self.pump = Pump(stream)

    async def next(self) -> object:
        assert self.pump is not None
        return await self.pump.get()

    async def cancel(self) -> None:
        if self.job is not None:
            with contextlib.suppress(TrailsError):
                await self.ctx.backend.call(t.Cancel(job=self.job), Access.FULL)


async def _receive_until_gone(ws: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()


async def events_socket(ws: WebSocket, ctx: Context) -> None:
    try:
        request = t.Subscribe(since=_int(ws, "since"), session=ws.query_params.get("session") or None)
    except TrailsError as exc:
        await _refuse(ws, exc)
        return
    await ws.accept()
    streamed = Streamed(ctx, ws, request)
    try:
        await streamed.start()
        async with anyio.create_task_group() as group:

            async def forward() -> None:
                while True:
                    item = await streamed.next()
                    if isinstance(item, t.EventInfo):
                        await ws.send_text(_text(item))
                    elif isinstance(item, TrailsError):
                        await _close_with(ws, item)
                        break
                    elif item is _END:
                        await ws.close()
                        break
                group.cancel_scope.cancel()

            group.start_soon(forward)
            await _receive_until_gone(ws)
            group.cancel_scope.cancel()
    except TrailsError as exc:
        await _close_with(ws, exc)
    finally:
        await streamed.cancel()


class Keys:
    """A terminal's input and resizes, over one connection to the trails server (opened on first use)."""

    def __init__(self, ctx: Context, access: Access) -> None:
        self.ctx, self.access = ctx, access
        self.connection: Connection | None = None

    async def call(self, request: t.Request[Any]) -> None:
        if self.connection is None:
            self.connection = await self.ctx.backend.run(self.ctx.backend.connection, self.access)
        await self.ctx.backend.run(self.connection.call, request)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


async def terminal_socket(ws: WebSocket, ctx: Context, *, shell: bool) -> None:
    access = _access(ws)
    read_only = access is not Access.FULL
    try:
        if shell and read_only:
            raise NotPermitted("a shell needs a token that may change things; this one is read-only")
        request = t.OpenTerminal(name=ws.path_params["name"], shell=shell, cols=_int(ws, "cols"),
                                 rows=_int(ws, "rows"), read_only=read_only)
    except TrailsError as exc:
        await _refuse(ws, exc)
        return
    await ws.accept()
    streamed = Streamed(ctx, ws, request)
    keys = Keys(ctx, access)
    try:
        await streamed.start()
        async with anyio.create_task_group() as group:

            async def forward() -> None:
                while True:
                    item = await streamed.next()
                    if isinstance(item, t.TerminalOutput):
                        await ws.send_text(_text({"type": "output", "data": item.data}))
                    elif isinstance(item, t.TerminalSize):
                        await ws.send_text(_text({"type": "size", "cols": item.cols, "rows": item.rows}))
                    elif isinstance(item, TrailsError):
                        await _close_with(ws, item)
                        break
                    elif item is _END:
                        await ws.send_text(_text({"type": "exit", "reason": "the terminal ended"}))
                        await ws.close()
                        break
                group.cancel_scope.cancel()

            group.start_soon(forward)
            await _typed(ws, streamed, keys, read_only)
            group.cancel_scope.cancel()
    except TrailsError as exc:
        await _close_with(ws, exc)
    finally:
        await streamed.cancel()
        keys.close()


async def _typed(ws: WebSocket, streamed: Streamed, keys: Keys, read_only: bool) -> None:
    """The page's frames, each answered (an error frame) only when refused, until the socket goes."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            raw = await ws.receive_text()
            try:
                frame = msgspec.json.decode(raw)
                kind = frame.get("type") if isinstance(frame, dict) else None
                if kind == "input":
                    if read_only:
                        raise NotPermitted("this terminal is read-only: it shows the agent's output, typing "
                                           "needs the full-access token")
                    data = frame.get("data")
                    if not isinstance(data, str):
                        raise InvalidInput("an input frame's data is text", field="data")
                    if streamed.job is not None and data:
                        await keys.call(t.TerminalInput(terminal=streamed.job, data=data.encode()))
                elif kind == "resize":
                    cols, rows = frame.get("cols"), frame.get("rows")
                    if not (isinstance(cols, int) and isinstance(rows, int)):
                        raise InvalidInput("a resize frame has whole numbers cols and rows", field="cols")
                    if not read_only and streamed.job is not None:  # a viewer never resizes the agent's window
                        await keys.call(t.TerminalResize(terminal=streamed.job, cols=cols, rows=rows))
                else:
                    raise InvalidInput(f"unknown frame type {kind!r}: send input or resize", field="type")
            except msgspec.DecodeError:
                await ws.send_text(_text({"type": "error", "code": "invalid_input", "message": "not JSON"}))
            except TrailsError as exc:
                await ws.send_text(_text({"type": "error", "code": exc.code, "message": exc.message}))
