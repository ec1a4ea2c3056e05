"""Fixtures for tests that drive the real Claude Code CLI against the scripted fake API."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import ScriptedAnthropicServer
from tests.fakes.claude_env import INSTALL_COMMAND, claude_bin
from tests.fakes.tmux_screen import kill_server


@pytest.fixture
def anthropic_server() -> Iterator[ScriptedAnthropicServer]:
    with ScriptedAnthropicServer() as server:
        yield server


@pytest.fixture
def claude_path() -> Path:
    try:
        return claude_bin()
    except FileNotFoundError:
        pytest.fail(f"Claude Code CLI not installed; run: {INSTALL_COMMAND} (./dev test does)")


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README.md").write_text("# test repo\n")
    return repo


@pytest.fixture
def tmux_socket() -> Iterator[Path]:
    """A private tmux socket; its server is killed at teardown.

    Kept in a short mkdtemp() folder: unix socket paths are limited to ~108 bytes.
    """
    if shutil.which("tmux") is None:
        pytest.fail("tmux not installed (./dev test installs it)")
    sock_dir = Path(tempfile.mkdtemp(prefix="trails-fk-"))
    socket = sock_dir / "tmux.sock"
    yield socket
    kill_server(socket)
    shutil.rmtree(sock_dir, ignore_errors=True)
