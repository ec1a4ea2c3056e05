"""How sessions are shown, without Textual: ages, attention, filters and sort orders."""

from __future__ import annotations

from tests.tui.fake_engine import NOW, sample_sessions
from trails.ui.tui import view


def test_age_needs_a_clock_and_rounds_down() -> None:
    assert [view.age(NOW - s, NOW) for s in (5, 59, 60, 3599, 3600, 90000, -3)] == \
        ["5s", "59s", "1m", "59m", "1h", "1d", "0s"]


def test_filters() -> None:
    sessions = sample_sessions()

    def names(**kw: str) -> set[str]:
        return {s.name for s in sessions if view.matches(s, **kw)}

    assert names(status="attention") == {"fix-login", "perf-cache"}
    assert names(status="live") == {"fix-login", "add-tests", "docs-typos"}
    assert names(status="paused") == {"refactor-db"}
    assert names(status="ended") == {"perf-cache", "bot"}
    assert names(mode="container") == {"perf-cache"}
    assert names(text="CODEX") == {"add-tests"} and names(text="trails/fix") == {"fix-login"}
    sessions[1].needs_user = "a guard refused it"  # a refused auto-yes prompt needs a person too
    assert "add-tests" in names(status="attention")


def test_sorts_put_what_needs_you_first_and_cycle_wraps() -> None:
    by_status = [s.name for s in view.ordered(sample_sessions(), "status")]
    assert by_status[:2] == ["fix-login", "perf-cache"] and by_status[-1] == "bot"
    assert view.ordered(sample_sessions(), "age")[0].name == "bot"  # newest first
    assert view.cycle(view.SORTS, "mode") == "name"
