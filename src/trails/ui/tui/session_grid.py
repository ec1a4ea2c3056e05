"""The session grid: one card per session, the alternative to the list (toggled with `g`)."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Grid
from textual.widgets import Static

from trails.core.models import Session
from trails.ui.tui.session_table import UNREACHABLE_STYLE, host_of, status_cell, unreachable
from trails.ui.tui.view import DiffStats, age


def card_text(session: Session, stats: DiffStats | None, marked: bool, now: float) -> Text:
    host = host_of(session)
    text = Text(("✓ " if marked else "") + (session.name.partition(":")[2] if host else session.name), style="bold")
    if host:
        text.append(f" @{host}", style="cyan")
    text.append("\n")
    text.append_text(status_cell(session))
    text.append(f"\n{session.agent[:20]}\n{session.mode.value} · {age(session.created_at, now)}")
    if stats:
        text.append(f" · {stats.label()}")
    if session.auto_yes:
        text.append(" · auto-yes")
    if unreachable(session):
        text.append(" · unreachable")
        text.stylize(UNREACHABLE_STYLE)
    return text


class SessionCard(Static):
    DEFAULT_CSS = """
    SessionCard { height: 6; border: round $panel-lighten-2; padding: 0 1; }
    SessionCard.-selected { border: round $accent; background: $boost; }
    """


class SessionGrid(Grid):
    """Cards in a grid; the selected one is highlighted. Selection moves through the app's keys."""

    DEFAULT_CSS = "SessionGrid { grid-size: 3; grid-rows: 6; grid-gutter: 0 1; height: auto; }"

    def show(self, sessions: list[Session], stats: dict[str, DiffStats], marked: set[str], now: float,
             selected: str | None) -> None:
        cards = list(self.query(SessionCard))
        names = [c.name for c in cards]
        wanted = [s.name for s in sessions]
        if names != wanted:
            self.remove_children()
            self.mount_all([SessionCard(card_text(s, stats.get(s.name), s.name in marked, now), name=s.name,
                                        classes="-selected" if s.name == selected else "")
                            for s in sessions])
            cards = []
        for card, s in zip(cards, sessions, strict=False):
            card.update(card_text(s, stats.get(s.name), s.name in marked, now))
        self.highlight(selected)

    def highlight(self, selected: str | None) -> None:
        for card in self.query(SessionCard):
            card.set_class(card.name == selected, "-selected")
