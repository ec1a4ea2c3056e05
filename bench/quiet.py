"""Wait until the machine is quiet before a measured step.

A step that follows a teardown (a container removed, a worktree checked out) would otherwise pay for
work the engine or the kernel is still finishing from the step before, and which of the compared
sides pays depends only on the order of the steps.
"""

from __future__ import annotations

import time


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return sum(fields), fields[3]  # all, idle


def settle(idle_share: float = 0.85, window: float = 0.1, timeout: float = 5.0) -> bool:
    """Return once a `window` of time has been at least `idle_share` idle, or False after `timeout`."""
    deadline = time.monotonic() + timeout
    total, idle = _cpu_times()
    while time.monotonic() < deadline:
        time.sleep(window)
        total2, idle2 = _cpu_times()
        if total2 > total and (idle2 - idle) / (total2 - total) >= idle_share:
            return True
        total, idle = total2, idle2
    return False
