"""A Ray node's cache of git objects and work directories, kept across sessions and runs.

A node keeps what the next session will need: every object its sessions fetched or made, in one
repository, and the work directories themselves with their git index (the stat data of every
file). So a later session, of this run or of a later run over the same work directory, brings in
only the objects the node lacks and resets a directory in place: git writes only the files that
differ from the start state and hashes only those whose stat data changed, instead of checking
every file out anew.

    <root>/store.git      bare repository: refs/runs/<run>/<tag> per run, refs/dirs/<n> for what each directory holds
    <root>/store.lock     flock: shared while a task uses the store, exclusive to prune it
    <root>/runs/<run>     a marker per run, touched on each use (the oldest runs' refs are pruned)
    <root>/dirs/<n>/      lock (flock, held by the task using it), state.json, index, agents/, <work dir name>/

<root> is $TRAILS_RAY_CACHE, or `trails-ray-<uid>` in the temporary directory, owner-only. A
directory is lent to one task at a time. A task that dies leaves the directory's lock free and its
state marked busy: the next task to take it stops the agent that task left running (noted in
agents/) and resets every file, ignored ones too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.core.errors import RunError
from trails.core.userfiles import read_json_object
from trails.runs.session import reap
from trails.runs.shadow import ShadowRepo

KEEP_RUNS = 8  # runs whose tags a node keeps (a directory's own state is kept while the directory is)
MAX_DIRS = 8  # directories a node keeps; the least recently used idle ones go first
GC_LOOSE, GC_PACKS = 20000, 50  # loose objects or packs past which upkeep repacks the store


@dataclass
class Slot:
    """A work directory lent to one task (its lock held), and what it held when lent."""

    root: Path
    dir_name: str
    lock: Any  # the open lock file
    state: dict[str, Any] | None  # None: a new directory (or one in an unknown state)
    touched: bool = False
    _returned: bool = field(default=False, repr=False)

    @property
    def files(self) -> Path:
        return self.root / self.dir_name

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def agents(self) -> Path:
        return self.root / "agents"

    def holds(self, tree: str) -> bool:
        """Whether the tracked files are known to equal this tree (left there by a session that ended)."""
        return bool(self.state and self.state.get("tree") == tree)

    def same_run(self, run: str) -> bool:
        return bool(self.state and self.state.get("run") == run)

    def touch(self) -> None:
        """Before changing any file: from here until `give_back`, the directory's state is unknown."""
        if not self.touched:
            _write_state(self.root, {"dir_name": self.dir_name, "run": None, "tree": None, "used": time.time()})
            self.touched = True


