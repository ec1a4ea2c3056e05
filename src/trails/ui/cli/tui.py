"""`trails tui`: the terminal dashboard (also what `trails` alone opens on a terminal)."""

from __future__ import annotations

from trails.ui.cli.framework import command


@command(help="Open the terminal dashboard over all sessions.")
def tui() -> int:
    from trails.ui.tui.app import run

    return run()
