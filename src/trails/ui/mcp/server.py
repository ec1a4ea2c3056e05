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
from collections.abc import Callable, Mapping
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
from trails.core.models import Status
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
    subscriptions (default `client`).

    The orchestration tools are listed to a coordinator's agent only; over HTTP one server answers
    every caller, so it lists them to all, and the trails server refuses them to any but a
    coordinator (trails.server.orchestration), as it does on every path."""
    coordinator = is_coordinator(client) if client is not None else None
    instructions = INSTRUCTIONS + {True: COORDINATOR_INSTRUCTIONS, False: "", None: SHARED_INSTRUCTIONS}[coordinator]
    bus = InMemorySubscriptionBus()  # resources.py publishes to it, for subscriptions/listen streams
    server: MCPServer[Any] = MCPServer(name="trails", instructions=instructions, version=__version__,
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
    if coordinator is not False:
        add_orchestration_tools(server, ask)
    return server


# --- the coordinator's tools (issue #12): only a coordinator's agent gets them, and the server scopes
# each call anyway (trails.server.orchestration) -----------------------------------------------------

COORDINATOR_INSTRUCTIONS = """
You are a coordinator: you may also create worker sessions, prompt them, wait for them, read their
output and diffs, merge their work, pause and kill them. You read any session of this repository but
change only your own workers."""
SHARED_INSTRUCTIONS = """
The tools create_session, send_prompt, wait_for_status and the other orchestration tools work only
for a session the user made a coordinator; for any other they are refused."""
STATUS_FIELDS = ("name", "agent", "mode", "status", "status_reason", "branch", "parent", "coordinator", "workdir")


def is_coordinator(client: Client) -> bool:
    """Whether the server takes this process's caller to be a coordinator's agent (else: no such tools)."""
    try:
        return client.call(t.Whoami()).coordinator
    except TrailsError:
        return False  # a credential the server refuses: every tool says so when called


def add_orchestration_tools(server: MCPServer[Any], ask: Callable[[t.Request[Any]], dict[str, Any]]) -> None:
    def status(info: dict[str, Any]) -> dict[str, Any]:
        return {key: info.get(key) for key in STATUS_FIELDS}

    @server.tool(description="Create a worker session in this repository: a name, an agent (claude, codex, gemini, "
                             "aider or a command line), and optionally mode, first prompt, base commit and branch.")
    def create_session(name: str, agent: str, mode: str | None = None, prompt: str | None = None,
                       base: str | None = None, branch: str | None = None) -> dict[str, Any]:
        made = ask(t.Create(name=name, agent=agent, mode=mode, prompt=prompt, base=base, branch=branch))
        return {"session": status(made["session"]), "notes": made["notes"]}

    @server.tool(description="Type a prompt into one of your workers' agents (submitted as if typed).")
    def send_prompt(name: str, text: str) -> dict[str, Any]:
        return ask(t.Send(name=name, text=text))

    @server.tool(description="A session's status now (creating, loading, running, ready, waiting, paused, error, "
                             "completed, killed), with its reason, mode, branch and parent.")
    def get_session_status(name: str) -> dict[str, Any]:
        return status(ask(t.Get(name=name)))

    @server.tool(description="Wait until every named session is in one of `statuses` (e.g. [\"ready\"]) or ended, "
                             f"at most `timeout` seconds (at most {int(t.WAIT_MAX_SECONDS)}); returns their statuses.")
    def wait_for_status(names: list[str], statuses: list[str], timeout: float = 60.0) -> dict[str, Any]:
        try:
            request = msgspec.convert({"names": names, "statuses": statuses, "timeout": timeout}, t.WaitForStatus)
        except msgspec.ValidationError as exc:
            raise ToolError(f"invalid_input: {exc} (statuses are: {', '.join(s.value for s in Status)})") from None
        return ask(request)

    @server.tool(description="The last `lines` lines of a session's terminal output (default: its screen).")
    def get_session_output(name: str, lines: int | None = None) -> dict[str, Any]:
        return ask(t.Output(name=name, lines=lines))

    @server.tool(description="A session's changes against the commit it started from, as a unified diff "
                             "(stat=true: the counts only).")
    def get_diff(name: str, stat: bool = False) -> dict[str, Any]:
        return ask(t.Diff(name=name, stat=stat))

    @server.tool(description="Merge one of your workers' branches into the main checkout's branch; a conflict "
                             "changes nothing and is reported with its files. It must have committed its work.")
    def merge_session(name: str, strategy: str | None = None, message: str | None = None) -> dict[str, Any]:
        return ask(t.Merge(name=name, strategy=strategy, message=message))

    @server.tool(description="Pause one of your workers: its work is saved and its agent stopped until resumed.")
    def pause_session(name: str) -> dict[str, Any]:
        return ask(t.Pause(name=name))

    @server.tool(description="End one of your workers; refused (nothing changed) while it has unsaved work.")
    def kill_session(name: str) -> dict[str, Any]:
        return ask(t.Kill(name=name))


def describe(exc: TrailsError) -> str:
    """An error as the model reads it: its stable code first, then what happened and what to do."""
    text = f"{exc.code}: {exc.message}"
    files = getattr(exc, "files", None)
    if files:  # a merge's conflicts
        text += f" (files: {', '.join(files)})"
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
