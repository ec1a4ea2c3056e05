"""Web tests: the real web server (uvicorn on a free port of 127.0.0.1, in this process) in front of
the real trails server of the test's home, with real tmux sessions of a simple echo agent."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.helpers import wait_until
from trails.ui.web.app import create_app
from trails.ui.web.backend import Backend
from trails.ui.web.serve import listen
from trails.ui.web.tokens import Tokens

ECHO_AGENT = f"{sys.executable} {Path(__file__).resolve().parent.parent / 'core' / 'echo_agent.py'}"


@dataclass
class Web:
    host: str
    port: int
    tokens: Tokens
    repo: Path

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def http(self, token: str | None = "full", **kwargs: Any) -> httpx.Client:
        """A client of the API; `token` "full", "read-only", None (no token) or a token itself."""
        headers = dict(kwargs.pop("headers", {}))
        value = {"full": self.tokens.full, "read-only": self.tokens.read_only}.get(token or "", token)
        if value:
            headers["Authorization"] = f"Bearer {value}"
        return httpx.Client(base_url=self.base, headers=headers, timeout=60, **kwargs)

    def ws(self, path: str, token: str | None = "full", *, host: str | None = None, **kwargs: Any) -> ClientConnection:
        """A WebSocket to this server; `host`: what the request's Host says (the connection goes here)."""
        headers = dict(kwargs.pop("additional_headers", {}))
        value = {"full": self.tokens.full, "read-only": self.tokens.read_only}.get(token or "", token)
        if value:
            headers["Authorization"] = f"Bearer {value}"
        sock = socket.create_connection((self.host, self.port))
        return connect(f"ws://{host or self.host}:{self.port}{path}", sock=sock, additional_headers=headers,
                       open_timeout=30, **kwargs)

    def create(self, name: str, *, mode: str = "worktree", **fields: Any) -> dict[str, Any]:
        with self.http() as api:
            res = api.post("/api/sessions", json={"name": name, "agent": ECHO_AGENT, "mode": mode, **fields})
        assert res.status_code == 200, res.text
        session: dict[str, Any] = res.json()["session"]
        return session


def frames(ws: ClientConnection, timeout: float = 10) -> Iterator[dict[str, Any]]:
    """The socket's messages as JSON, until none came for `timeout` seconds or it closed."""
    while True:
        try:
            message = ws.recv(timeout=timeout)
        except (TimeoutError, ConnectionClosed):
            return
        yield json.loads(message)


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = listen("127.0.0.1", 0)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws="websockets-sansio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=20, message="the web server to start")
    return server, thread, sock.getsockname()[1]


@pytest.fixture
def web(trails_env: dict[str, Path], repo: Path) -> Iterator[Web]:
    home = trails_env["home"]
    tokens = Tokens.of_home(home)
    app = create_app(Backend(home, cwd=str(repo), local=False), tokens=tokens, bound="127.0.0.1")
    server, thread, port = serve(app)
    try:
        yield Web("127.0.0.1", port, tokens, repo)
    finally:
        server.should_exit = True
        thread.join(15)
