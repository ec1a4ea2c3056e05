"""Idle agents that cost nothing: a session ready for `idle_freeze_after` seconds has its agent frozen.

Frozen means stopped by the kernel: through the session's own cgroup where it has one (cgroup v2's
`cgroup.freeze`, when resource limits put the agent in one), else SIGSTOP to every process of its
pane below its shell. What is frozen is recorded in the session's row (`extra.frozen`: the cgroup, or each process
with its start time, so a pid the kernel handed to another process since is never touched), and
whatever reaches the session first thaws it: a send (before its first key), an attach, a pause, a
kill or a move. A frozen agent's terminal keeps what is typed to it: nothing is lost. The supervisor
decides when to freeze (monitor/supervisor.py); this module does it and undoes it.

Never frozen: a session that is not `ready`, one with a client attached, one whose agent has a child
process that is working (running or in I/O, or that used CPU since the last look), and container
sessions (their processes are not the pane's).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.infra.proc import proc_stat, process_tree

if TYPE_CHECKING:
    from trails.core.models import Session
    from trails.core.store import Store

FROZEN_KEY = "frozen"
THAWED_KEY = "thawed_at"


def workers(root: int) -> dict[int, int]:
    """CPU ticks of the processes below the agent (the pane's shell runs the agent, which runs them)."""
    tree = process_tree(root)
    agents = {p for p, st in tree.items() if st[1] == root}
    return {p: st[2] for p, st in tree.items() if p != root and p not in agents}


def working(root: int, before: dict[int, int]) -> bool:
    """Whether a child of the agent is at work: running, in I/O, or using CPU since `before`."""
    tree = process_tree(root)
    agents = {p for p, st in tree.items() if st[1] == root}
    for pid, st in tree.items():
        if pid == root or pid in agents:
            continue
        if st[0] in ("R", "D") or st[2] > before.get(pid, st[2]):
            return True
    return False


def _freezer(session: Session) -> Path | None:
    for group in session.limits.get("cgroups") or []:
        path = Path(group) / "cgroup.freeze"
        if path.is_file() and os.access(path, os.W_OK):
            return path
    return None


def freeze(session: Session, pane_pid: int) -> dict[str, Any]:
    """Stop the session's agent; what to record so that `thaw` undoes exactly this."""
    freezer = _freezer(session)
    if freezer is not None:
        freezer.write_text("1")
        return {"how": "cgroup", "path": str(freezer), "at": time.time()}
    tree = process_tree(pane_pid)
    stopped = []
    for pid, st in tree.items():
        if pid == pane_pid:
            continue  # tmux continues a pane's own process the moment it stops; it only waits anyway
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP)
            stopped.append([pid, st[3]])
    return {"how": "signal", "processes": stopped, "at": time.time()}


def thaw_recorded(info: dict[str, Any]) -> None:
    if info.get("how") == "cgroup":
        with contextlib.suppress(OSError):
            Path(str(info["path"])).write_text("0")
        return
    for pid, started in info.get("processes") or []:
        st = proc_stat(int(pid))
        if st is not None and st[3] == started:  # the same process, not a later one with its pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGCONT)


def thaw(store: Store, session: Session) -> bool:
    """Thaw the session's agent if it is frozen (before anything reaches it). True when it was."""
    fresh = store.session_by_id(session.id)
    info = (fresh.extra if fresh is not None else session.extra).get(FROZEN_KEY)
    if not info:
        return False
    thaw_recorded(info)
    session.extra.pop(FROZEN_KEY, None)
    session.extra[THAWED_KEY] = time.time()
    store.update_extra(session.id, {FROZEN_KEY: None, THAWED_KEY: session.extra[THAWED_KEY]})
    return True
