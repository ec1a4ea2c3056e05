"""The session list shows the coordinator tree: each worker right under its coordinator, indented,
and the coordinator marked; a worker whose coordinator is not shown is a row of its own."""

from __future__ import annotations

import dataclasses

from tests.tui.fake_engine import NOW, FakeEngine, session
from tests.tui.tuihelp import SIZE, cell_text, until
from trails.core.models import Status
from trails.ui.tui import view
from trails.ui.tui.app import TrailsApp


def _sessions() -> list:  # type: ignore[type-arg]
    lead = dataclasses.replace(session("lead", Status.READY, i=0), coordinator=True)
    return [lead, dataclasses.replace(session("a-worker", i=1), parent="lead"),
            dataclasses.replace(session("z-sub", i=2), parent="a-worker"), session("solo", i=3),
            dataclasses.replace(session("orphan", i=4), parent="gone")]


def test_ordered_puts_workers_under_their_coordinator() -> None:
    assert [s.name for s in view.ordered(_sessions(), "name")] == ["lead", "a-worker", "z-sub", "orphan", "solo"]
    loop = [dataclasses.replace(session("x"), parent="y"), dataclasses.replace(session("y"), parent="x")]
    assert sorted(s.name for s in view.ordered(loop, "name")) == ["x", "y"]  # each once, whatever the names say


async def test_the_list_indents_workers_and_marks_the_coordinator() -> None:
    app = TrailsApp(FakeEngine(_sessions()), clock=lambda: NOW, feed=None, stats=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded.is_set() and app.selected is not None, message="sessions loaded")
        assert [s.name for s in app.shown_sessions()] == ["lead", "a-worker", "z-sub", "orphan", "solo"]
        assert cell_text(app, "lead", "name") == "lead"
        assert cell_text(app, "a-worker", "name") == "└ a-worker"
        assert cell_text(app, "z-sub", "name") == "  └ z-sub"
        assert cell_text(app, "orphan", "name") == "orphan"
        assert "coordinator" in cell_text(app, "lead", "status")
        assert "coordinator" not in cell_text(app, "a-worker", "status")
        await pilot.press("o")  # another sort keeps the tree
        names = [s.name for s in app.shown_sessions()]
        assert names.index("a-worker") == names.index("lead") + 1
