"""The repository's sessions as MCP resources, and `resources/subscribe` on them.

    trails://sessions          the repository's sessions (what query_sessions returns), JSON
    trails://sessions/{name}   one of them: agent, mode, status, branch, claims, last message

A client that subscribes to either gets `notifications/resources/updated` for it when the trails
server's event stream says something happened to a session it covers; it reads the resource again
to see what. Both generations of the protocol: `resources/subscribe` (2025-11-25 and before, what
agents speak today; MCPServer does not offer it, so its handlers are registered on the low-level
server here) and a `subscriptions/listen` stream (2026-07-28, served by MCPServer from its bus,
which this module publishes to). One thread per MCP server follows the stream (trails.api.client's
subscription), from the first subscription on, and hands each event to the event loop.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import msgspec
from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.session import ServerSession
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from mcp import types
from trails.api import types as t
from trails.api.client import Client
from trails.core.errors import TrailsError

SESSIONS = "trails://sessions"
SESSION = "trails://sessions/{name}"
RETRY_SECONDS = 1.0  # after the event stream broke (the trails server restarting), before following it again
SEND_SECONDS = 2.0  # a client that takes no notification for this long (not reading its stream) is dropped


def session_uri(name: str) -> str:
    return SESSION.format(name=name)


def add(server: MCPServer[Any], bus: SubscriptionBus, current: Callable[[], Client], as_session: str | None, *,
        events: Client | None) -> None:
    """The resources, read as `current()`'s caller; `bus`: the one `server` serves listen streams
    from; `events`: who follows the event stream (default: the first subscriber's client)."""

    def peers(name: str | None = None) -> t.PeerList:
        try:
            return current().call(t.QuerySessions(filter=name, as_session=as_session))
        except TrailsError as exc:
            raise ResourceError(f"{exc.code}: {exc.message}") from None

    @server.resource(SESSIONS, name="sessions", mime_type="application/json",
                     description="This repository's sessions: name, agent, mode, status, branch, claims, last message.")
    def sessions() -> str:
        return msgspec.json.encode(peers()).decode()

    @server.resource(SESSION, name="session", mime_type="application/json",
                     description="One session of this repository: agent, mode, status, branch, claims, last message.")
    def session(name: str) -> str:
        found = [peer for peer in peers(name).sessions if peer.name == name]
        if not found:
            raise ResourceError(f"session_not_found: no session {name!r} in this repository")
        return msgspec.json.encode(found[0]).decode()

    watch = Subscriptions(bus, lambda: events or current())
    low = server._lowlevel_server  # MCPServer has no public seam for these two methods
    low.add_request_handler("resources/subscribe", types.SubscribeRequestParams, watch.subscribe)
    low.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, watch.unsubscribe)
    server.middleware.append(watch.on_listen)


class Subscriptions:
    """Which connection watches which URIs (touched on the event loop only), and the stream's follower."""

    def __init__(self, bus: SubscriptionBus, follower: Callable[[], Client]) -> None:
        self.bus = bus
        self.follower = follower
        # By client connection (gone with it: the SDK makes a ServerSession per request, not per client).
        self.watching: weakref.WeakKeyDictionary[Connection, set[str]] = weakref.WeakKeyDictionary()
        self.following: anyio.Event | None = None  # set once the follower's subscription is under way

    async def subscribe(self, ctx: ServerRequestContext[Any, Any],
                        params: types.SubscribeRequestParams) -> types.EmptyResult:
        self.watching.setdefault(_connection(ctx.session), set()).add(str(params.uri))
        await self.start()
        return types.EmptyResult()

    async def on_listen(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """A middleware: a `subscriptions/listen` stream is fed from the bus, which needs the follower."""
        if ctx.method == "subscriptions/listen":
            await self.start()
        return await call_next(ctx)

    async def start(self) -> None:
        """The follower, started once; under way before a subscription is answered, so a change
        right after the answer is not missed."""
        if self.following is not None:
            await self.following.wait()
            return
        self.following = following = anyio.Event()
        try:
            client = self.follower()
            stream = await anyio.to_thread.run_sync(client.subscribe)
        except BaseException:
            self.following = None  # the next subscription tries again
            following.set()
            raise
        thread = threading.Thread(target=self._follow, args=(client, stream, anyio.lowlevel.current_token()),
                                  name="trails-mcp-events", daemon=True)
        thread.start()
        following.set()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any],
                          params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        self.watching.get(_connection(ctx.session), set()).discard(str(params.uri))
        return types.EmptyResult()

    async def tell(self, name: str) -> None:
        """Something happened to session `name`: notify whoever watches it or the list."""
        changed = {SESSIONS, session_uri(name)}
        for uri in sorted(changed):
            await self.bus.publish(ResourceUpdated(uri=uri))  # each listen stream takes the URIs it asked for
        for connection, uris in list(self.watching.items()):
            for uri in sorted(uris & changed):
                sent = False
                with anyio.move_on_after(SEND_SECONDS), contextlib.suppress(anyio.ClosedResourceError,
                                                                            anyio.BrokenResourceError):
                    await connection.send_resource_updated(uri)
                    sent = True
                if not sent:  # gone, or not reading: it must not hold up the others
                    self.watching.pop(connection, None)
                    break

    def _follow(self, client: Client, stream: Iterator[t.EventInfo], loop: object) -> None:
        last: int | None = None
        stopped = threading.Event()  # never set: what the retry waits on instead of a bare sleep
        while True:
            try:
                for event in stream:
                    last = event.id
                    if event.session is not None:
                        anyio.from_thread.run(self.tell, event.session, token=loop)  # type: ignore[arg-type]
            except anyio.RunFinishedError:
                return  # the MCP server has ended
            except (TrailsError, OSError):
                pass
            stopped.wait(RETRY_SECONDS)
            try:
                stream = client.subscribe(since=last)
            except (TrailsError, OSError):
                stream = iter(())


def _connection(session: ServerSession) -> Connection:
    """The client connection a request's session belongs to (ServerSession has no public way to it)."""
    connection: Connection = session._connection
    return connection
