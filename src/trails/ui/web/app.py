"""The web dashboard's server: the API (api.py), its WebSockets (sockets.py), the page (static/,
built from web/ by `npm run build`) and MCP's Streamable HTTP at /mcp (trails.ui.mcp.http), all
behind the checks of security.py.

    app = create_app(Backend(home, cwd="/src/app"), tokens=Tokens.of_home(home), bound="127.0.0.1")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from trails.api.client import Client
from trails.ui.mcp.http import PATH as MCP_PATH
from trails.ui.mcp.http import Gate
from trails.ui.web import openapi, sockets
from trails.ui.web.api import ENDPOINTS, Context, endpoint_view, json_response
from trails.ui.web.backend import Backend
from trails.ui.web.security import Guard, error_body
from trails.ui.web.tokens import Access, Tokens

STATIC = Path(__file__).with_name("static")
_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>trails</title>
<p>The trails web page is not built. From a clone of trails: <code>npm ci --prefix web &amp;&amp;
npm run build --prefix web</code> (<code>./dev run</code> does it). The API answers at
<a href="/api/openapi.json">/api/openapi.json</a>.</p>"""


def _page(static: Path) -> Response:
    index = static / "index.html"
    if index.is_file():
        return FileResponse(index, headers={"Cache-Control": "no-store"})
    return HTMLResponse(_NOT_BUILT)


View = Callable[[Request], Awaitable[Response]]


def _by_method(views: dict[str, View]) -> View:
    async def view(request: Request) -> Response:
        return await views["GET" if request.method == "HEAD" else request.method](request)

    return view


def routes(ctx: Context, static: Path, mcp: Gate) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    by_path: dict[str, dict[str, View]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint_view(endpoint, ctx)
    # One route per path, whatever its methods: a method it lacks is a 405 whose Allow lists them all.
    for path, views in by_path.items():
        found.append(Route(path, _by_method(views), methods=list(views)))
    spec = openapi.spec()

    async def openapi_json(request: Request) -> Response:
        return json_response(spec)

    async def events(ws: WebSocket) -> None:
        await sockets.events_socket(ws, ctx)

    async def terminal(ws: WebSocket) -> None:
        await sockets.terminal_socket(ws, ctx, shell=False)

    async def shell(ws: WebSocket) -> None:
        await sockets.terminal_socket(ws, ctx, shell=True)

    async def page(request: Request) -> Response:
        return _page(static)

    found += [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        WebSocketRoute("/api/events", events),
        WebSocketRoute("/api/sessions/{name}/terminal", terminal),
        WebSocketRoute("/api/sessions/{name}/shell", shell),
        Route("/", page, methods=["GET"]),
        Route(MCP_PATH, mcp, methods=["GET", "POST", "DELETE"]),
        Mount("/assets", app=StaticFiles(directory=static / "assets", check_dir=False), name="assets"),
    ]
    return found


# The router's own refusals answer in the API's shape, with a code: no such path (404), a known path
# with another method (405, with its Allow header; a catch-all route would have made that a 404).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "invalid_input")
    where = f"{request.method} {request.url.path}"
    message = {404: f"no such endpoint: {where}", 405: f"no such method here: {where}"}.get(exc.status_code,
                                                                                         str(exc.detail))
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


def create_app(backend: Backend, *, tokens: Tokens, bound: str, read_only: bool = False,
               static: Path = STATIC) -> Guard:
    """The ASGI app: every request passes security.Guard first. Run it with its lifespan (MCP's
    sessions live in it)."""
    ctx = Context(backend)
    mcp = mcp_gate(backend, tokens, read_only)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.running():
            yield

    app = Starlette(routes=routes(ctx, static, mcp), exception_handlers={HTTPException: _http_error},
                    lifespan=lifespan)
    return Guard(app, tokens=tokens, bound=bound, read_only=read_only)


def mcp_gate(backend: Backend, tokens: Tokens, read_only: bool) -> Gate:
    """/mcp: a session's MCP credential speaks as its agent; the web's own tokens as the web does.
    `trails web --read-only` only watches: there the web's tokens (read-only) are all it takes."""

    def own(token: str) -> Client | None:
        access = tokens.access(token)
        if access is None:
            return None
        return backend.client(Access.READ_ONLY if read_only else access)

    return Gate(backend.home, cwd=backend.cwd, env=backend.env, local=backend.local, own=own,
                events=backend.client(Access.READ_ONLY), agents=not read_only)
