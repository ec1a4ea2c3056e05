"""What a trails process killed part way through an operation leaves behind, and how the next one
finishes or undoes it.

Every operation that changes things on disk notes what it is about to do in the session's row
(`extra`) first, and holds the session's lock (core/locks.py) while it works; the lock goes with the
process. So a note still there while nobody holds the lock is the trace of an operation that died:

- a row still `creating` — `trails new` died: what it made (tmux session, worktree, branch it
  created, container) is removed and the row deleted, on the next read, so the name is free again;
- `teardown` — `pause` or `kill` died after the worktree's work was saved to a ref (recorded as a
  checkpoint in the same commit) and before the worktree was gone: the next `pause`, `resume` or
  `kill` finishes the removal from whatever is left (the work is in the ref) and goes on;
- `moving` — a move between modes died: undone step by step (core/moves.py), or recorded when its
  new agent was already running, on the next read or operation;
- `resuming` — `resume` died: recorded when its agent was already running, else undone (the worktree
  it re-added removed, the session as it was), on the next read or operation (core/lifecycle.py).

The engine reads the traces (`Engine._settle`) and calls what finishes each; this module imports
nothing that does the operations themselves, so that providers may use its records.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core import faults
from trails.core.models import Mode, Session, Status

if TYPE_CHECKING:
    from trails.core.engine import Engine
    from trails.core.workstate import SavedWork
    from trails.isolation.base import IsolationProvider

TEARDOWN = "teardown"
CREATING = "creating"
MOVING = "moving"
RESUMING = "resuming"


def stamp() -> str:
    """A name for refs saved now: UTC time and pid (unique across processes)."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"


@dataclass
class Teardown:
    """A pause or kill under way: the worktree's work is saved (at `ref`/`commit`, None when it had
    none to save) and the worktree is being removed."""

    op: str  # "pause" | "kill"
    stamp: str
    ref: str | None = None
    commit: str | None = None
    dirty: bool = False
    conversation_id: str | None = None

    @classmethod
    def of(cls, session: Session) -> Teardown | None:
        data = session.extra.get(TEARDOWN)
        return cls(**data) if isinstance(data, dict) else None

    def describe(self) -> str:
        saved = f"its work is saved at {self.ref}" if self.ref else "it had no uncommitted work"
        return (f"a `trails {self.op}` was interrupted while it removed the worktree ({saved}); "
                "`trails pause`, `resume` or `kill` finishes it")


def begin_teardown(engine: Engine, session: Session, op: str, stamp: str, saved: SavedWork | None, *,
                   note: str, conversation_id: str | None = None) -> None:
    """Note, before anything is removed, that `op` removes the worktree and where its work is saved:
    the checkpoint and the note go in one commit, before the ref itself is even written."""
    teardown = Teardown(op, stamp, saved.ref if saved else None, saved.commit if saved else None,
                        bool(saved and saved.changed), conversation_id)
    session.extra[TEARDOWN] = asdict(teardown)
    checkpoints = [(op, saved.ref, saved.commit, note)] if saved else []
    engine.store.update_session(session.id, extra=session.extra, checkpoints=checkpoints)
    faults.point("teardown", "noted")


def pending(session: Session) -> bool:
    """Whether the row carries the trace of an operation (cheap: no process, no file)."""
    return session.status is Status.CREATING or any(k in session.extra for k in (MOVING, TEARDOWN, RESUMING))


# --- a create that died -----------------------------------------------------------------------------


def discard_create(engine: Engine, session: Session) -> None:
    """Remove what a `trails new` that died had made, and its row: nothing of anyone's is in it yet
    (uncommitted work found in its worktree all the same is saved to a ref first)."""
    made: dict[str, Any] = dict(session.extra.get(CREATING) or {})
    notes: list[str] = []
    engine.tmux.kill_session(session.tmux_session)
    provider: IsolationProvider | None = None
    try:
        provider = engine.provider(session.mode)
        notes += [f"container {cid[:12]} removed" for cid in provider.remove_sandbox(session)]
    except Exception as exc:  # the container engine may be down: the rest is still cleaned, and this said
        notes.append(f"its container could not be removed ({exc})")
        provider = engine.provider(Mode.WORKTREE) if made.get("worktree_path") else None
    if provider is not None and made.get("worktree_path") and session.repo_root:
        notes += provider.discard_made(session, made)
    engine.store.delete_session(session.id)
    engine.store.audit("session_create_interrupted", session.name, made=made, notes=notes,
                       reason="the process creating it ended before it finished")


def worktree_state(session: Session) -> str:
    """"ok", "missing" (no directory) or "broken" (a directory that is no longer a git worktree, as an
    interrupted `git worktree remove` or a partial `rm -rf` leaves it). A stat or two: no process."""
    if not session.worktree_path:
        return "missing"
    path = Path(session.worktree_path)
    if (path / ".git").exists():
        return "ok"
    return "broken" if path.exists() else "missing"


def worktree_gone(session: Session) -> str | None:
    """Why a live session's worktree cannot be worked in any more (removed outside trails), or None."""
    if session.mode is Mode.DIRECT or not session.worktree_path or session.status is Status.CREATING:
        return None
    state = worktree_state(session)
    if state == "ok":
        return None
    if state == "broken":
        return f"its worktree {session.worktree_path} is no longer a git worktree (its .git is gone)"
    return f"its worktree {session.worktree_path} is gone (removed outside trails)"
