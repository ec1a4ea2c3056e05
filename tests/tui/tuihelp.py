"""Helpers for driving the dashboard headlessly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from trails.ui.tui.app import TrailsApp

SIZE = (140, 36)


async def until(pilot: Pilot[Any], condition: Callable[[], object], timeout: float = 10.0,
                message: str = "condition") -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await pilot.pause(0.05)


def record_notifications(app: TrailsApp) -> list[tuple[str, str]]:
    """(message, severity) of every notification the app shows from now on."""
    seen: list[tuple[str, str]] = []
    original = app.notify

    def notify(message: str, *, title: str = "", severity: Any = "information", timeout: float | None = None,
               markup: bool = True) -> None:
        seen.append((f"{title}: {message}" if title else message, str(severity)))
        original(message, title=title, severity=severity, timeout=timeout, markup=markup)

    app.notify = notify  # type: ignore[method-assign]
    return seen


def status_text(app: TrailsApp, name: str) -> str:
    return cell_text(app, name, "status").strip(" ●")


def cell_text(app: TrailsApp, name: str, column: str) -> str:
    from trails.ui.tui.session_table import SessionList

    return app.main.query_one(SessionList).cell_text(name, column)
