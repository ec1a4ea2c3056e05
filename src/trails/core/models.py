"""The records the engine hands to front ends: plain dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    DIRECT = "direct"
    WORKTREE = "worktree"
    CONTAINER = "container"

    @property
    def isolation_rank(self) -> int:
        """Higher is more isolated; a move to a lower rank is a downgrade."""
        return {"direct": 0, "worktree": 1, "container": 2}[self.value]


MODE_ALIASES = {"basic": Mode.DIRECT}


def parse_mode(value: str) -> Mode:
    from trails.core.errors import InvalidInput

    key = value.strip().lower()
    if key in MODE_ALIASES:
        return MODE_ALIASES[key]
    try:
        return Mode(key)
    except ValueError:
        choices = ", ".join([m.value for m in Mode] + list(MODE_ALIASES))
        raise InvalidInput(f"unknown mode {value!r}: choose one of {choices}") from None


class Status(StrEnum):
    CREATING = "creating"
    LOADING = "loading"
    RUNNING = "running"
    READY = "ready"
    WAITING = "waiting"
    PAUSED = "paused"
    ERROR = "error"
    COMPLETED = "completed"
    KILLED = "killed"

    @property
    def live(self) -> bool:
        """The agent process is (supposed to be) running."""
        return self in LIVE_STATUSES


LIVE_STATUSES = frozenset({Status.CREATING, Status.LOADING, Status.RUNNING, Status.READY, Status.WAITING})


@dataclass
class Session:
    id: int
    name: str
    agent: str
    command: list[str]
    mode: Mode
    status: Status
    workdir: str
    repo_root: str | None
    worktree_path: str | None
    branch: str | None
    base_commit: str | None
    tmux_session: str
    env: dict[str, str] = field(default_factory=dict)
    status_reason: str | None = None
    auto_yes: bool = False
    conversation_id: str | None = None
    container_id: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    ended_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = self.mode.value
        data["status"] = self.status.value
        return data


@dataclass
class Checkpoint:
    id: int
    session_name: str
    kind: str
    ref: str
    commit: str
    note: str
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AuditEntry:
    id: int
    ts: float
    session_name: str | None
    action: str
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
