"""Monitor tests: a trails server watching sessions per test (stopped afterwards) and a fake agent
installed as `claude`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import ScriptedAnthropicServer
from tests.fakes.claude_env import make_claude_env
from tests.helpers import TrailsServer, wait_until

FAKE = Path(__file__).resolve().parent / "fake_claude.py"


@pytest.fixture(autouse=True)
def _supervisor_allowed(monkeypatch: pytest.MonkeyPatch, trails_env: dict[str, Path]) -> Iterator[None]:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    yield


@pytest.fixture
def supervisor(engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The pid of this home's server, watching the sessions (the test's engine is another process's view)."""
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    server = TrailsServer(engine.home)
    pid = server.start()
    yield pid
    server.stop()


@pytest.fixture
def fake_claude(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake agent under the name `claude` in its own bin dir: a full path that must match the profile.
    It has no hooks: its sessions are started without (TRAILS_HOOKS=off), so its screen tells its status."""
    monkeypatch.setenv("TRAILS_HOOKS", "off")
    bindir = tmp_path / "tools" / "bin"
    bindir.mkdir(parents=True)
    exe = bindir / "claude"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {FAKE} \"$@\"\n")
    exe.chmod(0o755)
    return exe


def status_of(engine: Any, name: str) -> str:
    return str(engine.store.get_session(name).status.value)


def wait_status(engine: Any, name: str, *wanted: str, timeout: float = 15.0) -> str:
    return wait_until(lambda: (s := status_of(engine, name)) in wanted and s, timeout=timeout,
                      message=f"{name} to be {'/'.join(wanted)} (screen: {screen_of(engine, name)!r})")


def screen_of(engine: Any, name: str) -> str:
    try:
        return str(engine.tmux.capture(engine.store.get_session(name).tmux_session))
    except Exception as exc:  # the session may be gone
        return f"<{exc}>"


def subsequence(wanted: list[str], got: list[str]) -> bool:
    """Whether `wanted` occurs in `got` in this order (other items may come between)."""
    rest = iter(got)
    return all(item in rest for item in wanted)


def statuses(engine: Any, name: str) -> list[str]:
    """The session's status history from the stored events, without repeats."""
    out: list[str] = []
    for event in TrailsServer(engine.home).events(session=name):
        if event["kind"] == "status" and (not out or out[-1] != event["data"]["status"]):
            out.append(event["data"]["status"])
    return out


def env_without_supervisor_off() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "TRAILS_SUPERVISOR"}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedAnthropicServer]:
    """The suite's scripted Anthropic API, and the real Claude Code CLI's environment pointed at it (no
    first-run screens). tests/monitor/test_codex_hooks.py has its own `api`: the OpenAI one."""
    with ScriptedAnthropicServer() as server:
        for key in list(os.environ):
            if key.startswith(("ANTHROPIC_", "CLAUDE_")):
                monkeypatch.delenv(key)
        for key, value in make_claude_env(tmp_path, server.base_url).items():
            monkeypatch.setenv(key, value)
        yield server
