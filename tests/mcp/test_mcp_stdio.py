"""`trails mcp` through the MCP SDK's own client (mcp.client.stdio + ClientSession), against the real
trails server and real sessions on the test's private tmux socket: each session's agent is the
session its credential names, and the coordination flows of issue #12 work end to end."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp import ClientSession
from tests.helpers import SessionRef, as_user, credential, git, start
from trails.api import types as t
from trails.api.client import Client
from trails.core import coordination as co

SRC = str(Path(__file__).resolve().parents[2] / "src")
TOOLS = {"agent_message", "read_messages", "claim_resource", "release_resource", "list_claims", "query_sessions",
         "share_artifact", "get_artifact", "list_artifacts"}


@pytest.fixture
def client(trails_env: dict[str, Path], repo: Path) -> Client:
    return Client(trails_env["home"], caller=as_user(repo), local=False)


@pytest.fixture
def pair(client: Client, repo: Path) -> tuple[SessionRef, SessionRef]:
    return start(client, repo, "a"), start(client, repo, "b")


def _env(trails_env: dict[str, Path], token: str | None) -> dict[str, str]:
    env = {"TRAILS_HOME": str(trails_env["home"]), "TRAILS_TMUX_SOCKET": str(trails_env["socket"]),
           "PYTHONPATH": SRC, "TRAILS_WARM": "off", "TRAILS_SUPERVISOR": "off",
           "GIT_CONFIG_GLOBAL": os.environ["GIT_CONFIG_GLOBAL"], "GIT_CONFIG_NOSYSTEM": "1"}
    if token is not None:
        env["TRAILS_MCP_TOKEN"] = token
    return env


@asynccontextmanager
async def mcp_session(trails_env: dict[str, Path], cwd: Path, token: str | None,
                      *args: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "trails", "mcp", *args], cwd=str(cwd),
                                   env=_env(trails_env, token))
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """(is_error, the JSON answer or the error's text)."""
    result = await session.call_tool(tool, arguments)
    text = "".join(getattr(c, "text", "") for c in result.content)  # type: ignore[union-attr]
    if result.is_error:  # type: ignore[union-attr]
        return True, text.removeprefix(f"Error executing tool {tool}: ")
    return False, json.loads(text)


def test_the_tools_are_listed_each_with_a_description(trails_env: dict[str, Path], repo: Path) -> None:
    async def body() -> None:
        async with mcp_session(trails_env, repo, None) as session:
            listed = (await session.list_tools()).tools
            assert {tool.name for tool in listed} == TOOLS
            assert all(tool.description and "\n" not in tool.description for tool in listed)

    anyio.run(body)


def test_a_messages_b_and_b_reads_it(trails_env: dict[str, Path], repo: Path,
                                     pair: tuple[SessionRef, SessionRef], client: Client) -> None:
    a, b = pair
    token_a, token_b = credential(trails_env["socket"], a), credential(trails_env["socket"], b)

    async def body() -> None:
        async with mcp_session(trails_env, repo, token_a) as agent_a, \
                mcp_session(trails_env, repo, token_b) as agent_b:
            failed, sent = await call(agent_a, "agent_message", to="b", text="please review src/app.py")
            assert not failed and sent["from"] == "a", sent
            failed, inbox = await call(agent_b, "read_messages")
            assert not failed and [(m["from"], m["text"]) for m in inbox["messages"]] == \
                [("a", "please review src/app.py")]
            failed, again = await call(agent_b, "read_messages", since=inbox["last_id"])
            assert not failed and again["messages"] == []
            failed, own = await call(agent_a, "read_messages")
            assert own["messages"] == []

    anyio.run(body)
    (event,) = [e for e in client.call(t.Events()).events if e.kind == "message"]
    assert (event.session, event.caller) == ("a", "agent:a")
    logged = [json.loads(line) for line in co.log_path(str(repo)).read_text().splitlines()]
    assert [(x["kind"], x["from"], x["to"]) for x in logged] == [("message", "a", "b")]
    assert git(repo, "status", "--porcelain") == ""  # the log is git-ignored, with no file in the work tree


def test_a_claims_src_app_and_bs_claim_of_src_star_is_refused_naming_a(
        trails_env: dict[str, Path], repo: Path, pair: tuple[SessionRef, SessionRef]) -> None:
    a, b = pair
    token_a, token_b = credential(trails_env["socket"], a), credential(trails_env["socket"], b)

    async def body() -> None:
        async with mcp_session(trails_env, repo, token_a) as agent_a, \
                mcp_session(trails_env, repo, token_b) as agent_b:
            failed, claimed = await call(agent_a, "claim_resource", path="src/app.py", reason="rewriting the app")
            assert not failed and claimed["session"] == "a", claimed
            failed, refused = await call(agent_b, "claim_resource", path="src/*")
            assert failed and refused.startswith("claim_conflict:"), refused
            assert "claimed by a" in refused and "src/app.py" in refused and "rewriting the app" in refused
            failed, held = await call(agent_b, "list_claims")
            assert [(c["session"], c["path"]) for c in held["claims"]] == [("a", "src/app.py")]
            failed, peers = await call(agent_b, "query_sessions")
            assert {p["name"]: p["claims"] for p in peers["sessions"]} == {"a": ["src/app.py"], "b": []}
            assert (await call(agent_a, "release_resource"))[1]["claims"][0]["path"] == "src/app.py"
            failed, now = await call(agent_b, "claim_resource", path="src/*")
            assert not failed and now["session"] == "b"

    anyio.run(body)


def test_an_artifact_shared_by_a_is_read_by_b(trails_env: dict[str, Path], repo: Path,
                                              pair: tuple[SessionRef, SessionRef]) -> None:
    a, b = pair
    token_a, token_b = credential(trails_env["socket"], a), credential(trails_env["socket"], b)
    workdir_a = Client(trails_env["home"], local=False).call(t.Get(name="a")).workdir
    Path(workdir_a, "notes.txt").write_text("the plan: split app.py\n")

    async def body() -> None:
        async with mcp_session(trails_env, repo, token_a) as agent_a, \
                mcp_session(trails_env, repo, token_b) as agent_b:
            failed, shared = await call(agent_a, "share_artifact", name="plan.md", content="# Plan\n1. split\n")
            assert not failed and (shared["session"], shared["size"]) == ("a", 16), shared
            failed, from_file = await call(agent_a, "share_artifact", name="notes.txt", path="notes.txt")
            assert not failed and from_file["size"] == 23, from_file
            failed, escaped = await call(agent_a, "share_artifact", name="pw", path="../../../../etc/passwd")
            assert failed and escaped.startswith("path_outside_worktree:"), escaped
            failed, got = await call(agent_b, "get_artifact", name="plan.md")
            assert not failed and (got["text"], got["session"]) == ("# Plan\n1. split\n", "a")
            failed, listed = await call(agent_b, "list_artifacts")
            assert [x["name"] for x in listed["artifacts"]] == ["notes.txt", "plan.md"]
            failed, taken = await call(agent_b, "share_artifact", name="plan.md", content="mine now")
            assert failed and taken.startswith("artifact_taken:"), taken

    anyio.run(body)


def test_a_forged_or_empty_credential_is_refused_and_none_is_the_owner(
        trails_env: dict[str, Path], repo: Path, pair: tuple[SessionRef, SessionRef], client: Client) -> None:
    async def body() -> None:
        for forged in ("forged-token", ""):
            async with mcp_session(trails_env, repo, forged) as session:
                for tool, args in (("agent_message", {"to": "b", "text": "forged"}), ("list_claims", {})):
                    failed, text = await call(session, tool, **args)
                    assert failed and text.startswith("not_permitted:") and "credential" in text, text
        # No credential at all: the owner, who must say which session it acts for…
        async with mcp_session(trails_env, repo, None) as owner:
            failed, text = await call(owner, "agent_message", to="b", text="hello")
            assert failed and text.startswith("needs_session:"), text
            failed, listed = await call(owner, "query_sessions")
            assert not failed and {p["name"] for p in listed["sessions"]} == {"a", "b"}
        async with mcp_session(trails_env, repo, None, "--as", "a") as owner_as_a:
            failed, sent = await call(owner_as_a, "agent_message", to="b", text="from the owner, as a")
            assert not failed and sent["from"] == "a"

    anyio.run(body)
    texts = [m.text for m in client.call(t.ReadMessages(as_session="b")).messages]
    assert texts == ["from the owner, as a"]  # nothing forged was stored
    assert [e.caller for e in client.call(t.Events()).events if e.kind == "message"] == ["user"]


def test_an_agent_cannot_act_as_another_session(trails_env: dict[str, Path], repo: Path,
                                                pair: tuple[SessionRef, SessionRef], client: Client) -> None:
    token_a = credential(trails_env["socket"], pair[0])

    async def body() -> None:
        async with mcp_session(trails_env, repo, token_a, "--as", "b") as posing:
            for tool, args in (("agent_message", {"to": "a", "text": "I am b"}), ("read_messages", {}),
                               ("claim_resource", {"path": "x"})):
                failed, text = await call(posing, tool, **args)
                assert failed and text.startswith("not_permitted:") and "speaks only for itself" in text, text

    anyio.run(body)
    assert client.call(t.ListClaims()).claims == []
    assert client.call(t.ReadMessages(as_session="a")).messages == []


def test_oversized_messages_and_artifacts_and_a_flood_are_clear_errors_with_nothing_stored(
        trails_env: dict[str, Path], repo: Path, pair: tuple[SessionRef, SessionRef], client: Client) -> None:
    token_a = credential(trails_env["socket"], pair[0])

    async def body() -> None:
        async with mcp_session(trails_env, repo, token_a) as agent_a:
            failed, text = await call(agent_a, "agent_message", to="b", text="x" * (co.MESSAGE_MAX_BYTES + 1))
            assert failed and text.startswith("too_large:") and str(co.MESSAGE_MAX_BYTES) in text, text
            failed, text = await call(agent_a, "share_artifact", name="big.txt",
                                      content="y" * (co.ARTIFACT_MAX_BYTES + 1))
            assert failed and text.startswith("too_large:"), text
            for i in range(co.RATE_MAX):
                failed, text = await call(agent_a, "agent_message", to="b", text=f"message {i}")
                assert not failed, text
            failed, text = await call(agent_a, "agent_message", to="b", text="one too many")
            assert failed and text.startswith("rate_limited:"), text

    anyio.run(body)
    texts = [m.text for m in client.call(t.ReadMessages(as_session="b")).messages]
    assert texts == [f"message {i}" for i in range(co.RATE_MAX)]
    assert client.call(t.ListArtifacts(as_session="a")).artifacts == []
