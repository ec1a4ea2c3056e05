"""The REAL pinned Gemini CLI, launched with the configuration trails gives it (a Gemini home of the
launch's own, agents/gemini.py), starts trails' MCP server and lists its tools."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.fakes.gemini_server import ScriptedGeminiServer
from tests.fakes.record_gemini_screens import IDLE, gemini_bin, make_gemini_env, submit_prompt, without_ci
from tests.fakes.tmux_screen import capture, kill_server, new_session, wait_for_screen
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
