"""Status from Codex's own hooks: the REAL pinned Codex CLI (tests/agents) against the scripted
Responses API, reporting through the hooks of its `-c hooks={…}` override to the trails server's
hook socket."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_responses_server import ScriptedResponsesServer
from tests.fakes.record_codex_screens import COMMAND_PROMPT, IDLE, codex_command, make_codex_home
from tests.fakes.tmux_screen import send_keys, wait_for_screen
from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import wait_status
from trails.api.types import Show

pytestmark = pytest.mark.timeout(150)
# A deliberately wrong screen pattern: Codex's idle composer read as "busy". Screens alone then keep a
# session that sits at its prompt "running"; its hooks must still say "ready".
MISMATCHED = {"detection": {"codex": {"busy": [IDLE, r"›"]}}}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedResponsesServer]:
    with ScriptedResponsesServer() as server:
        for key in list(os.environ):
            if key.startswith(("OPENAI_", "CODEX_")):
                monkeypatch.delenv(key)
        for key, value in make_codex_home(tmp_path, server.base_url).items():
            monkeypatch.setenv(key, value)
        yield server


def transitions(engine: Any, name: str) -> list[tuple[str, str | None, str | None]]:
    """(status, what set it, why) for every change of status, in order."""
    out: list[tuple[str, str | None, str | None]] = []
    for e in TrailsServer(engine.home).events(session=name):
        data = e["data"]
        if e["kind"] == "status" and (not out or out[-1][0] != data["status"]):
            out.append((data["status"], data.get("status_source"), data.get("reason")))
    return out


def pane(engine: Any, name: str) -> str:
    return str(engine.tmux.capture(engine.store.get_session(name).tmux_session))


def test_every_transition_comes_from_codex_hooks_in_order_despite_a_mismatched_screen(
        engine: Any, supervisor: int, repo: Path, api: ScriptedResponsesServer) -> None:
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    session = engine.create_session("x1", " ".join(codex_command()), cwd=repo, caller=as_user()).session
    assert session.extra["hooks"] == "codex"
    # Before the first prompt Codex runs no hook (its SessionStart comes with the first turn): the
    # screen tells, and the mismatched pattern takes its prompt for busy.
    # Its footer ("? for shortcuts") comes last as it starts; an Enter typed before it can be lost.
    wait_until(lambda: "for shortcuts" in pane(engine, "x1"), timeout=60, message="codex at its prompt")
    wait_status(engine, "x1", "running", timeout=15)
    assert engine.store.get_session("x1").status_source == "screen"
    api.script.reply_shell("echo hi > hello.txt", text="Writing it.", escalate="May I write hello.txt?")
    api.script.reply_text("Wrote hello.txt.")
    engine.send("x1", "please write hello", caller=as_user())
    try:
        wait_status(engine, "x1", "waiting", timeout=30)
    except AssertionError as exc:  # say whether Codex took the prompt at all, and what it shows
        raise AssertionError(f"{exc}\nmodel requests: {len(api.requests)}\n{transitions(engine, 'x1')}\n"
                             f"pane:\n{pane(engine, 'x1')}") from None
    shown = engine.store.get_session("x1")
    assert shown.status_source == "hook" and "echo hi > hello.txt" in (shown.status_reason or ""), shown
    wait_for_screen(engine.tmux.socket, session.tmux_session, COMMAND_PROMPT, timeout=20)
    send_keys(engine.tmux.socket, session.tmux_session, "Enter")  # "› 1. Yes, proceed (y)"
    wait_until(lambda: (Path(session.worktree_path) / "hello.txt").exists(), timeout=20, message="hello.txt")
    api.wait_for_requests(2, answered=True)
    wait_status(engine, "x1", "ready", timeout=30)  # the screen still says busy: this is Codex's Stop
    engine.send("x1", "/quit", caller=as_user())
    wait_status(engine, "x1", "completed", timeout=30)

    got = transitions(engine, "x1")
    from_prompt = [t for t in got if t[1] == "hook" or t[0] == "completed"]
    assert got[:2] == [("loading", None, None), ("running", "screen", "working")], got
    assert got[2:] == from_prompt, got  # from the first prompt on, the hooks alone
    assert [s for s, _, _ in from_prompt] == ["waiting", "running", "ready", "completed"], got
    assert [why for _, _, why in from_prompt[1:3]] == ["Bash done", "turn finished"], got
    statuses = [e["data"] for e in TrailsServer(engine.home).events(session="x1") if e["kind"] == "status"]
    first_hook = next(i for i, d in enumerate(statuses) if d.get("status_source") == "hook")
    assert statuses[first_hook]["reason"] == "prompt submitted", statuses
    assert all(d.get("status_source") == "hook" for d in statuses[first_hook:]), statuses
    shown = TrailsServer(engine.home).client.call(Show(name="x1"))
    assert shown.session.status == "completed" and shown.session.status_source == "hook"


def test_without_hooks_the_mismatched_screen_decides(engine: Any, supervisor: int, repo: Path,
                                                      api: ScriptedResponsesServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The control for the test above: the same wrong pattern, hooks off, and Codex at its prompt is
    # taken for busy.
    (engine.home / "settings.json").write_text(json.dumps(MISMATCHED))
    monkeypatch.setenv("TRAILS_HOOKS", "off")
    engine.create_session("x2", " ".join(codex_command()), cwd=repo, caller=as_user())
    wait_until(lambda: "for shortcuts" in pane(engine, "x2"), timeout=60, message="codex at its prompt")
    wait_status(engine, "x2", "running", timeout=15)
    assert engine.store.get_session("x2").status_source == "screen"


def test_the_wiring_is_one_trusted_override_and_leaves_the_users_own_hooks() -> None:
    from trails.agents.codex import CodexHooks

    hooks = CodexHooks()
    reporter = ["/usr/bin/python3", "-I", "-S", "/h/report.py"]
    argv = hooks.wire(["codex", "--no-daemon"], reporter)
    assert argv[:2] == ["codex", "-c"] and argv[3:] == ["--no-daemon"]
    assert argv[2].startswith("hooks={") and "TOKEN" not in argv[2]  # the token is in the environment only
    for event in hooks.EVENTS:
        assert f'"{hooks.key(event)}"={{trusted_hash="{hooks.trusted_hash(event, " ".join(reporter))}"}}' in argv[2]
    # A fixed vector: the hashing the pinned Codex accepted in the real-CLI test above must not drift.
    assert hooks.trusted_hash("Stop", "echo hi") == \
        "sha256:6d0e81c1ce33e0e0c9bc46be818e3d0ec1347835441b83dd551f2fc43ce4473a"
    theirs = ["codex", "-c", 'hooks.Stop=[{hooks=[{type="command",command="x"}]}]']
    assert hooks.wire(theirs, reporter) == theirs
