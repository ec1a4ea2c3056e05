"""Status from the agent's own hooks: the REAL pinned Claude Code (tests/agents) against the scripted
API server, reporting through `--settings` hooks to the trails server's hook socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import ScriptedAnthropicServer
from tests.fakes.claude_env import answer_permission, claude_bin
from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import wait_status
from trails.api.types import Show
from trails.monitor.supervisor import HOOK_GRACE_SECONDS

try:
    CLAUDE = claude_bin()
except FileNotFoundError as exc:  # ./dev test installs it; a missing CLI must fail, never skip
    raise RuntimeError(str(exc)) from None

pytestmark = pytest.mark.timeout(120)
# A deliberately wrong screen pattern: Claude's idle footer read as "busy". Screens alone then keep a
# session that sits at its prompt "running"; its hooks must still say "ready".
MISMATCHED = {"detection": {"claude": {"busy": [r"\? for shortcuts", r"❯"]}}}



def status_events(engine: Any, name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in TrailsServer(engine.home).events(session=name) if e["kind"] == "status"]


def transitions(engine: Any, name: str) -> list[tuple[str, str | None]]:
    """(status, what set it) for every change of status, in order."""
    out: list[tuple[str, str | None]] = []
    for data in status_events(engine, name):
        if not out or out[-1][0] != data["status"]:
            out.append((data["status"], data.get("status_source")))
    return out


def test_every_transition_comes_from_hooks_in_order_despite_a_mismatched_screen(
        engine: Any, supervisor: int, repo: Path, api: ScriptedAnthropicServer) -> None:
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    session = engine.create_session("h1", str(CLAUDE), cwd=repo, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "h1", "ready", timeout=60)
    api.script.reply_tool_use("Write", {"file_path": str(wt / "hello.txt"), "content": "hi\n"})
    api.script.reply_text("done writing")
    engine.send("h1", "please write hello", caller=as_user())
    wait_status(engine, "h1", "waiting", timeout=30)
    assert engine.store.get_session("h1").status_source == "hook"
    answer_permission(engine.tmux.socket, session.tmux_session)
    wait_until(lambda: (wt / "hello.txt").exists(), timeout=20, message="hello.txt")
    api.wait_for_requests(2, answered=True)
    wait_status(engine, "h1", "ready", timeout=30)
    engine.send("h1", "/exit", caller=as_user())
    wait_status(engine, "h1", "completed", timeout=30)

    got = transitions(engine, "h1")
    assert [s for s, _ in got] == ["loading", "ready", "running", "waiting", "running", "ready", "completed"], got
    assert all(source == "hook" for _, source in got[1:]), got
    shown = TrailsServer(engine.home).client.call(Show(name="h1"))
    assert shown.session.status == "completed" and shown.session.status_source == "hook"


def test_without_hooks_the_mismatched_screen_decides(engine: Any, supervisor: int, repo: Path,
                                                      api: ScriptedAnthropicServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The control for the test above: the same wrong pattern, hooks off, and the session at its prompt
    # is taken for busy.
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    monkeypatch.setenv("TRAILS_HOOKS", "off")
    engine.create_session("h2", str(CLAUDE), cwd=repo, caller=as_user())
    wait_until(lambda: "? for shortcuts" in engine.tmux.capture(engine.store.get_session("h2").tmux_session),
               timeout=60, message="claude at its prompt")
    wait_status(engine, "h2", "running", timeout=15)
    assert engine.store.get_session("h2").status_source == "screen"
    assert "hooks" not in engine.store.get_session("h2").extra


def test_auto_yes_judges_the_hooks_tool_input(engine: Any, supervisor: int, repo: Path,
                                              api: ScriptedAnthropicServer) -> None:
    session = engine.create_session("h3", str(CLAUDE), cwd=repo, auto_yes=True, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "h3", "ready", timeout=60)
    api.script.reply_tool_use("Write", {"file_path": str(wt / "ok.txt"), "content": "fine\n"})
    api.script.reply_tool_use("Bash", {"command": "rm -rf build", "description": "clean the build"})
    engine.send("h3", "write, then clean up", caller=as_user())
    wait_until(lambda: (wt / "ok.txt").exists(), timeout=30, message="ok.txt written after an automatic yes")
    wait_until(lambda: engine.store.get_session("h3").needs_user, timeout=30, message="needs_user")
    audit = engine.audit_log("h3", caller=as_user())
    answered = [a["detail"] for a in audit if a["action"] == "auto_yes_answered"]
    refused = [a["detail"] for a in audit if a["action"] == "auto_yes_refused"]
    assert answered[0]["judged"] == "hook" and answered[0]["prompt"] == f"Write {wt / 'ok.txt'}", answered
    assert refused[0]["judged"] == "hook" and refused[0]["prompt"] == "rm -rf build", refused
    assert refused[0]["guard"] == "recursive delete"
    assert engine.store.get_session("h3").status.value == "waiting"
    assert len(api.requests) == 2  # the refused command's result never went back: it did not run


@pytest.mark.usefixtures("containers")
def test_a_container_agents_hooks_reach_trails_without_a_network_to_it(
        engine: Any, supervisor: int, repo: Path, api: ScriptedAnthropicServer) -> None:
    # Host networking only so the CLI inside reaches the scripted API on this machine's loopback; its
    # hooks go through the hook directory mounted into the container, not a network.
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    engine.create_session("h4", str(CLAUDE), cwd=repo, mode="container", network="host", caller=as_user())
    wait_status(engine, "h4", "ready", timeout=60)
    api.script.reply_tool_use("Bash", {"command": "echo hi > /workspace/hi.txt", "description": "say hi"})
    api.script.reply_text("said hi")
    engine.send("h4", "say hi", caller=as_user())
    wait_status(engine, "h4", "waiting", timeout=30)
    row = engine.store.get_session("h4")
    assert row.status_source == "hook" and "echo hi" in (row.status_reason or "")
    got = transitions(engine, "h4")
    assert [s for s, _ in got] == ["loading", "ready", "running", "waiting"], got
    assert all(source == "hook" for _, source in got[1:]), got


def test_a_hooked_agent_whose_hooks_stay_silent_falls_back_to_its_screen(
        engine: Any, supervisor: int, repo: Path, fake_claude: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake Claude is started with trails' hooks but never runs them (as a Claude with hooks
    # disabled in its own settings would): after the grace period its screen is believed.
    monkeypatch.delenv("TRAILS_HOOKS")
    engine.create_session("h5", str(fake_claude), cwd=repo, caller=as_user())
    assert engine.store.get_session("h5").extra["hooks"] == "claude"
    wait_until(lambda: "? for shortcuts" in engine.tmux.capture(engine.store.get_session("h5").tmux_session),
               timeout=20, message="the fake at its prompt")
    assert engine.store.get_session("h5").status.value == "loading"  # the hooks may still speak
    wait_status(engine, "h5", "ready", timeout=HOOK_GRACE_SECONDS + 15)
    assert engine.store.get_session("h5").status_source == "screen"
