"""The diff tab: the session's changes against its base commit, file by file, syntax-highlighted."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


def split_files(diff: str) -> list[tuple[str, str]]:
    """(path, that file's part of the patch) for each file of a `git diff`."""
    files: list[tuple[str, str]] = []
    for chunk in ("\n" + diff).split("\ndiff --git ")[1:]:
        header = chunk.split("\n", 1)[0]
        path = header.split(" b/", 1)[-1] if " b/" in header else header
        files.append((path, "diff --git " + chunk.rstrip("\n")))
    return files


def render(diff: str, stat: str) -> RenderableType:
    files = split_files(diff)
    if not files:
        return Text("no changes against the base commit", style="dim")
    parts: list[RenderableType] = [Text(stat, style="bold")]
    for path, patch in files:
        parts.append(Text(f"\n── {path} ", style="bold reverse"))
        parts.append(Syntax(patch, "diff", theme="ansi_dark", word_wrap=False, background_color="default"))
    return Group(*parts)


class DiffView(VerticalScroll):
    DEFAULT_CSS = "DiffView { height: 1fr; } DiffView > Static { width: auto; }"

    def compose(self) -> ComposeResult:
        yield Static(Text("no session selected", style="dim"), id="diff-text")

    def show(self, diff: str | None, stat: str = "", note: str = "") -> None:
        body = render(diff, stat) if diff is not None else Text(note, style="dim")
        self.query_one("#diff-text", Static).update(body)
        self.scroll_home(animate=False)
