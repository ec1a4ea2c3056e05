"""Who may use the web server, checked before any route runs (HTTP and WebSocket alike).

1. `Host` must name the address the server is bound to (DNS rebinding: a page of another site whose
   name was made to resolve here still sends its own name). Bound to a loopback address, the
   loopback names are fine too; bound to every address (0.0.0.0), any IP address literal.
2. An `Origin`, when sent, must be this server's own (`http://` + Host): another site's page is
   refused (403), its fetches and its WebSockets alike. A cookie-authenticated WebSocket must send one.
3. A token: `Authorization: Bearer …`, or the `trails_token` cookie. `GET /?token=…` checks the
   token, sets the cookie (HttpOnly, SameSite=Strict) and redirects to the same URL without it, so
   the token leaves the address bar and the history. None, or a wrong one: 401.
4. A state-changing request (POST, PUT, PATCH, DELETE) with the cookie needs `X-Trails-CSRF: 1`,
   which another site's page cannot send without asking first (CORS), and is refused with a
   read-only token (403, `not_permitted`) — as the trails server refuses it again for such a caller.

MCP at /mcp (trails.ui.mcp.http) passes 1 and 2 here and checks its own bearer token instead of 3
and 4: a session's MCP credential, or one of the web's tokens; never the cookie, so a page the
browser opened cannot ride on it.

What passed is in `scope["state"]["access"]` (tokens.Access) for the routes.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.websockets import WebSocket

from trails.ui.web.tokens import Access, Tokens

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "trails_token"
CSRF_HEADER = "x-trails-csrf"
CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
OWN_TOKEN_PATHS = frozenset({"/mcp"})  # trails.ui.mcp.http.PATH (this module imports nothing of the app's)


def error_body(code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **({"hint": hint} if hint else {})}}


def _hostname(host_header: str) -> str | None:
    """The name in a Host header, without its port ('[::1]:8000' → '::1'); None when malformed."""
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else None
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name or None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostRule:
    """Which Host names reach the server bound to `bound`."""

    def __init__(self, bound: str) -> None:
        self.bound = bound.strip("[]").lower()
        try:
            address = ipaddress.ip_address(self.bound)
        except ValueError:
            address = None
        self.wildcard = address is not None and address.is_unspecified
        self.loopback = self.bound == "localhost" or (address is not None and address.is_loopback)

    def allows(self, host_header: str | None) -> bool:
        name = _hostname(host_header or "")
        if name is None:
            return False
        if name == self.bound:
            return True
        if (self.loopback or self.wildcard) and name in LOOPBACK_NAMES:
            return True
        return self.wildcard and _is_ip(name)


class Guard:
    """The ASGI middleware doing the checks above."""

    def __init__(self, app: ASGIApp, *, tokens: Tokens, bound: str, read_only: bool = False) -> None:
        self.app = app
        self.tokens = tokens
        self.hosts = HostRule(bound)
        self.read_only = read_only  # `trails web --read-only`: every token only watches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal, access = self._check(scope)
        if refusal is not None:
            await self._refuse(scope, receive, send, refusal)
            return
        scope.setdefault("state", {})["access"] = access
        await self.app(scope, receive, _with_headers(send) if scope["type"] == "http" else send)

    def _check(self, scope: Scope) -> tuple[Response | None, Access | None]:
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not self.hosts.allows(host):
            return _json(403, "forbidden", f"this server does not answer to the host {host!r}",
                         "open the address `trails web` printed"), None
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{(host or '').lower()}":
            return _json(403, "forbidden", f"requests from another site ({origin}) are refused"), None
        if scope["type"] == "http" and scope["path"] in OWN_TOKEN_PATHS:
            return None, None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["type"] == "http" and scope["path"] == "/" and "token" in query:
            return self._swap(scope, query), None
        token, by_cookie = self._token(headers)
        access = self.tokens.access(token)
        if access is None:
            return _json(401, "unauthorized", "a valid token is needed" if token else "no token given",
                         "open the URL `trails web` printed, or send Authorization: Bearer TOKEN"), None
        if self.read_only:
            access = Access.READ_ONLY
        if scope["type"] == "websocket" and by_cookie and origin is None:
            return _json(403, "forbidden", "a WebSocket opened with the cookie must say its Origin"), None
        if scope["type"] == "http" and scope["method"] in CHANGING:
            if access is Access.READ_ONLY:
                return _json(403, "not_permitted", "this token is read-only: it may watch, not change anything",
                             "use the full-access token"), None
            if by_cookie and headers.get(CSRF_HEADER) != "1":
                return _json(403, "csrf", f"a state-changing request needs the header {CSRF_HEADER}: 1"), None
        return None, access

    @staticmethod
    def _token(headers: Headers) -> tuple[str | None, bool]:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip(), False
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
        return cookie, cookie is not None

    def _swap(self, scope: Scope, query: dict[str, str]) -> Response:
        """`/?token=…`: the token as a cookie, and the same page without it in its address."""
        token = query.pop("token")
        if self.tokens.access(token) is None:
            return _json(401, "unauthorized", "a valid token is needed", "open the URL `trails web` printed")
        response = RedirectResponse("/" + (f"?{urlencode(query)}" if query else ""), status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        response.headers["Cache-Control"] = "no-store"
        return response

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, response: Response) -> None:
        if scope["type"] == "http":
            await response(scope, receive, _with_headers(send))
            return
        websocket = WebSocket(scope, receive, send)
        if "websocket.http.response" in scope.get("extensions", {}):
            await websocket.send_denial_response(response)
        else:
            await websocket.close(code=1008, reason=_reason(response))


# On every answer: never framed by another page (clickjacking), types as sent, no Referer leaving it.
SECURITY_HEADERS = ((b"x-frame-options", b"DENY"), (b"content-security-policy", b"frame-ancestors 'none'"),
                    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


def _with_headers(send: Send) -> Send:
    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
        await send(message)

    return sending


def _json(status: int, code: str, message: str, hint: str | None = None) -> Response:
    return JSONResponse(error_body(code, message, hint), status_code=status)


def _reason(response: Response) -> str:
    try:
        return str(json.loads(bytes(response.body))["error"]["message"])[:120]
    except (ValueError, KeyError, TypeError):
        return "refused"
