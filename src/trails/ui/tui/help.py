"""The help screen: every key of the dashboard, generated from the app's own bindings."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from trails.ui.tui.confirm import DIALOG_CSS


def key_rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    rows = []
    for b in bindings:
        if isinstance(b, Binding) and b.description:
            rows.append((b.key_display or b.key.replace(",", " / "), b.tooltip or b.description))
    return rows


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen") + (
        "HelpScreen > Vertical { width: 84; } HelpScreen VerticalScroll { height: auto; max-height: 24; }")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "close")]

    def __init__(self, bindings: list[BindingType]) -> None:
        super().__init__()
        self.rows = key_rows(bindings)

    def compose(self) -> ComposeResult:
        table = Table("key", "what it does", show_edge=False, expand=True)
        for key, what in self.rows:
            table.add_row(key, what)
        with Vertical():
            yield Static("trails — keys", classes="title")
            with VerticalScroll():
                yield Static(table)
            yield Static("Actions apply to the marked sessions (space marks) or else to the highlighted one. "
                         "escape closes this screen.", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)
