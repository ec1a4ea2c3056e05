"""How sessions are shown: colours, markers, ages, filtering and sorting. Plain functions, no Textual."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from trails.core.marks import tree
from trails.core.models import LIVE_STATUSES, Session, Status

STATUS_STYLE: dict[Status, str] = {
    Status.CREATING: "yellow",
    Status.LOADING: "yellow",
    Status.RUNNING: "green",
    Status.READY: "cyan",
    Status.WAITING: "bold magenta",
    Status.PAUSED: "blue",
    Status.ERROR: "bold red",
    Status.COMPLETED: "dim",
    Status.KILLED: "dim",
}
ATTENTION_MARK = "●"
SORTS = ("name", "status", "age", "mode")
STATUS_FILTERS = ("all", "attention", "live", "paused", "ended")
MODE_FILTERS = ("all", "direct", "worktree", "container")
# Sorting by status puts what needs a person first.
_STATUS_ORDER = [Status.WAITING, Status.ERROR, Status.READY, Status.RUNNING, Status.LOADING, Status.CREATING,
                 Status.PAUSED, Status.COMPLETED, Status.KILLED]


@dataclass(frozen=True)
class DiffStats:
    insertions: int
    deletions: int
    files: int

    def label(self) -> str:
        return f"+{self.insertions} −{self.deletions} {self.files}f"


def needs_attention(session: Session) -> bool:
    return session.status in (Status.WAITING, Status.ERROR) or bool(session.needs_user) or bool(session.conflict)


def age(created_at: float, now: float) -> str:
    secs = max(0, int(now - created_at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def matches(session: Session, *, text: str = "", status: str = "all", mode: str = "all") -> bool:
    if mode != "all" and session.mode.value != mode:
        return False
    wanted = {
        "all": True,
        "attention": needs_attention(session),
        "live": session.status in LIVE_STATUSES,
        "paused": session.status is Status.PAUSED,
        "ended": session.status in (Status.COMPLETED, Status.ERROR, Status.KILLED),
    }[status]
    if not wanted:
        return False
    needle = text.strip().lower()
    haystack = " ".join([session.name, session.agent, session.branch or "", session.status.value]).lower()
    return not needle or needle in haystack


def ordered(sessions: Iterable[Session], sort: str) -> list[Session]:
    key = {
        "name": lambda s: (s.name,),
        "status": lambda s: (_STATUS_ORDER.index(s.status), s.name),
        "age": lambda s: (-s.created_at, s.name),
        "mode": lambda s: (s.mode.value, s.name),
    }[sort]
    # Each coordinator's workers right under it (in the same order among themselves), as `trails ls` shows.
    return [s for _, s in tree(sorted(sessions, key=key), lambda s: s.name, lambda s: s.parent)]


def cycle(options: tuple[str, ...], current: str) -> str:
    return options[(options.index(current) + 1) % len(options)]
