"""The session list: one row per session, status in colour, attention marker, multi-selection marks.

Each row is its own small widget, so a status event repaints one line, not the whole list (a table
widget re-renders every cell on any change: about 150 ms for 50 sessions on our machines).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from trails.core.marks import marks, tree, tree_prefix
from trails.core.models import Session
from trails.ui.tui.view import ATTENTION_MARK, STATUS_STYLE, DiffStats, age, needs_attention

# Branch last: on a narrow terminal it is the column that gets cut. HOST only while a remote host's
# session is listed.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("mark", " "), ("name", "NAME"), ("agent", "AGENT"), ("mode", "MODE"), ("status", "STATUS"), ("age", "AGE"),
    ("diff", "DIFF"), ("auto", "AUTO"), ("branch", "BRANCH"))
WITH_HOST: tuple[tuple[str, str], ...] = (COLUMNS[0], ("host", "HOST"), *COLUMNS[1:])
UNREACHABLE_STYLE = "dim strike"
MAX_WIDTH = {"name": 24, "agent": 14, "branch": 20, "host": 16}


def host_of(session: Session) -> str | None:
    """The remote host a dashboard session runs on (backend.session_of names it HOST:NAME), or None."""
    host = session.extra.get("host")
    return host if isinstance(host, str) else None


def unreachable(session: Session) -> bool:
    return bool(session.extra.get("host_unreachable"))


def status_cell(session: Session) -> Text:
    marker = f"{ATTENTION_MARK} " if needs_attention(session) else "  "
    text = Text(marker + session.status.value, style=STATUS_STYLE.get(session.status, ""))
    if session.status_source == "hook":
        text.append(" ·hook", style="dim")  # the agent's own hooks said so, not its screen
    # A rebase conflict, a pull request's state, an idle agent frozen.
    lifecycle = marks(session.conflict, session.pr, frozen=bool(session.extra.get("frozen")))
    if session.coordinator:
        lifecycle.append("coordinator")
    if lifecycle:
        text.append(" " + ", ".join(lifecycle), style="yellow")
    return text


def cells(session: Session, stats: DiffStats | None, marked: bool, now: float, depth: int = 0) -> dict[str, Text]:
    host = host_of(session)
    plain = {
        "mark": "✓" if marked else " ",
        "host": host or "local",
        # a worker indented under its coordinator
        "name": tree_prefix(depth) + (session.name.partition(":")[2] if host else session.name),
        "agent": session.agent,
        "mode": session.mode.value,
        "branch": session.branch or "-",
        "diff": stats.label() if stats else "-",
        "age": age(session.created_at, now),
        "auto": "yes" if session.auto_yes else "",
    }
    out = {k: Text(v) for k, v in plain.items()}
    out["status"] = status_cell(session)
    if unreachable(session):  # its host cannot be reached: what it last said, greyed, never dropped
        out["status"].append(" ·unreachable")
        for cell in out.values():
            cell.stylize(UNREACHABLE_STYLE)
    return out


def line(row: dict[str, Text], widths: dict[str, int], columns: tuple[tuple[str, str], ...] = COLUMNS) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for key, _ in columns:
        cell = row[key].copy()
        cell.truncate(widths[key], overflow="ellipsis", pad=True)
        text.append_text(cell)
        text.append("  ")
    return text


class SessionRow(Widget):
    """One line. Its size never changes, so new content repaints just it (no layout pass)."""

    session = ""  # the name of the session this line shows
    _text = Text()

    def update(self, text: Text) -> None:
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return self._text

    DEFAULT_CSS = """
    SessionRow { height: 1; padding: 0 1; }
    SessionRow.-cursor { background: $primary 50%; }
    SessionList:focus-within SessionRow.-cursor { background: $primary; text-style: bold; }
    """


class SessionList(Vertical, can_focus=True):
    """Rows keyed by session name. `show` rebuilds only when the set or order of rows changed."""

    DEFAULT_CSS = """
    SessionList { height: 1fr; }
    SessionList > #list-header { height: 1; padding: 0 1; text-style: bold; color: $text-muted; }
    SessionList > VerticalScroll { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False), Binding("down", "move(1)", show=False),
        Binding("pageup", "move(-10)", show=False), Binding("pagedown", "move(10)", show=False),
        Binding("home", "move(-100000)", show=False), Binding("end", "move(100000)", show=False),
    ]

    class Highlighted(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._order: list[str] = []
        self._rows: dict[str, dict[str, Text]] = {}
        self._widths: dict[str, int] = {}
        self.cursor = 0
        self._cache: dict[str, tuple[tuple[object, ...], dict[str, Text]]] = {}
        self._lines: dict[str, tuple[tuple[object, ...], Text]] = {}
        self._depths: dict[str, int] = {}  # each row's depth under its coordinator
        self.columns = COLUMNS

    def compose(self) -> ComposeResult:
        yield Static("", id="list-header")
        yield VerticalScroll(id="rows", can_focus=False)

    def _measure(self) -> dict[str, int]:
        widths = {key: len(label) for key, label in self.columns}
        for row in self._rows.values():
            for key, cell in row.items():
                if key in widths:
                    widths[key] = max(widths[key], min(cell.cell_len, MAX_WIDTH.get(key, 99)))
        return widths

    def _header(self) -> None:
        self.query_one("#list-header", Static).update(line({k: Text(v) for k, v in self.columns}, self._widths,
                                                           self.columns))

    def _cells(self, session: Session, stats: DiffStats | None, marked: bool, now: float) -> dict[str, Text]:
        # Building rich Text for 50 rows on every event shows up in the repaint time: reuse unchanged rows.
        depth = self._depths.get(session.name, 0)
        key = (session.name, session.agent, session.mode, session.status, session.branch, stats, marked,
               age(session.created_at, now), session.auto_yes, needs_attention(session),
               session.status_source, bool(session.extra.get("frozen")), session.coordinator, depth,
               unreachable(session))
        cached = self._cache.get(session.name)
        if cached is None or cached[0] != key:
            cached = (key, cells(session, stats, marked, now, depth))
            self._cache[session.name] = cached
        return cached[1]

    def _line(self, name: str) -> Text:
        key = (self._cache[name][0], tuple(self._widths.values()))
        cached = self._lines.get(name)
        if cached is None or cached[0] != key:
            cached = (key, line(self._rows[name], self._widths, self.columns))
            self._lines[name] = cached
        return cached[1]

    def show(self, sessions: list[Session], stats: dict[str, DiffStats], marked: set[str], now: float,
             selected: str | None) -> None:
        self._depths = {s.name: depth for depth, s in tree(sessions, lambda s: s.name, lambda s: s.parent)}
        self._rows = {s.name: self._cells(s, stats.get(s.name), s.name in marked, now) for s in sessions}
        self.columns = WITH_HOST if any(host_of(s) for s in sessions) else COLUMNS
        widths = self._measure()
        names = [s.name for s in sessions]
        if names != self._order or widths != self._widths:
            self._widths, self._order = widths, names
            self._header()
            self._relayout(names.index(selected) if selected in names else 0)
            return
        for row_widget in self.query(SessionRow):
            row_widget.update(self._line(row_widget.session))

    def _relayout(self, cursor: int) -> None:
        """Re-use the row widgets in place (a reorder repaints lines, it mounts nothing)."""
        body = self.query_one("#rows", VerticalScroll)
        rows: list[SessionRow] = list(body.query(SessionRow))
        if len(rows) > len(self._order):
            for extra in rows[len(self._order):]:
                extra.remove()
            rows = rows[: len(self._order)]
        new = [SessionRow() for _ in range(len(self._order) - len(rows))]
        for row_widget, name in zip(rows + new, self._order, strict=True):
            row_widget.session = name
            row_widget.update(self._line(name))
        for row_widget in rows:
            row_widget.remove_class("-cursor")
        if new:
            body.mount_all(new)
        self.cursor = cursor
        if self._order:
            (rows + new)[cursor].add_class("-cursor")

    def update(self, session: Session, stats: DiffStats | None, marked: bool, now: float) -> None:
        """Repaint one session's row (a status event touches only its own line)."""
        if session.name not in self._order:
            return
        self._rows[session.name] = self._cells(session, stats, marked, now)
        if any(k in self._widths and cell.cell_len > self._widths[k] and self._widths[k] < MAX_WIDTH.get(k, 99)
               for k, cell in self._rows[session.name].items()):
            self._widths = self._measure()
            self._header()
            for row_widget in self.query(SessionRow):
                row_widget.update(self._line(row_widget.session))
            return
        self._row(session.name).update(self._line(session.name))

    def _row(self, name: str) -> SessionRow:
        return self.query_one("#rows", VerticalScroll).children[self._order.index(name)]  # type: ignore[return-value]

    def cell_text(self, name: str, key: str) -> str:
        return self._rows[name][key].plain

    def current(self) -> str | None:
        return self._order[self.cursor] if 0 <= self.cursor < len(self._order) else None

    def select(self, name: str) -> None:
        if name in self._order:
            self._move_to(self._order.index(name), announce=False)

    def _move_to(self, index: int, *, announce: bool = True) -> None:
        rows = self.query_one("#rows", VerticalScroll).children
        if not rows:
            return
        index = max(0, min(len(rows) - 1, index))
        if 0 <= self.cursor < len(rows):
            rows[self.cursor].remove_class("-cursor")
        self.cursor = index
        rows[index].add_class("-cursor")
        rows[index].scroll_visible(animate=False)
        if announce:
            self.post_message(self.Highlighted(self._order[index]))

    def action_move(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def on_click(self, event: events.Click) -> None:
        if isinstance(event.widget, SessionRow) and event.widget.session in self._order:
            self._move_to(self._order.index(event.widget.session))
