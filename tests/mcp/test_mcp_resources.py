"""The sessions as MCP resources over `trails mcp` (stdio): read them, subscribe, and hear of a change
from the trails server's event stream (resources/updated), through the SDK's own client."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

from mcp import ClientSession, types
from tests.helpers import as_user, credential, start
from tests.mcp.test_mcp_stdio import _env
from trails.api import types as t
from trails.api.client import Client


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # what 2025-era clients (agents) speak
def test_subscribed_to_a_session_a_client_hears_when_it_changes(trails_env: dict[str, Path], repo: Path) -> None:
    client = Client(trails_env["home"], caller=as_user(repo), local=False)
    a, b = start(client, repo, "a"), start(client, repo, "b")
    token_a = credential(trails_env["socket"], a)
    updated: list[str] = []
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updated.append(str(message.params.uri))
            heard.set()

    async def body() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "trails", "mcp"], cwd=str(repo),
                                       env=_env(trails_env, token_a))
        async with stdio_client(params) as (read, write), \
                ClientSession(read, write, message_handler=on_message) as session:
            init = await session.initialize()
            assert init.capabilities.resources is not None and init.capabilities.resources.subscribe
            listed = json.loads((await session.read_resource("trails://sessions")).contents[0].text)  # type: ignore[union-attr]
            assert {p["name"] for p in listed["sessions"]} == {"a", "b"}
            with pytest.raises(MCPError, match="session_not_found"):
                await session.read_resource("trails://sessions/nobody")
            await session.subscribe_resource("trails://sessions")
            await anyio.to_thread.run_sync(lambda: client.call(t.Pause(name=b.name)))
            with anyio.fail_after(10):
                await heard.wait()
            assert "trails://sessions" in updated and "trails://sessions/b" not in updated  # not subscribed to it
            now = json.loads((await session.read_resource("trails://sessions/b")).contents[0].text)  # type: ignore[union-attr]
            assert now["status"] == "paused", now

    anyio.run(body)
