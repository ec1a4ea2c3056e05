"""A container's agent reaches trails' MCP server through the relay in the mounted hook directory
(core.mcpwire, server/mcpsocket.py), on the real Docker engine and a real trails server: the MCP
SDK's own client speaks through `docker exec … mcp_relay.py` with the credential the session's
launch gave its agent, and a connection without a live session's credential gets nothing run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.stdio import StdioServerParameters, stdio_client

from mcp import ClientSession
from tests.helpers import SessionRef, TrailsServer, as_user, credential, wait_until
from tests.isolation.conftest import SLEEPER
from tests.mcp.test_mcp_stdio import TOOLS, call
from trails.api import protocol
from trails.api import types as t
from trails.api.client import Client
from trails.core import hookwire, mcpwire

pytestmark = [pytest.mark.usefixtures("containers"), pytest.mark.timeout(120)]
USER = f"{os.getuid()}:{os.getgid()}"


@pytest.fixture
def server(engine: Any) -> Iterator[int]:
    """This home's trails server (its pid): what listens on the MCP socket."""
    running = TrailsServer(engine.home)
    pid = running.start()
    yield pid
    running.stop()


@pytest.fixture
def boxed(engine: Any, repo: Path, server: int) -> tuple[str, str]:
    """A container session c1 (its container's id, the credential its agent was given)."""
    made = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    return made.container_id, credential(Path(os.environ["TRAILS_TMUX_SOCKET"]), SessionRef("c1", made.tmux_session))


@asynccontextmanager
async def relayed(cid: str, token: str | None) -> AsyncIterator[ClientSession]:
    """An MCP client session through the relay run inside the container, the credential passed to
    `docker exec` by name (never on its command line)."""
    env = {k: v for k, v in os.environ.items() if k != mcpwire.TOKEN_ENV}
    if token is not None:
        env[mcpwire.TOKEN_ENV] = token
    params = StdioServerParameters(command="docker", env=env, args=[
        "exec", "-i", "-u", USER, "-e", mcpwire.TOKEN_ENV, cid, *mcpwire.container_relay()])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def relayed_servers(server_pid: int) -> dict[str, set[str]]:
    """The `trails mcp` processes the trails server runs for relays (its children): pid → the MCP
    credentials in its environment."""
    found = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == server_pid:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                if b"mcp" in cmdline and b"trails" in cmdline:
                    environ = (proc / "environ").read_bytes().split(b"\0")
                    found[proc.name] = {v.split(b"=", 1)[1].decode() for v in environ
                                        if v.startswith(f"{mcpwire.TOKEN_ENV}=".encode())}
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_a_container_agent_speaks_mcp_to_trails_through_the_relay(
        engine: Any, repo: Path, server: int, boxed: tuple[str, str]) -> None:
    cid, token = boxed
    # The hook directory is all the container sees of trails: the home's own socket is not there.
    from tests.isolation.test_container import _exec

    code, listing = _exec(cid, f"ls {hookwire.INNER_DIR}; test -e {protocol.socket_path(engine.home)} || echo absent")
    assert code == 0 and {"hook.sock", "mcp.sock", "mcp_relay.py", "absent"} <= set(listing.split()), listing

    async def body() -> None:
        async with relayed(cid, token) as agent:
            assert {tool.name for tool in (await agent.list_tools()).tools} == TOOLS
            failed, claimed = await call(agent, "claim_resource", path="src/app.py", reason="from inside")
            assert not failed and claimed["session"] == "c1", claimed
            failed, listed = await call(agent, "query_sessions")
            assert not failed and [p["name"] for p in listed["sessions"]] == ["c1"], listed
            assert list(relayed_servers(server).values()) == [{token}]  # in its environment

    anyio.run(body)
    events = Client(engine.home, local=False).call(t.Events()).events
    assert [e.caller for e in events if e.kind == "claim"] == ["agent:c1"], events
    wait_until(lambda: not relayed_servers(server), timeout=15, message="trails mcp to end with its client")
    # No command line that carried the agent's start carries its credential.
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                assert token.encode() not in (proc / "cmdline").read_bytes(), proc
            except OSError:
                continue


def test_a_wrong_or_missing_credential_is_refused_and_nothing_runs(
        engine: Any, server: int, boxed: tuple[str, str]) -> None:
    from trails.infra import docker as d

    cid, token = boxed
    relay = list(mcpwire.container_relay())
    code, said = d.exec_run(cid, relay, USER, env={mcpwire.TOKEN_ENV: "forged-credential"})
    assert code == 1 and "refused: this MCP credential is no live session's" in said, said
    code, said = d.exec_run(cid, relay, USER)
    assert code == 1 and f"no {mcpwire.TOKEN_ENV}" in said, said
    # On the socket itself: a forged line, an empty one, none at all: each gets one line of refusal
    # and the end of the connection.
    for first in (b"forged\n", b"\n", b""):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(mcpwire.socket_path(engine.home)))
            sock.sendall(first)
            sock.shutdown(socket.SHUT_WR)
            answer = b"".join(iter(lambda: sock.recv(4096), b""))
        assert answer.startswith(b"refused:") and answer.count(b"\n") == 1, answer
    assert not relayed_servers(server)
    # A killed session's credential is dead too.
    engine.kill("c1", caller=as_user(), force=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(mcpwire.socket_path(engine.home)))
        sock.sendall(token.encode() + b"\n")
        assert sock.recv(4096).startswith(b"refused:")
    assert not relayed_servers(server)


def test_the_relay_is_the_standard_library_alone() -> None:
    # It runs inside containers, where no trails is installed: isolated, without site, it still loads.
    source = Path(mcpwire.__file__).resolve().parents[1] / "mcprelay.py"
    done = subprocess.run([sys.executable, "-I", "-S", str(source)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "usage: mcp_relay.py SOCKET" in done.stderr, done
