"""`trails mcp`: the coordination tools over MCP's stdio transport, on the official SDK's MCPServer.

Every tool is one typed request to this home's trails server (trails.api.client): nothing of the
engine runs here. Who asks is the server's decision: with TRAILS_MCP_TOKEN in the environment (the
credential a session's launch gives its agent, trails.core.mcpwire) the caller is that session's
agent, and a credential that is no live session's is refused on every call; with no such variable at
all, the caller is the owner (`user`), who acts for the session `--as` names.

Over Streamable HTTP (trails.ui.mcp.http) there is no process-wide caller: each request is served
with the client of its own bearer token, which http.py puts in `request_client` for the request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import msgspec
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.subscriptions import InMemorySubscriptionBus

from trails import __version__
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client
from trails.core.errors import NotPermitted, TrailsError
from trails.ui.mcp import resources

TOKEN_ENV = "TRAILS_MCP_TOKEN"  # trails.core.mcpwire.TOKEN_ENV (core's engine modules are not for front ends)
INSTRUCTIONS = """trails runs several coding agents at once on this repository, each in its own session.
These tools let you coordinate with the others: message them, claim files before you change them (a
claim is advisory: check list_claims, and claim before editing shared files), and share small
artifacts (plans, notes, files). Every call is recorded, with who made it, for the user to see."""

# The client of the request being served, when it has its own (HTTP: its bearer token's), else build()'s.
request_client: ContextVar[Client | None] = ContextVar("trails_mcp_request_client", default=None)


def caller_from(env: Mapping[str, str], cwd: str) -> Caller:
    """The caller this process is: a session's credential when its environment holds one (even an
    empty one, which the server refuses), else the owner."""
    credential = env.get(TOKEN_ENV)
    rest = {k: v for k, v in env.items() if k != TOKEN_ENV}
    return Caller(trust=Trust.USER, cwd=cwd, env=rest, credential=credential)


def build(client: Client | None, as_session: str | None = None, *, events: Client | None = None) -> MCPServer[Any]:
    """The MCP server whose tools ask the trails server as `client` (None: as each request's own, over
    HTTP), acting for `as_session` when given; `events`: who follows the event stream for resource
    subscriptions (default `client`)."""
    bus = InMemorySubscriptionBus()  # resources.py publishes to it, for subscriptions/listen streams
    server: MCPServer[Any] = MCPServer(name="trails", instructions=INSTRUCTIONS, version=__version__,
                                         log_level="WARNING",  # its stderr is the agent's log: errors only
                                         subscriptions=bus)

    def current() -> Client:
        chosen = request_client.get() or client
        if chosen is None:  # an HTTP request that came past the gate without a client: a bug, refused
            raise NotPermitted("this request has no credential: nothing was done", field="credential")
        return chosen

    def ask(request: t.Request[Any]) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = msgspec.to_builtins(current().call(request))
        except TrailsError as exc:
            raise ToolError(describe(exc)) from None
        return answer

    @server.tool(description='Send a message to another session of this repository by name, or to all of them '
                             'with to="*".')
    def agent_message(to: str, text: str) -> dict[str, Any]:
        return ask(t.AgentMessage(to=to, text=text, as_session=as_session))

    @server.tool(description="Read your inbox: messages to you and to everyone, after message id `since` when "
                             "given (pass the last_id of the previous read).")
    def read_messages(since: int | None = None) -> dict[str, Any]:
        return ask(t.ReadMessages(since=since, as_session=as_session))

    @server.tool(description="Claim a file, directory or glob of the repository before changing it (advisory); "
                             "refused, naming the holder and why, when another session's claim overlaps.")
    def claim_resource(path: str, ttl_seconds: float | None = None, reason: str = "") -> dict[str, Any]:
        return ask(t.ClaimResource(path=path, ttl_seconds=ttl_seconds, reason=reason, as_session=as_session))

    @server.tool(description="Release your claim on `path`, or all of your claims when no path is given.")
    def release_resource(path: str | None = None) -> dict[str, Any]:
        return ask(t.ReleaseResource(path=path, as_session=as_session))

    @server.tool(description="List the claims held in this repository: who holds what, why, and until when.")
    def list_claims() -> dict[str, Any]:
        return ask(t.ListClaims(as_session=as_session))

    @server.tool(description="List this repository's sessions: name, agent, mode, status, branch, claims, last "
                             "message (and diff stats with stats=true); `filter` matches name, agent, mode or status.")
    def query_sessions(filter: str | None = None, stats: bool = False) -> dict[str, Any]:
        return ask(t.QuerySessions(filter=filter, stats=stats, as_session=as_session))

    @server.tool(description="Share text (`content`) or a file of your workdir (`path`) under a name the other "
                             "sessions can read; at most 1 MiB.")
    def share_artifact(name: str, content: str | None = None, path: str | None = None) -> dict[str, Any]:
        return ask(t.ShareArtifact(name=name, text=content, path=path, as_session=as_session))

    @server.tool(description="Read an artifact shared in this repository (text, or base64 `data` for bytes).")
    def get_artifact(name: str) -> dict[str, Any]:
        return ask(t.GetArtifact(name=name, as_session=as_session))

    @server.tool(description="List the artifacts shared in this repository: name, who shared it, size, when.")
    def list_artifacts() -> dict[str, Any]:
        return ask(t.ListArtifacts(as_session=as_session))

    resources.add(server, bus, current, as_session, events=events or client)
    return server


def describe(exc: TrailsError) -> str:
    """An error as the model reads it: its stable code first, then what happened and what to do."""
    text = f"{exc.code}: {exc.message}"
    if exc.hint:
        text += f" (hint: {exc.hint})"
    return text


def serve(as_session: str | None = None) -> None:
    """Serve MCP over this process's stdin and stdout until the client closes them."""
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = "/"
    client = Client(caller=caller_from(os.environ, cwd))
    build(client, as_session).run("stdio")
