"""The web dashboard's server: the API (api.py), its WebSockets (sockets.py), the page (static/,
built from web/ by `npm run build`), all behind the checks of security.py.

    app = create_app(Backend(home, cwd="/src/app"), tokens=Tokens.of_home(home), bound="127.0.0.1")
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from trails.ui.web import openapi, sockets
from trails.ui.web.api import ENDPOINTS, Context, endpoint_view, json_response
from trails.ui.web.backend import Backend
from trails.ui.web.security import Guard, error_body
from trails.ui.web.tokens import Tokens

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


def routes(ctx: Context, static: Path) -> list[BaseRoute]:
    found: list[BaseRoute] = []
    by_path: dict[str, dict[str, object]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint_view(endpoint, ctx)
    for path, views in by_path.items():
        for method, view in views.items():
            found.append(Route(path, view, methods=[method]))  # type: ignore[arg-type]
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

    async def unknown(request: Request) -> Response:
        return JSONResponse(error_body("not_found", f"no such endpoint: {request.method} {request.url.path}"),
                            status_code=404)

    found += [
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
        WebSocketRoute("/api/events", events),
        WebSocketRoute("/api/sessions/{name}/terminal", terminal),
        WebSocketRoute("/api/sessions/{name}/shell", shell),
        Route("/api/{rest:path}", unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/", page, methods=["GET"]),
        Mount("/assets", app=StaticFiles(directory=static / "assets", check_dir=False), name="assets"),
    ]
    return found


def create_app(backend: Backend, *, tokens: Tokens, bound: str, read_only: bool = False,
               static: Path = STATIC) -> Guard:
    """The ASGI app: every request passes security.Guard first."""
    ctx = Context(backend)
    app = Starlette(routes=routes(ctx, static))
    return Guard(app, tokens=tokens, bound=bound, read_only=read_only)
