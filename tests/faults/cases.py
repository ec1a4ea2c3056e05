"""Every (command, fault point) pair the matrix runs. A point is run in each mode where what it
leaves differs; container points only where the container changes what is left (image builds are
shared: every container case uses trails' default image, built once per machine)."""

from __future__ import annotations

CREATE: dict[str, list[str]] = {
    "direct": ["create:claimed", "create:prepared", "create:set_up", "create:launched", "create:started",
               "create:recorded"],
    "worktree": ["create:claimed", "create:noted", "worktree:added", "create:prepared", "create:set_up",
                 "create:launched", "create:started", "create:recorded"],
    # The container starts on a thread beside `git worktree add`; the rest is the worktree's.
    "container": ["worktree:added", "container:started", "create:launched", "create:started", "create:recorded"],
}
PAUSE: dict[str, list[str]] = {
    "worktree": ["pause:stopped", "teardown:noted", "teardown:saved", "teardown:removed", "pause:recorded"],
    "direct": ["pause:stopped", "pause:recorded"],
    "container": ["teardown:noted"],  # its worktree's git directory is the container's
}
RESUME: dict[str, list[str]] = {
    "worktree": ["resume:noted", "worktree:added", "resume:restored", "resume:launched", "resume:recorded"],
    "container": ["worktree:added", "resume:launched"],  # a new git directory, a new container
}
KILL: dict[str, list[str]] = {
    "worktree": ["kill:stopped", "teardown:noted", "teardown:saved", "teardown:removed", "kill:released",
                 "kill:recorded"],
    "direct": ["kill:released"],
    "container": ["teardown:removed", "kill:released"],  # the worktree gone, the container not yet
}
_D_W = ["stop_agent", "save_main_work", "make_worktree", "restore_into_worktree", "reset_main_checkout",
        "start_agent", "record_move"]
MOVES: dict[tuple[str, str], list[str]] = {
    ("direct", "worktree"): [*(f"move:{s}" for s in _D_W), "worktree:added", "move:resetting_main", "move:done"],
    # Its first five steps are direct → worktree's.
    ("direct", "container"): ["move:prepare_container", "move:start_agent", "move:record_move"],
    ("worktree", "container"): ["move:stop_agent", "move:prepare_container", "move:start_agent", "move:record_move"],
    ("container", "worktree"): ["move:stop_agent", "move:stop_container", "move:start_agent", "move:record_move",
                                "move:remove_container"],
}
MERGE: dict[str, list[str]] = {
    "no-ff": ["merge:locked", "merge:merged", "merge:recorded", "merge:kept", "kill:stopped", "merge:cleaned",
              "merge:branch_deleted"],
    "rebase": ["rebase:kept", "rebase:rebased"],
}
RUN: list[str] = ["run:prepared", "run:started", "run:reset", "run:agent_done", "run:snapshotted",
                  "run:result_written"]


def every_fault() -> set[str]:
    out: set[str] = set(RUN)
    for table in (CREATE, PAUSE, RESUME, KILL, MERGE):
        for faults in table.values():
            out |= set(faults)
    for faults in MOVES.values():
        out |= set(faults)
    return out


def pairs(table: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(kind, fault) for kind, faults in table.items() for fault in faults]
