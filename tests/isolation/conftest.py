"""Helpers for the container tests (the engine fixtures live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import as_user, wait_until

SLEEPER = "sleep 600"
READER = "sh -c 'while read line; do echo \"got:$line\"; echo \"$line\" >> log.txt; done'"


def pane_alive(engine: object, session: str) -> bool:
    panes = engine.tmux.list_panes()  # type: ignore[attr-defined]
    pane = panes.get(engine.get_session(session, caller=as_user()).tmux_session)  # type: ignore[attr-defined]
    return pane is not None and not pane.dead


def wait_file(path: Path, timeout: float = 15.0) -> str:
    return wait_until(lambda: path.exists() and path.read_text(), timeout=timeout, message=f"{path}")



