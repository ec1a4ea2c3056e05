"""The store's memory stays bounded as its events pile up: each thread keeps its own SQLite connection,
and a long-running server's threads read the events table all day (the soak's RSS grew by their caches)."""

from __future__ import annotations

import _sqlite3
import ctypes
import threading
from pathlib import Path

from trails.core import events as ev
from trails.core.store import CACHE_KIB, Store

EVENTS = 12_000
READERS = 6
DEFAULT_CACHE = 2000 * 1024  # SQLite's own cache_size (-2000: KiB)


def sqlite_memory_used() -> int:
    """What SQLite has allocated in this process now (its page caches among it), in bytes."""
    used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    used.restype = ctypes.c_int64
    return int(used())


def test_each_connection_caches_at_most_its_share(tmp_path: Path) -> None:
    store = Store(tmp_path / "trails.db")
    reason = "screen unchanged for a while " * 8  # a status event about as long as the supervisor's
    for i in range(EVENTS):
        store.append_event(ev.StatusChanged(status="ready" if i % 2 else "running", reason=reason),
                           session=f"s{i % 50}")
    before = sqlite_memory_used()
    done = threading.Barrier(READERS + 1)
    seen: list[int] = []

    def reader() -> None:  # a long-lived thread (a subscriber's, the supervisor's) reading every event
        seen.append(len(store.events(since=0)))
        done.wait(timeout=60)  # alive, its connection open, while the memory is measured

    threads = [threading.Thread(target=reader) for _ in range(READERS)]
    for t in threads:
        t.start()
    while len(seen) < READERS and all(t.is_alive() for t in threads):
        threads[0].join(timeout=0.05)
    grown = sqlite_memory_used() - before
    done.wait(timeout=60)
    for t in threads:
        t.join(timeout=60)
    store.close()
    assert seen == [EVENTS] * READERS
    # The database is larger than SQLite's default cache (2 MB), which each reader would fill; with
    # trails' cache each holds at most that (plus its schema and statements).
    assert (tmp_path / "trails.db").stat().st_size > DEFAULT_CACHE
    assert grown < READERS * (CACHE_KIB * 1024 + 256 * 1024), f"SQLite grew {grown / 1e6:.1f} MB for {READERS} readers"
    assert grown < READERS * DEFAULT_CACHE / 2
