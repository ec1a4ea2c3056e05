"""The details tab: where the session lives, its limits, conversation, saved work and audit entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

FIELDS = ("name", "agent", "mode", "status", "status_reason", "workdir", "worktree_path", "branch", "base_commit",
          "tmux_session", "conversation_id", "container_id")


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(data: dict[str, Any]) -> RenderableType:
    session = data["session"]
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    for key in FIELDS:
        if session.get(key):
            info.add_row(key, str(session[key]))
    source = session.get("status_source")
    info.add_row("status source", {"hook": "the agent's hooks", "screen": "its screen"}.get(str(source), "trails"))
    info.add_row("auto-yes", "on" if session.get("auto_yes") else "off")
    limits = {k: v for k, v in (session.get("limits") or {}).items() if k in ("cpus", "memory", "pids_limit")}
    if limits:
        info.add_row("limits", ", ".join(f"{k}={v}" for k, v in limits.items()))
    if data.get("disk"):
        info.add_row("disk", str(data["disk"].get("human") or data["disk"]))
    for cp in data.get("checkpoints", []):
        info.add_row("saved", f"{cp['ref']} ({cp['commit'][:12]}, {cp['kind']})")
    audit = Table("when (UTC)", "action", "detail", title="audit", title_justify="left", expand=False,
                  show_edge=False)
    for entry in data.get("audit", [])[-12:]:
        detail = ", ".join(f"{k}={v}" for k, v in entry.get("detail", {}).items() if v not in (None, "", [], {}))
        audit.add_row(_when(entry["ts"]), entry["action"], detail[:80])
    return Group(info, Text(""), audit)


class Details(VerticalScroll):
    DEFAULT_CSS = "Details { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static(Text("no session selected", style="dim"), id="details-text")

    def show(self, data: dict[str, Any] | None, note: str = "") -> None:
        body = render(data) if data else Text(note, style="dim")
        self.query_one("#details-text", Static).update(body)
