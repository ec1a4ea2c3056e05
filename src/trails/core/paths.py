"""Where trails keeps its state: TRAILS_HOME and the private tmux socket.

Everything under TRAILS_HOME is the owner's alone (directories 0700, files 0600): the database holds
prompts, `--env` values and agent output.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from trails.core.errors import StateError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_dir(path: Path, *, parents: bool = False) -> Path:
    """`path` as a directory only its owner can enter (made so; an existing one of ours tightened)."""
    try:
        path.mkdir(mode=PRIVATE_DIR, parents=parents)
    except FileExistsError:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode) and st.st_mode & 0o077 and st.st_uid == os.getuid():
            _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> None:
    """Create `path` (empty) owner-only unless it exists; an existing one of ours is tightened."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        st = path.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    # Best effort: a read-only home still works for reading (what it holds is only as open as before).
    with contextlib.suppress(OSError):
        path.chmod(mode)


def write_private(path: Path, text: str) -> None:
    """Write `path` owner-only (a file that existed with wider modes is tightened first)."""
    private_file(path)
    path.write_text(text)


# The home an Engine was built for (Engine(home=...)): set once at its construction, so that nothing
# in the process learns TRAILS_HOME another way (the environment is not written to carry it).
_pinned: Path | None = None


def use_home(home: Path | None) -> Path:
    """Resolve this process's TRAILS_HOME once, as an Engine is built: `home` when given (kept for
    every later lookup), else $TRAILS_HOME, else ~/.trails. Returns it, created owner-only."""
    global _pinned
    _pinned = _absolute(str(home)) if home is not None else None
    return trails_home()


def home_path() -> Path:
    """TRAILS_HOME (not created): the one place trails resolves it (trails.fast.trails_home agrees)."""
    if _pinned is not None:
        return _pinned
    return _absolute(os.environ.get("TRAILS_HOME") or "~/.trails")


def _absolute(home: str) -> Path:
    # Absolute, as the launcher's builtins-only copy makes it: the server it starts runs in "/" and is
    # handed this path, so a relative one would name another directory there.
    return Path(os.path.abspath(os.path.expanduser(home)))


def trails_home() -> Path:
    path = home_path()
    try:
        try:
            return private_dir(path)
        except FileNotFoundError:  # its parent is missing too: made as mkdir -p would
            path.parent.mkdir(parents=True, exist_ok=True)
            return private_dir(path)
    except OSError as exc:
        raise unusable(exc, "create") from None


def unusable(exc: OSError, doing: str = "write") -> StateError:
    """An OSError on one of trails' own files as users see it: which file, what happened, what to do."""
    where = exc.filename if exc.filename is not None else home_path()
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space(Path(where), doing)
    return StateError(
        f"cannot {doing} {where}: {exc.strerror or exc}",
        hint=f"trails keeps its state in {home_path()}: make it writable, or set TRAILS_HOME to a directory that is",
    )


# Less free space than this where trails keeps its state is a full disk: SQLite needs room for its
# shared-memory file (32 KiB) and a few pages of journal before it can even read.
LOW_SPACE = 1 << 20


def out_of_space(where: Path, low: int = LOW_SPACE) -> bool:
    """Whether the file system holding `where` has (next to) no room (less than `low` bytes) or no inodes left."""
    try:
        st = os.statvfs(where)
    except OSError:
        return False
    root = os.geteuid() == 0  # root may use the blocks reserved for it
    blocks, inodes = (st.f_bfree, st.f_ffree) if root else (st.f_bavail, st.f_favail)
    return blocks * st.f_frsize < low or (st.f_files > 0 and inodes == 0)


def no_space(file: Path, doing: str) -> StateError:
    """A full file system under one of trails' files: which one, and that trails changed nothing there."""
    return StateError(
        f"cannot {doing} {file}: the file system holding it is full (no space left on device)",
        hint=f"trails has changed nothing: free some space on the file system holding {file.parent} and run "
             "the command again, or set TRAILS_HOME to a directory on another file system",
    )


def tmux_socket() -> Path:
    """trails' own tmux server: never the user's default one."""
    sock = os.environ.get("TRAILS_TMUX_SOCKET")
    if sock:
        return Path(sock).expanduser()
    return trails_home() / "tmux.sock"


def state_db() -> Path:
    return trails_home() / "state.db"


def home_subdir(name: str) -> Path:
    """A private directory directly under TRAILS_HOME."""
    return private_dir(trails_home() / name)


def locks_dir() -> Path:
    try:
        return home_subdir("locks")
    except OSError as exc:
        raise unusable(exc, "create") from None


def container_home(session_name: str) -> Path:
    """A container session's home directory on the host (mounted at the agent's home inside)."""
    return home_subdir("container-homes") / session_name


def container_gitdir(session_name: str) -> Path:
    """The git directory a container session's worktree uses while its agent runs in the container:
    HEAD, index, logs and the agent's object store, the only part of git the container can write."""
    return home_subdir("container-git").resolve() / session_name
