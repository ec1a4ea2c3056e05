"""Where trails keeps its state: TRAILS_HOME and the private tmux socket."""

from __future__ import annotations

import os
from pathlib import Path

from trails.core.errors import StateError


def _home_path() -> Path:
    home = os.environ.get("TRAILS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".trails"


def trails_home() -> Path:
    path = _home_path()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(exc, "create") from None
    return path


def unusable(exc: OSError, doing: str = "write") -> StateError:
    """An OSError on one of trails' own files as users see it: which file, what happened, what to do."""
    where = exc.filename if exc.filename is not None else _home_path()
    return StateError(
        f"cannot {doing} {where}: {exc.strerror or exc}",
        hint=f"trails keeps its state in {_home_path()}: make it writable, or set TRAILS_HOME to a directory that is",
    )


def tmux_socket() -> Path:
    """trails' own tmux server: never the user's default one."""
    sock = os.environ.get("TRAILS_TMUX_SOCKET")
    if sock:
        return Path(sock).expanduser()
    return trails_home() / "tmux.sock"


def state_db() -> Path:
    return trails_home() / "state.db"


def locks_dir() -> Path:
    path = trails_home() / "locks"
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise unusable(exc, "create") from None
    return path


def container_home(session_name: str) -> Path:
    """A container session's home directory on the host (mounted at the agent's home inside)."""
    return trails_home() / "container-homes" / session_name