class NodeCache:
    """This node's cache (see the module docstring); `open` makes or checks its root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = ShadowRepo(root / "store.git")

    @classmethod
    def open(cls) -> NodeCache:
        configured = os.environ.get("TRAILS_RAY_CACHE")
        root = Path(configured) if configured else Path(tempfile.gettempdir()) / f"trails-ray-{os.getuid()}"
        _private_dir(root)
        cache = cls(root)
        if not (root / "store.git" / "HEAD").exists():
            with open(root / "init.lock", "a+") as lock:  # the first tasks on a node may arrive together
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not (root / "store.git" / "HEAD").exists():
                    ShadowRepo.create(root / "store.git.new")
                    os.rename(root / "store.git.new", root / "store.git")
        for sub in ("dirs", "runs"):
            (root / sub).mkdir(mode=0o700, exist_ok=True)
        return cache

    def repo(self, run: str) -> ShadowRepo:
        """The store, seen as one run's shadow repository (its tags under refs/runs/<run>/)."""
        return ShadowRepo(self.store.git_dir, prefix=f"refs/runs/{run}/")

    @contextlib.contextmanager
    def using(self, run: str) -> Iterator[None]:
        """Hold the store for one task of `run` (shared; pruning waits for no one and skips a busy store)."""
        with open(self.root / "store.lock", "a+") as lock:
            marker = self.root / "runs" / run
            fresh = not marker.exists()
            marker.touch()
            if fresh and _try_lock(lock, fcntl.LOCK_EX):
                self._upkeep()  # a new run on an idle store: the moment to drop the oldest runs' tags
            fcntl.flock(lock, fcntl.LOCK_SH)  # from exclusive (when held) to shared, or wait for a pruner
            yield

    def lend(self, dir_name: str, run: str, tree: str) -> Slot:
        """A directory for a session starting at `tree`: one that holds it already (of this run first), else one
        of this run, else one of this work dir's name (the most recently used first), else a new one.

        Every idle directory looked at is cleared of agents a dead task left running.
        """
        best: tuple[int, float] | None = None
        chosen: Slot | None = None
        for root in sorted((self.root / "dirs").iterdir()):
            lock = _open_lock(root)
            if lock is None:
                continue
            if not _try_lock(lock, fcntl.LOCK_EX):
                lock.close()
                continue
            reap(root / "agents")
            state = _read_state(root)
            slot = Slot(root, dir_name, lock, state)
            if state is None or state.get("dir_name") != dir_name:
                lock.close()
                continue
            held, same_run = slot.holds(tree), slot.same_run(run)
            rank = (4 if held and same_run else 3 if held else 2 if same_run else 1 if state.get("tree") else 0,
                    float(state.get("used") or 0))
            if best is None or rank > best:
                if chosen is not None:
                    chosen.lock.close()
                best, chosen = rank, slot
            else:
                lock.close()
        if chosen is not None:
            if chosen.state is not None and not chosen.state.get("tree"):
                chosen.state = None  # left busy by a task that died: unknown files
            return chosen
        # Made outside dirs/ and moved in locked, so no other task's scan can take it meanwhile.
        made = Path(tempfile.mkdtemp(prefix="d", dir=self.root))
        lock = _open_lock(made)
        fcntl.flock(lock, fcntl.LOCK_EX)
        _write_state(made, {"dir_name": dir_name, "run": None, "tree": None, "used": time.time()})
        root = self.root / "dirs" / made.name
        os.rename(made, root)
        return Slot(root, dir_name, lock, None)

    def give_back(self, slot: Slot, run: str, tree: str, commit: str) -> None:
        """The session is done: its files equal `commit` (of `run`); keep them for the next session."""
        self.store.git("update-ref", f"refs/dirs/{slot.root.name}", commit)
        _write_state(slot.root, {"dir_name": slot.dir_name, "run": run, "tree": tree, "used": time.time()})
        slot._returned = True
        slot.lock.close()
        self._evict()

    def release(self, slot: Slot) -> None:
        """The task ends without `give_back`: a directory it changed stays marked busy (unknown files)."""
        if not slot._returned:
            slot.lock.close()

    def have(self, slot: Slot) -> bytes:
        """The ids of the objects in the tree the directory last held (20 bytes each): what the driver
        need not send for a start state close to it."""
        tree = (slot.state or {}).get("tree")
        if not tree or not self.store.present([tree]):
            return b""
        lines = self.store.git("ls-tree", "-r", "-t", "-z", tree).stdout.split("\0")
        return bytes.fromhex("".join([tree, *(line.split()[2] for line in lines if line)]))

    # --- upkeep -------------------------------------------------------------------------------

    def _evict(self) -> None:
        dirs = sorted((self.root / "dirs").iterdir(), key=lambda d: float((_read_state(d) or {}).get("used") or 0))
        for root in dirs[: max(0, len(dirs) - MAX_DIRS)]:
            lock = _open_lock(root)
            if lock is None:
                continue
            with lock:
                if _try_lock(lock, fcntl.LOCK_EX):
                    reap(root / "agents")
                    self.store.git("update-ref", "-d", f"refs/dirs/{root.name}", check=False)
                    # Out of dirs/ first (atomically, lock held): no other task can take it half removed.
                    trash = self.root / f"trash-{root.name}-{os.getpid()}"
                    os.rename(root, trash)
                    shutil.rmtree(trash, ignore_errors=True)

    def _upkeep(self) -> None:
        """With the store held exclusively: drop the tags of all but the latest runs, and repack a store
        that has grown many packs (one per bundle taken in) or loose objects (snapshots write them)."""
        runs = sorted((self.root / "runs").iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        if old := runs[KEEP_RUNS:]:
            refs = self.store.git("for-each-ref", "--format=%(refname)", *(f"refs/runs/{p.name}/" for p in old))
            self.store.git("update-ref", "--stdin", input="".join(f"delete {r}\n" for r in refs.stdout.split()))
            for marker in old:
                marker.unlink(missing_ok=True)
        counts = dict(line.split(": ", 1) for line in self.store.git("count-objects", "-v").stdout.splitlines())
        if int(counts.get("count", 0)) > GC_LOOSE or int(counts.get("packs", 0)) > GC_PACKS:
            self.store.git("gc", "--quiet", "--prune=now", timeout=1800)


def _private_dir(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=False)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise RunError(f"the Ray node cache {path} is not a private directory of this user "
                       f"(owner uid {st.st_uid}, mode {stat.filemode(st.st_mode)})",
                       hint="remove it, or set TRAILS_RAY_CACHE on the node to a directory of your own")


def _open_lock(root: Path) -> Any:
    try:
        return open(root / "lock", "a+")  # held for as long as the slot is lent
    except (FileNotFoundError, NotADirectoryError):
        return None  # removed meanwhile by another task's eviction


def _try_lock(handle: Any, kind: int) -> bool:
    try:
        fcntl.flock(handle, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_state(root: Path) -> dict[str, Any] | None:
    return read_json_object(root / "state.json")


def _write_state(root: Path, state: dict[str, Any]) -> None:
    tmp = root / "state.json.tmp"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, root / "state.json")
