"""The preview tab: the selected agent's screen as the engine last captured it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


class Preview(VerticalScroll):
    DEFAULT_CSS = "Preview { height: 1fr; } Preview > Static { width: auto; }"

    def compose(self) -> ComposeResult:
        yield Static(Text("no session selected", style="dim"), id="preview-text")

    def show(self, screen: str | None, note: str = "") -> None:
        text = Text(screen.rstrip("\n")) if screen else Text(note or "(no output yet)", style="dim")
        self.query_one("#preview-text", Static).update(text)
        self.scroll_end(animate=False)
