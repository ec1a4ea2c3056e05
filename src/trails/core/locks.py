"""Cross-process locks (flock on files under $TRAILS_HOME/locks)."""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from trails.core import paths


@contextmanager
def file_lock(key: str) -> Iterator[None]:
    """Hold an exclusive lock named by `key` (any string, e.g. a repo path) across processes."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    with open(paths.locks_dir() / f"{digest}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
