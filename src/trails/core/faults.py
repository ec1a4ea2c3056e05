"""Fault injection for the tests' fault matrix (tests/faults): the process doing an operation is
SIGKILLed at a named step, with no clean-up of its own, as a crash or `kill -9` would leave it.

`point(operation, step)` is placed at each step of every operation that changes things on disk.
It does nothing unless the test setting TRAILS_TEST_FAULTS=1 is set *and* TRAILS_FAULT names that
point (`TRAILS_FAULT=pause:noted`): a stray TRAILS_FAULT in a user's environment kills nothing.
With the test setting on, a point whose name is not declared in STEPS below is an error, so the
list the tests enumerate is the list of points there are.

Some steps are shared by several commands (a pause and a kill both tear a worktree down; a create,
a move and a resume all add one): they are operations of their own here ("teardown", "worktree",
"container"), and the tests combine them with each command that passes through them.
"""

from __future__ import annotations

import os
import signal

ENABLE = "TRAILS_TEST_FAULTS"
FAULT = "TRAILS_FAULT"

STEPS: dict[str, tuple[str, ...]] = {
    # Engine.create_session, in order (a mode skips the steps it has no part in).
    "create": ("claimed", "noted", "prepared", "set_up", "launched", "started", "recorded"),
    # A worktree made by a create, a move or a resume: `git worktree add` done, nothing noted of it since.
    "worktree": ("added",),
    # A container session's container, created and started beside its worktree's checkout.
    "container": ("started",),
    "pause": ("stopped", "recorded"),
    # A pause or kill taking a worktree down (isolation retire_worktree): its work snapshotted and the
    # teardown noted, the ref written, the worktree removed.
    "teardown": ("noted", "saved", "removed"),
    "resume": ("noted", "restored", "launched", "recorded"),
    "kill": ("stopped", "released", "recorded"),
    # core/moves.py: before each named step of a move (the step list of its kind), and after the last.
    "move": ("stop_agent", "save_main_work", "make_worktree", "restore_into_worktree", "reset_main_checkout",
             "resetting_main", "prepare_container", "stop_container", "start_agent", "record_move",
             "remove_container", "done"),
    "merge": ("locked", "merged", "recorded", "kept", "cleaned", "branch_deleted"),
    "rebase": ("kept", "rebased"),
    # runs/executor.py: a run's output directory made (before its baseline), then one session of it.
    "run": ("prepared", "started", "reset", "agent_done", "snapshotted", "result_written"),
}


class UndeclaredFault(AssertionError):
    """A fault point (or TRAILS_FAULT) names a step that STEPS does not declare: a test bug."""


def armed() -> bool:
    return os.environ.get(ENABLE) == "1"


def point(operation: str, step: str) -> None:
    """Die here (SIGKILL of this process) when the test setting asks for this step."""
    if os.environ.get(ENABLE) != "1":
        return
    if step not in STEPS.get(operation, ()):
        raise UndeclaredFault(f"fault point {operation}:{step} is not declared in trails.core.faults.STEPS")
    wanted = os.environ.get(FAULT, "")
    if not wanted:
        return
    op, _, name = wanted.partition(":")
    if name not in STEPS.get(op, ()):
        raise UndeclaredFault(f"{FAULT}={wanted!r} names no declared fault point")
    if (op, name) == (operation, step):
        os.kill(os.getpid(), signal.SIGKILL)
