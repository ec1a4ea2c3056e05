"""The web server's side of the trails server: each HTTP call is one typed request, sent through the
client (in a worker thread: the client blocks) as a web caller — read-only when the token is."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client, Connection
from trails.core import errors as e
from trails.ui.web.tokens import Access

T = TypeVar("T")

# HTTP status by error code; an InvalidInput of any kind is 400, anything unknown 500.
STATUS: dict[str, int] = {
    "not_permitted": 403,
    "session_not_found": 404,
    "not_found": 404,
    "session_exists": 409,
    "session_state": 409,
    "uncommitted_work": 409,
    "repo_busy": 409,
    "branch_error": 409,
    "worktree_error": 409,
    "worktree_limit": 409,
    "untrusted_repository": 409,
    "rule_violation": 409,
    "mode_unavailable": 409,
    "merge_conflict": 409,
    "rebase_conflict": 409,
    "cancelled": 409,
    "run_error": 409,
    "config_error": 400,
    "server_error": 503,
    "unsafe_socket": 503,
    # A HOST:NAME session's host (issue #16): not configured, or the server could not reach it.
    "host_not_found": 404,
    "host_unreachable": 502,
    "host_auth_refused": 502,
    "host_key_unverified": 502,
    "host_trails_missing": 502,
}


def http_status(exc: e.TrailsError) -> int:
    if exc.code in STATUS:
        return STATUS[exc.code]
    return 400 if isinstance(exc, e.InvalidInput) else 500


def error_json(exc: e.TrailsError) -> dict[str, Any]:
    """The error as the API sends it: code, message, hint, field (and a conflict's files)."""
    body: dict[str, Any] = {"code": exc.code, "message": exc.message, "hint": exc.hint, "field": exc.field}
    for key in ("files", "onto", "sent_to_agent"):
        if getattr(exc, key, None) is not None:
            body[key] = getattr(exc, key)
    return {"error": body}


class Backend:
    """Requests to this home's trails server, for web callers working from `cwd` (where `trails web`
    was started: what relative paths and the default worktree are taken from)."""

    def __init__(self, home: Path, *, cwd: str, env: dict[str, str] | None = None, runs_dir: str = "runs",
                 local: bool | None = None) -> None:
        self.home = home
        self.cwd = cwd
        self.env = dict(os.environ) if env is None else env
        self.runs_dir = runs_dir
        self.local = local

    def caller(self, access: Access) -> Caller:
        return Caller(trust=Trust.WEB, read_only=access is not Access.FULL, cwd=self.cwd, env=self.env)

    def client(self, access: Access) -> Client:
        return Client(self.home, caller=self.caller(access), local=self.local)

    async def call(self, request: t.Request[T], access: Access) -> T:
        client = self.client(access)
        result: T = await anyio.to_thread.run_sync(client.call, request)
        return result

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """A blocking function (a stream's next item, a connection's call) in a worker thread."""
        return await anyio.to_thread.run_sync(func, *args)

    def connection(self, access: Access) -> Connection:
        return self.client(access).connection()
