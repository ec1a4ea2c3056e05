"""Cross-process locks (flock on files under $TRAILS_HOME/locks)."""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from trails.core import paths


@contextmanager
def file_lock(key: str, *, wait: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock named by `key` (any string, e.g. a repo path) across processes.

    Yields True once held. With `wait=False` it yields False at once when someone else holds it
    (another process, or another holder in this one: flock locks belong to the open file).
    """
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    try:
        fd = os.open(paths.locks_dir() / f"{digest}.lock", os.O_WRONLY | os.O_CREAT, paths.PRIVATE_FILE)
    except OSError as exc:
        raise paths.unusable(exc, "open the lock") from None
    with open(fd, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def held_elsewhere(handle: IO[str]) -> bool:
    """Whether another open file holds an exclusive flock on `handle`'s file (probed with a shared one)."""
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def hold_process_lock(path: Path) -> IO[str] | None:
    """Take `path`'s exclusive lock for as long as the returned file stays open (a server's "I am the
    one"), with this process's pid written in it; None when another holder has it. OSError (the file
    cannot be made or opened) is the caller's to report."""
    paths.private_file(path)
    handle = open(path, "a+")  # noqa: SIM115 - held for as long as the caller holds the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
