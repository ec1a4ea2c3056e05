"""Every key and dialog of the dashboard, driven headlessly over a fake engine that records its calls."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.fake_engine import NOW, FakeEngine
from tests.tui.tuihelp import SIZE, cell_text, record_notifications, status_text, until
from trails.core.errors import SessionStateError
from trails.core.models import Status
from trails.ui.tui.app import TrailsApp
from trails.ui.tui.choice import ChoiceScreen
from trails.ui.tui.confirm import ConfirmScreen
from trails.ui.tui.help import HelpScreen
from trails.ui.tui.new_session import NewSessionScreen
from trails.ui.tui.prompt import PromptScreen
from trails.ui.tui.session_grid import SessionCard


def make_app(engine: FakeEngine | None = None) -> TrailsApp:
    return TrailsApp(engine or FakeEngine(), clock=lambda: NOW, feed=None, stats=False)


async def _started(app: TrailsApp, pilot: Any) -> None:
    await until(pilot, lambda: app.loaded.is_set() and app.selected is not None, message="sessions loaded")


async def test_list_shows_sessions_sorted_with_status_and_attention() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        assert [s.name for s in app.shown_sessions()] == ["add-tests", "bot", "docs-typos", "fix-login",
                                                        "perf-cache", "refactor-db"]
        assert status_text(app, "fix-login") == "waiting"
        assert cell_text(app, "fix-login", "status").startswith("●")
        assert app.sub_title == "6 sessions · 2 need you"
        await pilot.press("o")  # sort by status: what needs a person first
        assert [s.name for s in app.shown_sessions()][:2] == ["fix-login", "perf-cache"]


async def test_filters_by_status_mode_and_text_and_escape_clears() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("f")  # attention
        assert {s.name for s in app.shown_sessions()} == {"fix-login", "perf-cache"}
        await pilot.press("escape", "m", "m")  # mode: direct → worktree
        assert {s.name for s in app.shown_sessions()} == {"add-tests", "fix-login", "refactor-db"}
        await pilot.press("escape", "slash", *"cod", "enter")
        assert [s.name for s in app.shown_sessions()] == ["add-tests"]
        await pilot.press("escape")
        assert len(app.shown_sessions()) == 6


async def test_pause_resume_auto_yes_send_on_the_highlighted_session() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("down", "down", "down")  # fix-login
        assert app.selected == "fix-login"
        await pilot.press("p")
        await until(pilot, lambda: status_text(app, "fix-login") == "paused", message="paused row")
        await pilot.press("r")
        await until(pilot, lambda: status_text(app, "fix-login") == "running", message="resumed row")
        await pilot.press("y")
        await until(pilot, lambda: ("set_auto_yes", "fix-login", True) in engine.calls, message="auto-yes on")
        await until(pilot, lambda: cell_text(app, "fix-login", "auto") == "yes")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen), message="send dialog")
        await pilot.press("enter")  # empty: refused inline
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"hello", "enter")
        await until(pilot, lambda: ("send", "fix-login", "hello") in engine.calls, message="sent")
        assert [c[0] for c in engine.calls if c[0] != "list_sessions"] == ["pause", "resume", "set_auto_yes", "send"]


async def test_batch_actions_apply_to_every_marked_session() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("space", "down", "space")  # add-tests, bot
        assert app.targets() == ["add-tests", "bot"]
        await pilot.press("p")
        await until(pilot, lambda: ("pause", "bot") in engine.calls, message="both paused")
        assert ("pause", "add-tests") in engine.calls
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"go", "enter")
        await until(pilot, lambda: {("send", "bot", "go"), ("send", "add-tests", "go")} <= set(engine.calls))
        await pilot.press("asterisk")
        assert app.marked == {s.name for s in app.shown_sessions()}
        await pilot.press("r")
        await until(pilot, lambda: sum(c[0] == "resume" for c in engine.calls) == 6, message="resume all")
        await pilot.press("asterisk")
        assert app.marked == set()


async def test_kill_asks_and_force_needs_a_second_confirm() -> None:
    engine = FakeEngine(dirty={"fix-login"})
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("space", "down", "down", "down", "space")  # add-tests (clean), fix-login (dirty)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), message="first confirm")
        await pilot.press("n")
        await pilot.pause()
        assert not [c for c in engine.calls if c[0] == "kill"]
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and "uncommitted" in app.screen.title_text,
                    message="second confirm for --force")
        assert ("kill", "add-tests", False) in engine.calls and ("kill", "fix-login", False) in engine.calls
        assert ("kill", "fix-login", True) not in engine.calls
        await pilot.press("y")
        await until(pilot, lambda: ("kill", "fix-login", True) in engine.calls, message="forced kill")
        await until(pilot, lambda: "fix-login" not in app.sessions and "add-tests" not in app.sessions)


async def test_declining_force_keeps_the_dirty_session() -> None:
    engine = FakeEngine(dirty={"add-tests"})
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and "uncommitted" in app.screen.title_text)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert ("kill", "add-tests", True) not in engine.calls
        assert app.sessions["add-tests"].status is Status.RUNNING


async def test_merge_upgrade_export() -> None:
    engine = FakeEngine()
    app = make_app(engine)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: ("merge", "add-tests") in engine.calls)
        await until(pilot, lambda: any("merged trails/add-tests into main" in m for m, _ in notes))
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("enter")  # the only choice above worktree: container
        await until(pilot, lambda: ("upgrade_session", "add-tests", "container") in engine.calls)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("down", "enter")  # worktree
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), message="downgrade confirm")
        await pilot.press("y")
        await until(pilot, lambda: ("export_session", "add-tests", "worktree", True) in engine.calls)
        await pilot.press("down")  # bot: direct mode, no branch
        await pilot.press("M", "e")
        await until(pilot, lambda: any("nothing to merge" in m for m, _ in notes)
                    and any("nothing less isolated" in m for m, _ in notes))


async def test_engine_errors_are_notifications_not_tracebacks() -> None:
    engine = FakeEngine()

    def broken(name: str, *, caller: Any = None) -> None:
        raise SessionStateError(f"session {name!r} is completed")

    def crash(name: str, *, caller: Any = None) -> None:
        raise RuntimeError("boom")

    engine.pause = broken  # type: ignore[method-assign]
    engine.resume = crash  # type: ignore[method-assign]
    app = make_app(engine)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("p", "r")
        await until(pilot, lambda: len([n for n in notes if n[1] == "error"]) == 2, message="two error notes")
        assert "is completed" in notes[0][0] and "RuntimeError: boom" in notes[1][0]
        assert app.is_running


async def test_attach_without_a_terminal_is_a_notification() -> None:
    app = make_app()
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("a")
        await until(pilot, lambda: any("real terminal" in m for m, _ in notes))
        assert app.is_running


async def test_tabs_grid_help_and_quit() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        for key, tab in (("2", "diff"), ("3", "details"), ("1", "preview")):
            await pilot.press(key)
            assert app.query_one("TabbedContent").active == tab  # type: ignore[attr-defined]
        await pilot.press("g")
        await until(pilot, lambda: len(app.query(SessionCard)) == 6, message="grid cards")
        await pilot.press("right", "down")  # 0 → 1 → 4 in a 3-wide grid
        assert app.selected == "perf-cache"
        assert [c.name for c in app.query(".-selected")] == ["perf-cache"]
        await pilot.press("g", "question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape", "q")
        await until(pilot, lambda: not app.is_running, message="quit")


class FormEngine(FakeEngine):
    def create_session(self, name: str, agent: str, *, caller: Any = None, **kwargs: Any) -> Any:
        from tests.tui.fake_engine import session
        from trails.core.engine import CreateResult
        from trails.core.errors import InvalidInput

        self.calls.append(("create_session", name, agent, kwargs))
        if kwargs.get("branch") == "bad..name":
            raise InvalidInput("invalid branch name 'bad..name'")
        if agent == "nope":
            raise InvalidInput("agent command 'nope' was not found on PATH")
        self.sessions[name] = session(name, i=len(self.sessions))
        return CreateResult(self.sessions[name], {}, ["a note"])


@pytest.mark.parametrize(("typed", "field", "message"), [
    ({"name": "Bad Name", "agent": "claude"}, "name", "invalid session name"),
    ({"name": "ok", "agent": ""}, "agent", "agent is required"),
    ({"name": "ok", "agent": "nope"}, "agent", "not found on PATH"),
    ({"name": "ok", "agent": "claude", "branch": "bad..name"}, "branch", "invalid branch name"),
])
async def test_new_session_form_shows_errors_inline(typed: dict[str, str], field: str, message: str) -> None:
    app = make_app(FormEngine())
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        form = app.screen
        for key, value in typed.items():
            form.query_one(f"#{key}").value = value  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: message in str(form.query_one(f"#{field}-error").render()),  # type: ignore[attr-defined]
                    message=f"inline error under {field}")
        assert app.screen is form  # the form stays open, with what was typed


async def test_name_is_checked_as_you_type() -> None:
    app = make_app(FormEngine())
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await pilot.press("X")
        error = app.screen.query_one("#name-error")
        assert "must start with a lowercase letter" in str(error.render())  # type: ignore[attr-defined]
        await pilot.press("backspace", "x")
        assert str(error.render()).strip() == ""  # type: ignore[attr-defined]


async def test_new_session_form_creates_through_the_engine() -> None:
    engine = FormEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await _started(app, pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen))
        await pilot.press(*"new-one", "tab", *"claude", "tab")
        app.screen.query_one("#mode").value = "worktree"  # type: ignore[attr-defined]
        app.screen.query_one("#prompt").value = "fix it"  # type: ignore[attr-defined]
        app.screen.query_one("#auto_yes").value = True  # type: ignore[attr-defined]
        app.screen.query_one("#coordinator").value = True  # type: ignore[attr-defined]
        app.screen.query_one("#no_mcp").value = True  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not isinstance(app.screen, NewSessionScreen), message="form closed")
        call = next(c for c in engine.calls if c[0] == "create_session")
        assert call[1:3] == ("new-one", "claude")
        assert call[3] == {"mode": "worktree", "prompt": "fix it", "branch": None, "base": None, "auto_yes": True,
                           "coordinator": True, "no_mcp": True}
        await until(pilot, lambda: app.selected == "new-one", message="new session selected")
