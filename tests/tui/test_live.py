"""The dashboard over the real server (its client), real tmux and the server's supervisor: live status
arrives as events."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Select, Static

from tests.helpers import TrailsServer, as_user, hook_credentials, hooked_agent, run_hook
from tests.tui.tuihelp import SIZE, status_text, until
from trails.core.engine import Engine
from trails.ui.tui.app import TrailsApp
from trails.ui.tui.backend import ClientBackend
from trails.ui.tui.confirm import ConfirmScreen
from trails.ui.tui.new_session import NewSessionScreen

ECHO_AGENT = f"{sys.executable} {Path(__file__).resolve().parent.parent / 'core' / 'echo_agent.py'}"


@pytest.fixture
def live_engine(monkeypatch: pytest.MonkeyPatch, trails_env: dict[str, Path],
                tmp_path: Path) -> Iterator[ClientBackend]:
    """What the dashboard talks to: this home's server (watching sessions), through the client, from
    tmp_path (where the form's sessions are made)."""
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    monkeypatch.chdir(tmp_path)
    server = TrailsServer(trails_env["home"])
    server.start()
    yield ClientBackend(server.client)
    server.stop()


def _count_lists(engine: ClientBackend) -> list[int]:
    count = [0]
    original = engine.list_sessions

    def counted(**kwargs: Any) -> Any:
        count[0] += 1
        return original(**kwargs)

    engine.list_sessions = counted  # type: ignore[method-assign]
    return count


async def test_status_changes_of_real_sessions_arrive_live(live_engine: ClientBackend, tmp_path: Path) -> None:
    live_engine.create_session("g1", ECHO_AGENT, cwd=tmp_path, mode="direct")
    lists = _count_lists(live_engine)
    app = TrailsApp(live_engine, stats=False)
    other = Engine()  # another process's view: the test acts on the session behind the dashboard's back
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "g1" in app.sessions, message="g1 listed")
            await until(pilot, lambda: status_text(app, "g1") == "ready", timeout=30, message="ready via events")
            asked = lists[0]
            other.send("g1", "exit", caller=as_user())
            await until(pilot, lambda: status_text(app, "g1") == "completed", timeout=30,
                        message="completed via events")
            assert lists[0] == asked  # the row changed from the event alone: nothing was re-listed
            await pilot.press("1")
            await until(pilot, lambda: "echo-agent ready" in str(app.main.query_one("#preview-text").render()),
                        message="preview of the agent's screen")
    finally:
        other.close()


async def test_form_creates_a_real_session_and_batch_kill_confirms(live_engine: ClientBackend, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    live_engine.create_session("b1", "sleep 600", cwd=tmp_path, mode="direct")
    app = TrailsApp(live_engine, stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "b1" in app.sessions, message="b1 listed")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await pilot.press(*"b2", "tab", *"sleep 600", "tab")
        app.screen.query_one("#mode").value = "direct"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "b2" in app.sessions, timeout=20, message="b2 created from the form")
        assert live_engine.get_session("b2").status.live
        await pilot.press("asterisk", "k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not app.sessions, timeout=20, message="both killed")
        assert {s.name for s in live_engine.list_sessions()} == set()
        assert {s.status.value for s in live_engine.list_sessions(include_ended=True)} == {"killed"}


async def test_form_makes_a_session_without_mcp_and_a_coordinator_but_not_both(live_engine: ClientBackend) -> None:
    app = TrailsApp(live_engine, stats=False)
    async with app.run_test(size=SIZE) as pilot:
        async def fill(name: str, **boxes: bool) -> NewSessionScreen:
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
            form = app.screen
            assert isinstance(form, NewSessionScreen)
            await pilot.press(*name, "tab", *"sleep 600", "tab")
            form.query_one("#mode", Select).value = "direct"
            for box, on in boxes.items():
                form.query_one(f"#{box}", Checkbox).value = on
            await pilot.press("ctrl+s")
            return form

        await fill("quiet", no_mcp=True)
        await until(pilot, lambda: "quiet" in app.sessions, timeout=20, message="quiet created from the form")
        quiet = live_engine.get_session("quiet")
        assert quiet.extra["mcp"] is False and not quiet.coordinator

        form = await fill("lead", no_mcp=True, coordinator=True)
        error = form.query_one("#coordinator-error", Static)
        await until(pilot, lambda: "needs trails' MCP server" in str(error.render()), timeout=20,
                    message="the engine's refusal under coordinator")
        assert app.screen is form and "lead" not in {s.name for s in live_engine.list_sessions()}
        form.query_one("#no_mcp", Checkbox).value = False
        await until(pilot, lambda: str(error.render()).strip() == "", message="changing the pair clears it")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "lead" in app.sessions, timeout=20, message="lead created from the form")
        lead = live_engine.get_session("lead")
        assert lead.coordinator and "mcp" not in lead.extra


async def test_preview_follows_the_selected_agent_without_a_key(live_engine: ClientBackend, tmp_path: Path) -> None:
    live_engine.create_session("p1", ECHO_AGENT, cwd=tmp_path, mode="direct")
    app = TrailsApp(live_engine, stats=False)
    other = Engine()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "p1" in app.sessions, message="p1 listed")

            def preview() -> str:
                return str(app.main.query_one("#preview-text").render())

            await until(pilot, lambda: "echo-agent ready" in preview(), timeout=30, message="first screen")
            other.send("p1", "typed elsewhere", caller=as_user())
            await until(pilot, lambda: "got: typed elsewhere" in preview(), timeout=15,
                        message="the preview to follow the agent's output")
    finally:
        other.close()


async def test_a_status_set_by_the_agents_hooks_is_marked(live_engine: ClientBackend, tmp_path: Path) -> None:
    agent, seen = hooked_agent(tmp_path)
    live_engine.create_session("hk", str(agent), cwd=tmp_path, mode="direct")
    live_engine.create_session("scr", ECHO_AGENT, cwd=tmp_path, mode="direct")
    token, sock = hook_credentials(seen)
    app = TrailsApp(live_engine, stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "hk" in app.sessions and "scr" in app.sessions, message="both listed")
        run_hook("hk", token, sock, "UserPromptSubmit")
        await until(pilot, lambda: status_text(app, "hk") == "running ·hook", timeout=15,
                    message="running from the hooks, marked")
        run_hook("hk", token, sock, "Stop")
        await until(pilot, lambda: status_text(app, "hk") == "ready ·hook", timeout=15,
                    message="ready from the hooks, marked")
        await until(pilot, lambda: status_text(app, "scr") == "ready", timeout=30,
                    message="scr ready from its screen, unmarked")
