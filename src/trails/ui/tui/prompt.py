"""A one-line text question (e.g. the message to send); dismisses with the text, or None on escape."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from trails.ui.tui.confirm import DIALOG_CSS


class PromptScreen(ModalScreen[str | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="PromptScreen") + "PromptScreen .error { color: $error; }"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, title: str, placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.placeholder = title, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            yield Input(placeholder=self.placeholder, id="text")
            yield Static("", classes="error", id="error")
            yield Static("enter sends · escape cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.query_one("#error", Static).update("type something first")
            return
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
