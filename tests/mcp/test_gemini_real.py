"""The REAL pinned Gemini CLI, launched with the configuration trails gives it (agents/gemini.py): on
the host (a Gemini home of the launch's own) it starts trails' MCP server and lists its tools; in a
container session (the container's own home) it calls a trails tool through the MCP relay."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gemini_server import JSON, Reply, ScriptedGeminiServer, function_responses, last_user_text, tool_names
from tests.fakes.record_gemini_screens import IDLE, gemini_bin, make_gemini_env, submit_prompt, without_ci
from tests.fakes.tmux_screen import capture, kill_server, new_session, wait_for_screen
from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import screen_of
from trails.agents.base import McpServer
from trails.agents.gemini import GeminiMcp

pytestmark = pytest.mark.timeout(120)
SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_gemini_starts_trails_server_and_lists_its_tools(tmp_path: Path, trails_env: dict[str, Path]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    place = trails_env["home"] / "mcp" / "g1"
    place.mkdir(parents=True)
    socket = tmp_path / "gemini-tmux.sock"
    with ScriptedGeminiServer() as api:
        env = {**os.environ, **make_gemini_env(tmp_path / "user", api.base_url, trusted_dirs=(work,)),
               "PYTHONPATH": SRC, "TRAILS_MCP_TOKEN": "the-launch-credential"}
        server = McpServer(command=(sys.executable, "-m", "trails", "mcp"),
                           env={"TRAILS_HOME": str(trails_env["home"])}, credential_env="TRAILS_MCP_TOKEN",
                           credential="the-launch-credential", private_dir=place)
        argv = GeminiMcp().wire([str(gemini_bin())], server, env)
        try:
            new_session(socket, "g1", without_ci(argv), cwd=work, env=env, width=160, height=50)
            wait_for_screen(socket, "g1", IDLE, timeout=60)
            wait_for_screen(socket, "g1", r"1 MCP server", timeout=60)
            submit_prompt(socket, "g1", "/mcp list")
            screen = wait_for_screen(socket, "g1", r"trails - Ready \(9 tools, 1 resource\)", timeout=60)
            assert "mcp_trails_claim_resource" in screen and "mcp_trails_agent_message" in screen, screen
            # Gemini passes no TOKEN variable on: the credential reached `trails mcp` from the settings file.
            assert any(b"TRAILS_MCP_TOKEN=the-launch-credential" in e for e in _environs_of_trails_mcp())
        except Exception:
            print(capture(socket, "g1"))
            raise
        finally:
            kill_server(socket)


def _environs_of_trails_mcp() -> list[bytes]:
    """The environment of every `trails mcp` process running now (other tests' too)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"\0-m\0trails\0mcp" in (proc / "cmdline").read_bytes():
                found.append((proc / "environ").read_bytes())
        except OSError:
            continue
    return found


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedGeminiServer]:
    """The scripted API, and the user's Gemini (settings, dummy key) pointed at it in the environment
    a session is created from. The model calls trails' claim_resource when the prompt says CLAIM."""
    with ScriptedGeminiServer() as server:
        for key in list(os.environ):
            if key.startswith(("GEMINI_", "GOOGLE_")):
                monkeypatch.delenv(key)
        user = tmp_path / "user"
        for key, value in make_gemini_env(user, server.base_url).items():
            if key != "HOME":  # GEMINI_CLI_HOME names the user's Gemini; the test's HOME stays
                monkeypatch.setenv(key, value)
        # Folder trust off: the user's trusted folders name host paths; /workspace is none of them.
        settings_file = user / ".gemini" / "settings.json"
        settings = json.loads(settings_file.read_text())
        settings["security"]["folderTrust"] = {"enabled": False}
        settings_file.write_text(json.dumps(settings))
        server.script.set_responder(_claims)
        yield server


def _claims(body: JSON) -> Reply | str:
    if function_responses(body):
        return "done"
    if "CLAIM" in last_user_text(body):
        (name,) = [n for n in tool_names(body) if n.endswith("claim_resource")]
        return Reply.function_call(name, {"path": "src/app.py", "reason": "from the container"})
    return "ok"


@pytest.mark.usefixtures("containers")
def test_gemini_in_a_container_calls_a_trails_tool_through_the_relay(
        engine: Any, repo: Path, api: ScriptedGeminiServer) -> None:
    """A container session's Gemini finds trails' server (the relay) in the settings of the
    container's own home and uses it: its call is its session's."""
    from tests.mcp.test_container_relay import relayed_servers
    from trails.api.client import Client
    from trails.api.types import Events

    server = TrailsServer(engine.home)
    pid = server.start()
    try:
        # Host networking only so the CLI inside reaches the scripted API on this machine's loopback;
        # MCP goes through the mounted socket. No `without_ci` here: the container gets only the
        # variables trails passes it, and CI's markers are none of them.
        engine.create_session("box", str(gemini_bin()), mode="container", network="host", cwd=repo,
                              caller=as_user())
        wait_until(lambda: relayed_servers(pid), timeout=90, message="the relay's trails mcp")
        wait_until(lambda: re.search(IDLE, screen := screen_of(engine, "box")) and "1 MCP server" in screen,
                   timeout=60, message="Gemini ready with its MCP server")
        engine.send("box", "CLAIM src/app.py", caller=as_user())
        body = api.wait_for(lambda b: any(r.get("name", "").endswith("claim_resource")
                                          for r in function_responses(b)), timeout=60)
        (result,) = [r for r in function_responses(body) if r["name"].endswith("claim_resource")]
        assert '"session": "box"' in result["response"]["output"], result
        events = Client(engine.home, local=False).call(Events()).events
        assert [e.caller for e in events if e.kind == "claim"] == ["agent:box"], events
        own = json.loads((Path(os.environ["GEMINI_CLI_HOME"]) / ".gemini" / "settings.json").read_text())
        assert "mcpServers" not in own  # the user's own settings are never written
    except Exception:
        print(screen_of(engine, "box"))
        raise
    finally:
        server.stop()

