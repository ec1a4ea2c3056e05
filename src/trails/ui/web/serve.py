"""`trails web`: the dashboard's server on uvicorn, bound to loopback unless told otherwise.

The socket is bound here, before uvicorn starts, so a port in use is a clear error and `--port 0`
(any free port) can be printed: the URL with the token, once, as Jupyter does.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Callable

from trails.api import types as t
from trails.core import paths
from trails.core.errors import InvalidInput
from trails.ui.web.backend import Backend
from trails.ui.web.tokens import Access, Tokens

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8780


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or InvalidInput saying why not."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidInput(f"cannot listen on {host}: {exc.strerror}", field="host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                           hint="choose another port with --port (0: any free one)", field="port") from None
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int, token: str) -> str:
    shown = host.strip("[]")
    try:
        address = ipaddress.ip_address(shown)
    except ValueError:
        address = None
    if address is not None and address.is_unspecified:
        shown = "127.0.0.1" if address.version == 4 else "::1"
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/?token={token}"


class _DenialIsNoError(logging.Filter):
    """uvicorn's sans-I/O WebSockets log an error for every handshake the app answered with an HTTP
    response (a refused token, Origin or Host: security.py), though that is how ASGI refuses one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def serve(*, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, read_only: bool = False, open_browser: bool = False,
          runs_dir: str = "runs", say: Callable[[str], None] = print, warn: Callable[[str], None] = print) -> None:
    import uvicorn

    from trails.ui.web.app import create_app

    home = paths.trails_home()
    tokens = Tokens.of_home(home)
    backend = Backend(home, cwd=os.getcwd(), runs_dir=runs_dir)
    backend.client(Access.FULL).call(t.ServerStatusRequest(monitor=True))  # the trails server, watching sessions
    sock = listen(host, port)
    port = sock.getsockname()[1]
    if not is_loopback(host):
        warn(f"trails web: warning: listening on {host}, not only this machine: anyone who can reach it and "
             "holds the token can drive your agents, and nothing is encrypted (an SSH tunnel or a TLS proxy is)")
    url = url_of(host, port, tokens.read_only if read_only else tokens.full)
    say(f"trails web: {url}" + ("  (read-only)" if read_only else ""))
    if not read_only:
        say(f"  read-only view: {url_of(host, port, tokens.read_only)}")
    say(f"  MCP (Streamable HTTP): {url_of(host, port, '').split('/?')[0]}/mcp  "
        "(Authorization: Bearer $TRAILS_MCP_TOKEN, a session's credential)")
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    app = create_app(backend, tokens=tokens, bound=host, read_only=read_only)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", proxy_headers=False,
                            server_header=False, ws="websockets-sansio", ws_per_message_deflate=False)
    logging.getLogger("uvicorn.error").addFilter(_DenialIsNoError())
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how it is meant to stop (uvicorn has closed every connection by now)
    finally:
        sock.close()
