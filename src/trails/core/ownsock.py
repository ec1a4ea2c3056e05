"""Unix sockets with the owner on both ends: trails' servers accept only their own user, and trails'
clients talk only to a server of their own user in a directory nobody else can change.

A client checks before it sends anything (a command, its environment, file descriptors): a socket
directory another user owns or may write (say a `/tmp/trails-<uid>` made by someone else first) is
refused, and so is a listener whose process belongs to another user.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from trails.core.errors import UnsafeSocket


def owned_dir(path: Path) -> Path:
    """`path` as a socket directory: made 0700, or an existing one checked to be ours and closed to others."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    check_dir(path)
    return path


def check_dir(path: Path) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise UnsafeSocket(
            f"{path} is not a private directory of this user (owner uid {st.st_uid}, mode {stat.filemode(st.st_mode)})",
            hint=f"remove it, or set TRAILS_HOME to a shorter path of your own; trails will not use {path}",
        )


def peer_uid(sock: socket.socket) -> int:
    """The user of the process on the other end of a connected Unix socket (Linux SO_PEERCRED)."""
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return int(uid)


def connect(path: Path, timeout: float | None) -> socket.socket:
    """A connection to a server of this user at `path`; PermissionError (an OSError) for anyone else's."""
    check_dir(path.parent)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(str(path))
        uid = peer_uid(sock)
        if uid != os.getuid():
            raise PermissionError(f"{path} is served by uid {uid}, not this user: refused")
    except BaseException:
        sock.close()
        raise
    return sock


def serve_own(listener: socket.socket, stopping: threading.Event, handle: Callable[[socket.socket], None], *,
              timeout: float, name: str) -> None:
    """Hand each connection from this user to `handle`, in a thread of its own, the connection timing
    out after `timeout` (a client that sends nothing is let go); another user's is closed at once.
    Returns when `stopping` is set or the listener is closed."""
    while not stopping.is_set():
        try:
            sock, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            if listener.fileno() == -1:
                return
            continue
        if peer_uid(sock) != os.getuid():
            sock.close()
            continue
        sock.settimeout(timeout)
        threading.Thread(target=handle, args=(sock,), name=name, daemon=True).start()
