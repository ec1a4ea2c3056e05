"""Where trails keeps its state: TRAILS_HOME and the private tmux socket."""

from __future__ import annotations

import os
from pathlib import Path


def trails_home() -> Path:
    home = os.environ.get("TRAILS_HOME")
    path = Path(home).expanduser() if home else Path.home() / ".trails"
    path.mkdir(parents=True, exist_ok=True)
    return path


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
    path.mkdir(exist_ok=True)
    return path


def container_home(session_name: str) -> Path:
    """A container session's home directory on the host (mounted at the agent's home inside)."""
    return trails_home() / "container-homes" / session_name


def container_gitdir(session_name: str) -> Path:
    """The git directory a container session's worktree uses while its agent runs in the container:
    HEAD, index, logs and the agent's object store, the only part of git the container can write."""
    return trails_home().resolve() / "container-git" / session_name
