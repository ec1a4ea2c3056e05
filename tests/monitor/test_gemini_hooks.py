"""Status from Gemini CLI's own hooks: the REAL pinned Gemini CLI (tests/agents) against the scripted
Gemini API, reporting through the hooks trails adds to the settings of the launch's own Gemini home;
and those settings as they are written."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gemini_server import ScriptedGeminiServer
from tests.fakes.record_gemini_screens import APPROVE_SELECTED, IDLE, gemini_bin, make_gemini_env, without_ci
from tests.fakes.tmux_screen import send_keys, wait_for_screen
from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import screen_of, wait_status
from trails.agents.base import AgentHome, HookLaunch
from trails.agents.gemini import GeminiHooks, GeminiMcp
from trails.api.types import Show

pytestmark = pytest.mark.timeout(150)
# A deliberately wrong screen pattern: Gemini's idle input line read as "busy". Screens alone then keep
# a session that sits at its prompt "running"; its hooks must still say "ready".
MISMATCHED = {"detection": {"gemini": {"busy": [IDLE]}}}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedGeminiServer]:
    """The scripted API, and the user's Gemini (settings, dummy key) pointed at it in the environment
    a session is created from; folder trust off (a worktree's path is not known before)."""
    with ScriptedGeminiServer() as server:
        for key in list(os.environ):
            if key.startswith(("GEMINI_", "GOOGLE_")):
                monkeypatch.delenv(key)
        user = tmp_path / "user"
        for key, value in make_gemini_env(user, server.base_url).items():
            if key != "HOME":  # GEMINI_CLI_HOME names the user's Gemini; the test's HOME stays
                monkeypatch.setenv(key, value)
        settings_file = user / ".gemini" / "settings.json"
        settings = json.loads(settings_file.read_text())
        settings["security"]["folderTrust"] = {"enabled": False}
        settings_file.write_text(json.dumps(settings))
        yield server


@pytest.fixture
def gemini(tmp_path: Path) -> Path:
    """The pinned Gemini under its own name (so trails takes it for Gemini), run without CI's
    markers: with CI=true Gemini starts headless (record_gemini_screens.without_ci)."""
    bindir = tmp_path / "gemini-bin"
    bindir.mkdir()
    exe = bindir / "gemini"
    exe.write_text(f"#!/bin/sh\nexec {shlex.join(without_ci([str(gemini_bin())]))} \"$@\"\n")
    exe.chmod(0o755)
    return exe


def transitions(engine: Any, name: str) -> list[tuple[str, str | None, str | None]]:
    """(status, what set it, why) for every change of status, in order."""
    out: list[tuple[str, str | None, str | None]] = []
    for e in TrailsServer(engine.home).events(session=name):
        data = e["data"]
        if e["kind"] == "status" and (not out or out[-1][0] != data["status"]):
            out.append((data["status"], data.get("status_source"), data.get("reason")))
    return out


def test_every_transition_comes_from_gemini_hooks_in_order_despite_a_mismatched_screen(
        engine: Any, supervisor: int, repo: Path, api: ScriptedGeminiServer, gemini: Path) -> None:
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    session = engine.create_session("g1", str(gemini), cwd=repo, caller=as_user()).session
    assert session.extra["hooks"] == "gemini"
    wt = Path(session.worktree_path)
    try:
        wait_status(engine, "g1", "ready", timeout=60)  # its SessionStart: the screen says busy
        assert engine.store.get_session("g1").status_source == "hook"
        # Gemini queues what is typed while it still initialises: wait for its input line.
        wait_until(lambda: IDLE in screen_of(engine, "g1").replace("\n", " ") or None, timeout=30,
                   message="gemini at its prompt")
        api.script.reply_function_call("run_shell_command", {"command": "echo hi > hello.txt",
                                                             "description": "say hi"}, text="Writing it.")
        api.script.reply_text("Wrote hello.txt.")
        engine.send("g1", "please write hello", caller=as_user())
        wait_status(engine, "g1", "waiting", timeout=30)
        shown = engine.store.get_session("g1")
        assert shown.status_source == "hook" and "echo hi > hello.txt" in (shown.status_reason or ""), shown
        wait_for_screen(engine.tmux.socket, session.tmux_session, APPROVE_SELECTED, timeout=20)
        send_keys(engine.tmux.socket, session.tmux_session, "Enter")  # "● 1. Allow once"
        wait_until(lambda: (wt / "hello.txt").exists(), timeout=20, message="hello.txt")
        api.wait_for_requests(2, answered=True)
        wait_status(engine, "g1", "ready", timeout=30)  # the screen still says busy: this is AfterAgent
        engine.send("g1", "/quit", caller=as_user())
        wait_status(engine, "g1", "completed", timeout=30)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{transitions(engine, 'g1')}\npane:\n{screen_of(engine, 'g1')}") from None

    got = transitions(engine, "g1")
    assert [s for s, _, _ in got] == ["loading", "ready", "running", "waiting", "running", "ready",
                                      "completed"], got
    assert all(source == "hook" for _, source, _ in got[1:]), got
    assert [why for _, _, why in got[1:6]] == ["session started (startup)", "prompt submitted",
                                              "asks to command: echo hi > hello.txt", "run_shell_command done",
                                              "turn finished"], got
    shown = TrailsServer(engine.home).client.call(Show(name="g1"))
    assert shown.session.status == "completed" and shown.session.status_source == "hook"
    user_settings = json.loads((Path(os.environ["GEMINI_CLI_HOME"]) / ".gemini" / "settings.json").read_text())
    assert "hooks" not in user_settings  # the user's own settings are never written


def test_without_hooks_the_mismatched_screen_decides(engine: Any, supervisor: int, repo: Path,
                                                      api: ScriptedGeminiServer, gemini: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The control for the test above: the same wrong pattern, hooks off, and Gemini at its prompt is
    # taken for busy.
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    monkeypatch.setenv("TRAILS_HOOKS", "off")
    engine.create_session("g2", str(gemini), cwd=repo, caller=as_user())
    assert "hooks" not in engine.store.get_session("g2").extra
    wait_until(lambda: IDLE in screen_of(engine, "g2").replace("\n", " ") or None, timeout=60,
               message="gemini at its prompt")
    wait_status(engine, "g2", "running", timeout=15)
    assert engine.store.get_session("g2").status_source == "screen"


def test_auto_yes_judges_the_command_gemini_hooks_announce(engine: Any, supervisor: int, repo: Path,
                                                           api: ScriptedGeminiServer, gemini: Path) -> None:
    engine.create_session("g3", str(gemini), cwd=repo, auto_yes=True, caller=as_user())
    wait_status(engine, "g3", "ready", timeout=60)
    wait_until(lambda: IDLE in screen_of(engine, "g3").replace("\n", " ") or None, timeout=30,
               message="gemini at its prompt")
    api.script.reply_function_call("run_shell_command", {"command": "rm -rf build", "description": "clean"})
    engine.send("g3", "clean up", caller=as_user())
    wait_until(lambda: engine.store.get_session("g3").needs_user, timeout=30, message="needs_user")
    refused = [a["detail"] for a in engine.audit_log("g3", caller=as_user()) if a["action"] == "auto_yes_refused"]
    assert refused[0]["judged"] == "hook" and refused[0]["prompt"] == "rm -rf build", refused
    assert refused[0]["guard"] == "recursive delete"
    assert engine.store.get_session("g3").status.value == "waiting"
    assert len(api.requests) == 1  # the refused command's result never went back: it did not run


# --- the settings written -------------------------------------------------------------------------

REPORTER = ["/usr/bin/python3", "-I", "-S", "/h/report.py"]
REPORT_ENV = {"TRAILS_SESSION": "s1", "TRAILS_HOOK_TOKEN": "the-token", "TRAILS_HOOK_SOCKET": "/h/hook.sock"}


def users_gemini(tmp_path: Path, settings: dict[str, Any]) -> dict[str, str]:
    """A user's ~/.gemini with `settings` (and a login file); the environment naming it."""
    own = tmp_path / "user" / ".gemini"
    own.mkdir(parents=True)
    (own / "settings.json").write_text(json.dumps(settings))
    (own / "oauth_creds.json").write_text("{}")
    return {"GEMINI_CLI_HOME": str(own.parent)}


def ours(settings: dict[str, Any], event: str) -> list[dict[str, Any]]:
    return [h for d in settings["hooks"][event] for h in d["hooks"] if h.get("name") == "trails"]


def test_the_hooks_go_into_the_launchs_own_settings_beside_its_mcp_server(tmp_path: Path) -> None:
    from trails.agents.base import McpServer

    theirs = {"type": "command", "command": "notify-me"}
    env = users_gemini(tmp_path, {"hooks": {"AfterAgent": [{"hooks": [theirs]}]}, "ui": {"theme": "x"}})
    place = tmp_path / "home" / "mcp" / "s1"
    place.mkdir(parents=True)
    server = McpServer(command=("trails", "mcp"), env={}, credential_env="TRAILS_MCP_TOKEN", credential="cred",
                       private_dir=place)
    GeminiMcp().wire(["gemini"], server, env)  # the engine wires MCP first, then hooks
    launch = HookLaunch(reporter=REPORTER, env=REPORT_ENV, private_dir=place)
    assert GeminiHooks().wire(["gemini"], launch, env) == ["gemini"]  # nothing on its command line
    assert env["GEMINI_CLI_HOME"] == str(place / "gemini-home")
    written = place / "gemini-home" / ".gemini" / "settings.json"
    assert written.stat().st_mode & 0o777 == 0o600
    settings = json.loads(written.read_text())
    assert settings["mcpServers"]["trails"]["env"] == {"TRAILS_MCP_TOKEN": "cred"} and settings["ui"] == {"theme": "x"}
    assert set(settings["hooks"]) == set(GeminiHooks.EVENTS)
    for event in GeminiHooks.EVENTS:
        # The token in the hook's own env: Gemini may drop a TOKEN variable of its environment.
        assert ours(settings, event) == [{"type": "command", "name": "trails", "command": shlex.join(REPORTER),
                                          "timeout": 5000, "env": REPORT_ENV}]
    assert settings["hooks"]["AfterAgent"][0] == {"hooks": [theirs]}  # the user's own run too, first
    own = json.loads((tmp_path / "user" / ".gemini" / "settings.json").read_text())
    assert "mcpServers" not in own and own["hooks"] == {"AfterAgent": [{"hooks": [theirs]}]}  # never written
    assert (place / "gemini-home" / ".gemini" / "oauth_creds.json").is_symlink()


def test_with_mcp_off_the_hooks_make_the_launchs_home(tmp_path: Path) -> None:
    env = users_gemini(tmp_path, {"model": {"name": "m"}})
    place = tmp_path / "home" / "mcp" / "s1"
    (place / "gemini-home" / ".gemini").mkdir(parents=True)
    (place / "gemini-home" / ".gemini" / "settings.json").write_text('{"stale": true}')  # an older launch's
    GeminiHooks().wire(["gemini"], HookLaunch(reporter=REPORTER, env=REPORT_ENV, private_dir=place), env)
    settings = json.loads((place / "gemini-home" / ".gemini" / "settings.json").read_text())
    assert "mcpServers" not in settings and "stale" not in settings and settings["model"] == {"name": "m"}
    assert ours(settings, "BeforeTool")[0]["env"] == REPORT_ENV
    assert env["GEMINI_CLI_HOME"] == str(place / "gemini-home")


def test_a_container_home_keeps_one_set_of_trails_hooks_across_launches(tmp_path: Path) -> None:
    env = users_gemini(tmp_path, {})
    home = AgentHome(tmp_path / "agent-home", "/home/agent")
    home.host.mkdir()
    for token in ("first", "second"):
        launch = HookLaunch(reporter=REPORTER, env={**REPORT_ENV, "TRAILS_HOOK_TOKEN": token},
                            private_dir=tmp_path / "unused", agent_home=home)
        GeminiHooks().wire(["gemini"], launch, dict(env))
    settings = json.loads((home.host / ".gemini" / "settings.json").read_text())
    assert [h["env"]["TRAILS_HOOK_TOKEN"] for h in ours(settings, "SessionEnd")] == ["second"]
    assert (home.host / ".gemini" / "oauth_creds.json").is_file()  # the login copied in, once
    assert not (tmp_path / "unused").exists()


def test_hooks_the_user_turned_off_stay_off(tmp_path: Path) -> None:
    env = users_gemini(tmp_path, {"hooksConfig": {"enabled": False}})
    launch = HookLaunch(reporter=REPORTER, env=REPORT_ENV, private_dir=tmp_path / "place")
    assert GeminiHooks().wire(["gemini"], launch, env) is None


def test_what_gemini_hooks_say() -> None:
    hooks = GeminiHooks()
    said = hooks.interpret("Notification", None, {"type": "exec", "title": "Confirm Shell Command",
                                                  "command": "rm -rf build"}, {"notification_type": "ToolPermission"})
    assert said is not None and said.ask is not None and said.status is not None
    assert (said.status.value, said.ask.kind, said.ask.command) == ("waiting", "command", "rm -rf build")
    said = hooks.interpret("Notification", None, {"type": "edit", "title": "Confirm Write: a.txt",
                                                  "filePath": "/w/a.txt"}, {"notification_type": "ToolPermission"})
    assert said is not None and said.ask is not None and (said.ask.kind, said.ask.target) == ("write", "/w/a.txt")
    assert hooks.interpret("Notification", None, None, {"notification_type": "Other"}) is None
    ended = hooks.interpret("SessionEnd", None, None, {"reason": "exit"})
    assert ended is not None and ended.ended and ended.status is None
