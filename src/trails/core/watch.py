"""Whether live sessions are watched, and telling the watcher to look now.

The supervisor's watch runs inside this home's trails server (trails.server). An engine in that
process reaches it through the watcher the server registers here; an engine anywhere else (the
in-process mode, TRAILS_SERVER=off, or a test's own Engine) asks the server over its socket. The
core names no monitor or server module: they plug in here.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Protocol


class Watcher(Protocol):
    def watching(self) -> bool: ...

    def nudge(self) -> None: ...


_local: dict[Path, Watcher] = {}


def register(home: Path, watcher: Watcher) -> None:
    _local[home.resolve()] = watcher


def unregister(home: Path) -> None:
    _local.pop(home.resolve(), None)


def watching(home: Path) -> bool:
    """True when the supervisor watches this home's sessions (a new one starts `loading`)."""
    local = _local.get(home.resolve())
    if local is not None:
        return local.watching()
    from trails.api import protocol

    return protocol.lock_held(home / protocol.MONITOR_LOCK_NAME)


def nudge(home: Path) -> None:
    """Have the server look at the state database now (it would within a second anyway). Best effort."""
    local = _local.get(home.resolve())
    if local is not None:
        local.nudge()
        return
    from trails.api import protocol

    if not protocol.lock_held(home / protocol.LOCK_NAME):
        return
    from trails.api.caller import Caller
    from trails.api.types import Nudge
    from trails.core import ownsock
    from trails.core.errors import TrailsError

    with contextlib.suppress(OSError, ValueError, TrailsError), \
            ownsock.connect(protocol.socket_path(home), 1.0) as sock:
        sock.sendall(protocol.request_frame(0, Nudge(), Caller()))
