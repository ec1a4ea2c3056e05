"""SVG snapshots of the main screens, from fixed sessions, a fixed clock and a fixed terminal size.

Update after an intended change with `pytest tests/tui/test_snapshots.py --snapshot-update`, then look
at the SVGs under tests/tui/__snapshots__/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.fake_engine import NOW, FakeEngine
from tests.tui.tuihelp import SIZE, until
from trails.ui.tui.app import TrailsApp


def make_app() -> TrailsApp:
    return TrailsApp(FakeEngine(), clock=lambda: NOW, feed=None, stats=True)


def shows(tab: str, *keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, TrailsApp)
        await until(pilot, lambda: app.loaded.is_set() and len(app.stats) == 6, message="stats")
        await pilot.press(*keys)
        await until(pilot, lambda: app.tab_loaded == (app.selected, tab), message=f"{tab} tab drawn")
        await pilot.pause()

    return run_before


@pytest.mark.parametrize(("tab", "keys"), [
    ("preview", ()),
    ("diff", ("down", "down", "down", "2")),
    ("details", ("down", "down", "down", "down", "3")),
    ("preview", ("g", "right", "right")),
    ("preview", ("o", "f")),
], ids=["list_preview", "diff_tab", "details_tab", "grid", "attention_filter_sorted"])
def test_main_screens(snap_compare: Any, tab: str, keys: tuple[str, ...]) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=shows(tab, *keys))


def _dialog(keys: tuple[str, ...], ready: Callable[[TrailsApp], bool]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, TrailsApp)
        await until(pilot, lambda: app.loaded.is_set() and len(app.stats) == 6, message="stats")
        await pilot.press(*keys)
        await until(pilot, lambda: ready(app), message="dialog")
        await pilot.pause()

    return run_before


def test_help_screen(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE,
                        run_before=_dialog(("question_mark",), lambda a: type(a.screen).__name__ == "HelpScreen"))


def test_new_session_form_with_inline_error(snap_compare: Any) -> None:
    def ready(app: TrailsApp) -> bool:
        return type(app.screen).__name__ == "NewSessionScreen" and "invalid" in str(
            app.screen.query_one("#name-error").render())

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_dialog(("n", "B", "a", "d", "!"), ready))


def test_kill_confirm(snap_compare: Any) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE,
                        run_before=_dialog(("space", "down", "space", "k"),
                                           lambda a: type(a.screen).__name__ == "ConfirmScreen"))
