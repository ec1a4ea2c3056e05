"""The session list: one row per session, status in colour, attention marker, multi-selection marks."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from trails.core.models import Session
from trails.ui.tui.view import ATTENTION_MARK, STATUS_STYLE, DiffStats, age, needs_attention

COLUMNS = (("mark", " "), ("name", "NAME"), ("agent", "AGENT"), ("mode", "MODE"), ("status", "STATUS"),
           ("branch", "BRANCH"), ("diff", "DIFF"), ("age", "AGE"), ("auto", "AUTO"))


def status_cell(session: Session) -> Text:
    marker = f"{ATTENTION_MARK} " if needs_attention(session) else "  "
    return Text(marker + session.status.value, style=STATUS_STYLE.get(session.status, ""))


def cells(session: Session, stats: DiffStats | None, marked: bool, now: float) -> dict[str, str | Text]:
    return {
        "mark": Text("✓", style="bold") if marked else Text(" "),
        "name": session.name,
        "agent": session.agent[:18],
        "mode": session.mode.value,
        "status": status_cell(session),
        "branch": (session.branch or "-")[:24],
        "diff": stats.label() if stats else "-",
        "age": age(session.created_at, now),
        "auto": "yes" if session.auto_yes else "",
    }


class SessionTable(DataTable[str | Text]):
    """Rows keyed by session name. `show` rebuilds only when the set or order of rows changed."""

    DEFAULT_CSS = "SessionTable { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self._order: list[str] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def show(self, sessions: list[Session], stats: dict[str, DiffStats], marked: set[str], now: float,
             selected: str | None) -> None:
        names = [s.name for s in sessions]
        if names != self._order:
            self.clear()
            for s in sessions:
                row = cells(s, stats.get(s.name), s.name in marked, now)
                self.add_row(*[row[key] for key, _ in COLUMNS], key=s.name)
            self._order = names
            if selected in names:
                self.move_cursor(row=names.index(selected))
            return
        for s in sessions:
            self.update(s, stats.get(s.name), s.name in marked, now)

    def update(self, session: Session, stats: DiffStats | None, marked: bool, now: float) -> None:
        """Refresh one row's cells in place (a status event touches only its own row)."""
        if session.name not in self._order:
            return
        for key, value in cells(session, stats, marked, now).items():
            self.update_cell(session.name, key, value)

    def current(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def select(self, name: str) -> None:
        if name in self._order:
            self.move_cursor(row=self._order.index(name))
