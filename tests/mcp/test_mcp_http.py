"""MCP over Streamable HTTP at the web server's /mcp, through the SDK's own client
(mcp.client.streamable_http + ClientSession), against the real trails server and real sessions: each
request is served as the caller of its own bearer token, and nothing passes without one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client.client import Client as McpClient
from mcp.client.streamable_http import streamable_http_client
from mcp.server.subscriptions import ResourceUpdated
from mcp.shared._httpx_utils import create_mcp_http_client

from mcp import ClientSession, types
from tests.helpers import SessionRef, as_user, credential, start, wait_until
from tests.mcp.test_coordinator import ORCHESTRATION
from tests.mcp.test_mcp_stdio import TOOLS, call
from tests.web.conftest import serve
from trails.api import types as t
from trails.api.client import Client
from trails.ui.web.app import create_app
from trails.ui.web.backend import Backend
from trails.ui.web.tokens import Tokens

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture
def client(trails_env: dict[str, Path], repo: Path) -> Client:
    return Client(trails_env["home"], caller=as_user(repo), local=False)


@pytest.fixture
def pair(client: Client, repo: Path) -> tuple[SessionRef, SessionRef]:
    return start(client, repo, "a"), start(client, repo, "b")


@pytest.fixture
def web(trails_env: dict[str, Path], repo: Path) -> Iterator[tuple[str, Tokens]]:
    home = trails_env["home"]
    tokens = Tokens.of_home(home)
    app = create_app(Backend(home, cwd=str(repo), local=False), tokens=tokens, bound="127.0.0.1")
    server, thread, port = serve(app)
    try:
        yield f"http://127.0.0.1:{port}", tokens
    finally:
        server.should_exit = True
        thread.join(15)


@asynccontextmanager
async def mcp_http(base: str, token: str | None, **session_args: Any) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with create_mcp_http_client(headers=headers, timeout=httpx2.Timeout(30)) as http, \
            streamable_http_client(f"{base}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write, **session_args) as session:
        await session.initialize()
        yield session


def test_a_sessions_credential_speaks_as_its_agent(trails_env: dict[str, Path], repo: Path, client: Client,
                                                     pair: tuple[SessionRef, SessionRef],
                                                     web: tuple[str, Tokens]) -> None:
    a, b = pair
    token_a, token_b = credential(trails_env["socket"], a), credential(trails_env["socket"], b)
    base, _ = web

    async def body() -> None:
        async with mcp_http(base, token_a) as agent_a, mcp_http(base, token_b) as agent_b:
            # One HTTP server answers every caller: the orchestration tools are listed, and refused.
            assert {tool.name for tool in (await agent_a.list_tools()).tools} == TOOLS | ORCHESTRATION
            failed, text = await call(agent_a, "create_session", name="c", agent="cat")
            assert failed and "not_permitted" in text and "for coordinators" in text, text
            failed, sent = await call(agent_a, "agent_message", to="b", text="over http")
            assert not failed and sent["from"] == "a", sent
            failed, inbox = await call(agent_b, "read_messages")
            assert not failed and [(m["from"], m["text"]) for m in inbox["messages"]] == [("a", "over http")]
            failed, claimed = await call(agent_b, "claim_resource", path="src/*")
            assert not failed and claimed["session"] == "b", claimed

    anyio.run(body)
    (event,) = [e for e in client.call(t.Events()).events if e.kind == "message"]
    assert (event.session, event.caller) == ("a", "agent:a")


def test_no_token_or_a_forged_one_is_401_and_nothing_is_stored(
        trails_env: dict[str, Path], repo: Path, client: Client, pair: tuple[SessionRef, SessionRef],
        web: tuple[str, Tokens]) -> None:
    base, _ = web
    send = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "agent_message", "arguments": {"to": "b", "text": "forged"}}}
    with httpx.Client(base_url=base, timeout=30) as http:
        for headers in ({}, {"Authorization": "Bearer forged-" + "x" * 40}, {"Authorization": "Bearer"},
                        {"Authorization": "Basic YTpi"}):
            for body in (INIT, send):
                res = http.post("/mcp", json=body, headers={**MCP_HEADERS, **headers})
                assert res.status_code == 401, (headers, res.text)
                assert res.json()["error"]["code"] == "unauthorized"
                assert res.headers["www-authenticate"].startswith("Bearer")
    with httpx.Client(base_url=base, timeout=30, cookies={"trails_token": web[1].full}) as page:
        # The web page's cookie is not a way in either.
        assert page.post("/mcp", json=INIT, headers=MCP_HEADERS).status_code == 401

    async def sdk_client_is_refused() -> None:
        with pytest.raises(Exception):  # noqa: B017 - the SDK reports a refused initialize as an MCPError in a group
            async with mcp_http(base, "forged-token"):
                pass

    anyio.run(sdk_client_is_refused)
    assert client.call(t.ReadMessages(as_session="b")).messages == []
    assert [e for e in client.call(t.Events()).events if e.kind == "message"] == []


def test_the_credential_of_a_session_that_ended_is_401(trails_env: dict[str, Path], repo: Path, client: Client,
                                                       pair: tuple[SessionRef, SessionRef],
                                                       web: tuple[str, Tokens]) -> None:
    token_a = credential(trails_env["socket"], pair[0])
    base, _ = web
    auth = {**MCP_HEADERS, "Authorization": f"Bearer {token_a}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/mcp", json=INIT, headers=auth).status_code == 200
        client.call(t.Kill(name="a"))
        # Within the second a check holds the trails server refuses it itself; then the gate does.
        wait_until(lambda: http.post("/mcp", json=INIT, headers=auth).status_code == 401, timeout=10,
                   message="the ended session's credential refused")


def test_one_sessions_token_cannot_act_as_another_nor_take_over_its_mcp_session(
        trails_env: dict[str, Path], repo: Path, client: Client, pair: tuple[SessionRef, SessionRef],
        web: tuple[str, Tokens]) -> None:
    a, b = pair
    token_a, token_b = credential(trails_env["socket"], a), credential(trails_env["socket"], b)
    base, _ = web
    with httpx.Client(base_url=base, timeout=30) as http:
        opened = http.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {token_b}"})
        assert opened.status_code == 200, opened.text
        session_id = opened.headers["mcp-session-id"]
        # a's token on b's MCP session: as if there were no such session.
        res = http.post("/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                        headers={**MCP_HEADERS, "Authorization": f"Bearer {token_a}", "Mcp-Session-Id": session_id})
        assert res.status_code == 404, res.text

    async def body() -> None:
        async with mcp_http(base, token_a) as agent_a:
            # No way to say "as b" over HTTP: the tools act for the token's own session.
            failed, sent = await call(agent_a, "agent_message", to="b", text="from a")
            assert not failed and sent["from"] == "a", sent

    anyio.run(body)
    assert [m.from_session for m in client.call(t.ReadMessages(as_session="b")).messages] == ["a"]


def test_a_foreign_host_or_origin_is_refused(trails_env: dict[str, Path], repo: Path,
                                             pair: tuple[SessionRef, SessionRef], web: tuple[str, Tokens]) -> None:
    token_a = credential(trails_env["socket"], pair[0])
    base, _ = web
    auth = {**MCP_HEADERS, "Authorization": f"Bearer {token_a}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        for extra in ({"Host": "evil.example"}, {"Host": "127.0.0.1.nip.io"}, {"Origin": "http://evil.example"}):
            res = http.post("/mcp", json=INIT, headers={**auth, **extra})
            assert res.status_code == 403, (extra, res.text)
        assert http.post("/mcp", json=INIT, headers={**auth, "Origin": base}).status_code == 200


def test_the_webs_own_tokens_are_web_callers(trails_env: dict[str, Path], repo: Path, client: Client,
                                             pair: tuple[SessionRef, SessionRef], web: tuple[str, Tokens]) -> None:
    base, tokens = web

    async def body() -> None:
        async with mcp_http(base, tokens.full) as full, mcp_http(base, tokens.read_only) as watcher:
            failed, listed = await call(full, "query_sessions")
            assert not failed and {p["name"] for p in listed["sessions"]} == {"a", "b"}
            failed, text = await call(full, "agent_message", to="b", text="from the web")
            assert failed and text.startswith("needs_session:"), text
            failed, text = await call(watcher, "claim_resource", path="x")
            assert failed and text.startswith("not_permitted:"), text

    anyio.run(body)
    assert client.call(t.ListClaims()).claims == []


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # what 2025-era clients (agents) speak
def test_resources_list_read_and_subscribe(trails_env: dict[str, Path], repo: Path, client: Client,
                                           pair: tuple[SessionRef, SessionRef], web: tuple[str, Tokens]) -> None:
    token_a = credential(trails_env["socket"], pair[0])
    base, _ = web
    updated: list[str] = []
    got = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            got.set()

    async def body() -> None:
        async with mcp_http(base, token_a, message_handler=on_message) as agent_a:
            listed = (await agent_a.list_resources()).resources
            assert [str(r.uri) for r in listed] == ["trails://sessions"]
            templates = (await agent_a.list_resource_templates()).resource_templates
            assert [r.uri_template for r in templates] == ["trails://sessions/{name}"]
            read = await agent_a.read_resource("trails://sessions")
            peers = json.loads(read.contents[0].text)  # type: ignore[union-attr]
            assert {p["name"]: p["status"] for p in peers["sessions"]}.keys() == {"a", "b"}
            one = json.loads((await agent_a.read_resource("trails://sessions/b")).contents[0].text)  # type: ignore[union-attr]
            assert one["name"] == "b" and one["agent"] == "cat"
            await agent_a.subscribe_resource("trails://sessions/b")
            await anyio.to_thread.run_sync(lambda: client.call(t.Pause(name="b")))
            with anyio.fail_after(10):
                await got.wait()
            assert updated[0] == "trails://sessions/b"
            paused = json.loads((await agent_a.read_resource("trails://sessions/b")).contents[0].text)  # type: ignore[union-attr]
            assert paused["status"] == "paused", paused

    anyio.run(body)


def test_a_client_of_the_2026_protocol_is_its_agent_and_listens_for_changes(
        trails_env: dict[str, Path], repo: Path, client: Client, pair: tuple[SessionRef, SessionRef],
        web: tuple[str, Tokens]) -> None:
    """The SDK's high-level Client speaks 2026-07-28 when the server does (no handshake; a
    `subscriptions/listen` stream instead of resources/subscribe)."""
    token_a = credential(trails_env["socket"], pair[0])
    base, _ = web

    async def body() -> None:
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {token_a}"},
                                          timeout=httpx2.Timeout(30)) as http, \
                McpClient(streamable_http_client(f"{base}/mcp", http_client=http)) as modern:
            sent = await modern.call_tool("agent_message", {"to": "b", "text": "modern"})
            assert not sent.is_error and sent.structured_content["from"] == "a", sent  # type: ignore[index]
            async with modern.listen(resource_subscriptions=["trails://sessions/b"]) as stream:
                await anyio.to_thread.run_sync(lambda: client.call(t.Pause(name="b")))
                with anyio.fail_after(10):
                    event = await stream.__anext__()
            assert event == ResourceUpdated(uri="trails://sessions/b")

    anyio.run(body)


def test_a_read_only_web_server_takes_no_agent_credential(trails_env: dict[str, Path], repo: Path,
                                                          pair: tuple[SessionRef, SessionRef]) -> None:
    token_a = credential(trails_env["socket"], pair[0])
    tokens = Tokens.of_home(trails_env["home"])
    app = create_app(Backend(trails_env["home"], cwd=str(repo), local=False), tokens=tokens, bound="127.0.0.1",
                     read_only=True)
    server, thread, port = serve(app)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {token_a}"}
                             ).status_code == 401
            assert http.post("/mcp", json=INIT, headers={**MCP_HEADERS, "Authorization": f"Bearer {tokens.full}"}
                             ).status_code == 200  # the web's token, made read-only
    finally:
        server.should_exit = True
        thread.join(15)
