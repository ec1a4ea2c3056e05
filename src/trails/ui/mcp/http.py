"""MCP over Streamable HTTP: the tools and resources of server.py, each request served as the caller
of its own bearer token.

`Authorization: Bearer <credential>` where the credential is a session's TRAILS_MCP_TOKEN: the caller
is `agent:<session>`, checked with the trails server (a credential that is no live session's is
refused there; a check holds for CHECK_SECONDS, and the trails server checks the credential again
with every request it serves, so a credential whose session ended does nothing even then); or a
token the host application knows (`own`: the web dashboard's, a `web` caller). No token, or one
that is neither: 401, before anything reaches the MCP server. An MCP session (Mcp-Session-Id)
answers only to the token that opened it (the SDK's check, fed here).

Host and Origin are the host application's to check (trails.ui.web.security, on every path).

    gate = Gate(home, cwd="/src/app", env={}, own=web_tokens_client, events=web_client)
    async with gate.running(): ...     # the SDK's session manager: in the host app's lifespan
    await gate(scope, receive, send)   # an ASGI app, mounted at PATH
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings

from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client
from trails.core.errors import NotPermitted, TrailsError
from trails.ui.mcp.server import build, request_client

PATH = "/mcp"
_SCOPE_KEY = "trails.mcp.client"
_MAX_CLIENTS = 1024  # clients kept by credential (each is a few attributes; a live session has one)
CHECK_SECONDS = 1.0  # how long a credential the trails server took is taken without asking again

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class Gate:
    """The ASGI app at PATH: the bearer check, then the SDK's Streamable HTTP transport."""

    def __init__(self, home: Path, *, cwd: str, env: dict[str, str], local: bool | None = None,
                 own: Callable[[str], Client | None] = lambda token: None, events: Client | None = None,
                 agents: bool = True) -> None:
        """`agents`: whether sessions' credentials are taken at all (else only `own`'s tokens)."""
        self.home, self.cwd, self.env, self.local = home, cwd, env, local
        self.own = own
        self.agents = agents
        self.clients: dict[str, tuple[Client, float]] = {}  # by credential: its client, when last checked
        self.server = build(None, events=events)
        self.server.middleware.append(_with_request_client)
        # Host and Origin are checked in front of this app, for the address it is really bound to.
        # Answers as plain JSON (an SSE stream per call costs more); notifications take the GET stream.
        self.server.streamable_http_app(streamable_http_path=PATH, json_response=True,
                                        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        self.transport = StreamableHTTPASGIApp(self.server.session_manager)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _bearer(scope)
        try:
            client = await self.client_for(token) if token else None
        except TrailsError as exc:  # the trails server could not say (not running, say): nobody is let in
            await _refuse(send, 503, exc.code, exc.message, exc.hint)
            return
        if client is None:
            await _refuse(send, 401, "unauthorized", "a valid token is needed" if token else "no token given",
                          "send Authorization: Bearer $TRAILS_MCP_TOKEN (the session's credential)")
            return
        assert token is not None
        scope[_SCOPE_KEY] = client
        # The SDK binds an MCP session to the principal that opened it: here, this very token.
        scope["user"] = AuthenticatedUser(AccessToken(token=token, client_id=hashlib.sha256(token.encode()).hexdigest(),
                                                      scopes=[]))
        await self.transport(scope, receive, send)  # type: ignore[arg-type]

    async def client_for(self, token: str) -> Client | None:
        """The client `token` speaks as, None when it is nobody's."""
        own = self.own(token)
        if own is not None or not self.agents:
            return own
        now = time.monotonic()
        client, checked = self.clients.get(token) or (None, 0.0)
        if client is not None and now - checked < CHECK_SECONDS:
            return client
        if client is None:
            client = Client(self.home, local=self.local,
                            caller=Caller(trust=Trust.USER, cwd=self.cwd, env=self.env, credential=token))
        try:  # the trails server maps the credential to its session, or refuses it
            await anyio.to_thread.run_sync(client.call, t.Ping())
        except NotPermitted:
            self.clients.pop(token, None)
            return None
        if token not in self.clients and len(self.clients) >= _MAX_CLIENTS:
            self.clients.clear()
        self.clients[token] = (client, now)
        return client


async def _with_request_client(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Each MCP message is served with the client of the HTTP request that carried it."""
    scope = getattr(ctx.request, "scope", None)
    client = scope.get(_SCOPE_KEY) if isinstance(scope, dict) else None
    if client is None:
        return await call_next(ctx)
    reset = request_client.set(client)
    try:
        return await call_next(ctx)
    finally:
        request_client.reset(reset)


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                return text[7:].strip() or None
    return None


async def _refuse(send: Send, status: int, code: str, message: str, hint: str | None) -> None:
    body = json.dumps({"error": {"code": code, "message": message, **({"hint": hint} if hint else {})}})
    headers = [(b"content-type", b"application/json")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="trails"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
