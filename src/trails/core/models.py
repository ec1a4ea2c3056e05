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

# Fields that lived in `extra` until schema v3 and are columns of their own now: several writers change
# them while a session lives (the supervisor, rebase, pr, pause), each by name. The JSON form keeps them
# under "extra", where scripts have always found them.
LIFECYCLE_FIELDS = ("needs_user", "conflict", "pr", "paused", "last_output")


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
    needs_user: str | None = None  # why a waiting prompt needs a person (auto-yes refused it), else None
    conflict: dict[str, Any] | None = None  # the last rebase or merge conflict, until resolved
    pr: dict[str, Any] | None = None  # its pull request, as last asked of the forge
    paused: dict[str, Any] | None = None  # what pause saved (ref, commit, conversation id), until resumed
    last_output: str | None = None  # the agent's last screen lines, kept when its pane went
    status_source: str | None = None  # who said its status: hook, screen, or None (trails itself)
    coordinator: bool = False  # the user made it one: its agent may run the orchestration tools
    parent: str | None = None  # the coordinator session that created it

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mode"] = self.mode.value
        data["status"] = self.status.value
        for name in LIFECYCLE_FIELDS:
            value = data.pop(name)
            if value is not None:
                data["extra"][name] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        """A session from its `to_dict` form."""
        data = dict(data)
        extra = dict(data.get("extra") or {})
        for name in LIFECYCLE_FIELDS:
            if name in extra:
                data[name] = extra.pop(name)
        data["extra"] = extra
        data["mode"], data["status"] = Mode(data["mode"]), Status(data["status"])
        return cls(**data)


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
    caller: str | None = None  # who asked: user, web, agent:NAME; None for trails' own work

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- agents' coordination (issue #12): what the store keeps of messages, claims and artifacts ---------


@dataclass
class Message:
    id: int
    ts: float
    repo_root: str
    from_session: str
    to_session: str  # a session's name, or "*": every live session of the repository
    text: str
    delivered_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Claim:
    id: int
    ts: float
    session: str
    session_id: int
    repo_root: str
    pattern: str  # relative to the repository, `/`-separated; a directory covers what is under it
    reason: str
    expires_at: float | None
    released_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Artifact:
    id: int
    ts: float
    repo_root: str
    name: str
    session: str
    size: int
    content: bytes | None = None  # None where only its description was read (a listing)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
