"""Sessions as Ray tasks on an existing Ray cluster (`trails run FILE --ray ADDRESS`).

A task gets the session's start state as git bundles (the baseline once per worker through the
object store, then the start tag relative to it), checks it out into a work directory the worker
keeps for the run (a later session there resets it in place, as a local slot), runs the session there (the same
`run_job` as a local run), snapshots the result on top of the start commit and sends it back as a
bundle with the session directory's files. The driver fetches the bundle into the run's shadow
repository under the session's tag and writes the files, so the run directory is the one a local
run makes. Ray retries a task whose node or worker dies (`max_retries`); a session that fails on
its own is a result, not retried.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import RunError
from trails.infra.proc import pid_alive
from trails.runs.session import ProcessGroup, SessionJob, run_job, shippable_env
from trails.runs.shadow import ShadowRepo

if TYPE_CHECKING:
    from trails.runs.executor import RunExecutor, Unit
    from trails.runs.spec import Resources

BASELINE = "baseline"
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def ray_options(resources: Resources | None, max_retries: int) -> dict[str, Any]:
    """`.options(...)` for one session's task; 1 CPU unless the run file says otherwise."""
    opts: dict[str, Any] = {"max_retries": max_retries, "retry_exceptions": False, "num_cpus": 1}
    if resources is None:
        return opts
    if resources.num_cpus is not None:
        opts["num_cpus"] = resources.num_cpus
    if resources.num_gpus is not None:
        opts["num_gpus"] = resources.num_gpus
    if resources.memory is not None:
        opts["memory"] = parse_memory(resources.memory)
    if resources.custom:
        opts["resources"] = dict(resources.custom)
    return opts


def parse_memory(value: int | str) -> int:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", value.upper())
    if not match:
        raise RunError(f"resources.memory {value!r} is not a size (e.g. 2G, 512M or a number of bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


class RayBackend:
    """Runs each unit as a Ray task; `slots` bounds how many the driver keeps in flight."""

    def __init__(self, executor: RunExecutor, address: str, *, parallel: int = 1) -> None:
        try:
            import ray
        except ImportError:
            raise RunError("--ray needs Ray: pip install 'trails[ray]'") from None
        self.ex = executor
        self._owns = not ray.is_initialized()
        if self._owns:
            try:
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RunError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
        total = sum(s.count for s in executor.plan.sessions)
        # Ray places tasks by their resources; the driver only needs a thread per task in flight.
        self.slots = max(parallel, total)
        self._remote = ray.remote(_run_task)
        self._baseline_lock = threading.Lock()
        self._baseline_ref: Any = None
        # Names this run's directories on the workers: the out dir and its baseline commit.
        self._run_key = f"{executor.out}@{executor.shadow.commit_of(BASELINE)}"

    def _baseline(self) -> Any:
        import ray

        with self._baseline_lock:
            if self._baseline_ref is None:
                self._baseline_ref = ray.put(self.ex.shadow.git_bytes("bundle", "create", "-",
                                                                      f"refs/tags/{BASELINE}"))
            return self._baseline_ref

    def run(self, unit: Unit, job: SessionJob, slot: int, sdir: Path) -> tuple[dict[str, Any], str]:
        import ray

        ex = self.ex
        job.env = shippable_env({**_os_environ(), **job.env})
        start = unit.start_tag
        # The baseline goes to the object store once; a session ships only what its start adds to it.
        bundle = None if start == BASELINE else ex.shadow.git_bytes(
            "bundle", "create", "-", f"refs/tags/{start}", f"^refs/tags/{BASELINE}")
        start_commit = ex.shadow.commit_of(start) or ""
        opts = ray_options(unit.session.resources, ex.plan.meta.ray_max_retries)
        ref = self._remote.options(**opts).remote(job, unit.label, start, start_commit, bundle, [self._baseline()],
                                                  self._run_key, ex.plan.work_dir.name)
        try:
            fields, files, new_bundle, where = ray.get(ref)
        except (KeyboardInterrupt, SystemExit):
            ray.cancel(ref, force=True)
            raise
        except ray.exceptions.RayError as exc:
            return {"status": "failed", "error": f"the Ray task failed: {exc}"}, "ray"
        for rel, data in files.items():
            target = sdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        ex.shadow.fetch_bundle(new_bundle, unit.label)
        return fields, where

    def close(self) -> None:
        import ray

        if self._baseline_ref is not None:
            self._sweep_nodes()
        if self._owns:
            ray.shutdown()

    def _sweep_nodes(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        sweep = ray.remote(_sweep)
        nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
        refs = [sweep.options(num_cpus=0, max_retries=0,
                              scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
                .remote(_run_tag(self._run_key)) for n in nodes if n.get("Alive")]
        ray.wait(refs, num_returns=len(refs), timeout=30)


def _os_environ() -> dict[str, str]:
    return dict(os.environ)


class _NodeDirs:
    """This worker process's shadow repositories and work directories, one per (run, work dir name).

    A later session of the run on this worker fetches only the objects it lacks and resets the
    directory in place (the reset a local slot gets), instead of checking every file out anew.
    A directory is lent to one task at a time; a second task in the process meanwhile gets a fresh
    one. They live under one temporary root per worker process (named by its pid), removed at
    exit; Ray ends idle workers (and their children) without running atexit, so the driver also
    sweeps each node at the end of the run (`_sweep`).
    """

    KEEP = 4  # runs whose directories a worker keeps; older ones are removed

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str], tuple[Path, str]] = {}  # → (dir, tag its files equal); oldest first
        self._root: Path | None = None
        self._made = 0

    def _new_dir(self, run_tag: str) -> Path:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
            atexit.register(self.clear)
        self._made += 1
        path = self._root / f"{run_tag}-{self._made}"
        path.mkdir(parents=True)  # the root too, should a sweep have removed it while it was empty
        return path

    def take(self, key: tuple[str, str]) -> tuple[Path, str | None]:
        """A directory for the key, and the tag a previous session left its files at (None: a new one)."""
        with self._lock:
            idle = self._idle.pop(key, None)
            if idle is not None and idle[0].is_dir():
                return idle
            return self._new_dir(_run_tag(key[0])), None

    def give_back(self, key: tuple[str, str], root: Path, at: str) -> None:
        with self._lock:
            if key in self._idle:  # a concurrent task's directory: keep one per key
                shutil.rmtree(root, ignore_errors=True)
                return
            self._idle[key] = (root, at)
            while len(self._idle) > self.KEEP:
                shutil.rmtree(self._idle.pop(next(iter(self._idle)))[0], ignore_errors=True)

    def discard(self, root: Path) -> None:
        with self._lock:
            shutil.rmtree(root, ignore_errors=True)

    def clear(self) -> None:
        with self._lock:
            self._idle.clear()
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)


_DIRS = _NodeDirs()
_PREFIX = "trails-ray-"


def _run_tag(run_key: str) -> str:
    return hashlib.sha256(run_key.encode()).hexdigest()[:16]


def _sweep(run_tag: str) -> None:
    """On a node after the run: remove its directories, and whole roots of worker processes gone."""
    for root in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        pid = root.name[len(_PREFIX):].split("-")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(root, ignore_errors=True)
            continue
        for entry in root.glob(f"{run_tag}-*"):
            shutil.rmtree(entry, ignore_errors=True)
        with contextlib.suppress(OSError):
            root.rmdir()  # only when empty: a worker still holding another run's directories keeps it


def _run_task(job: SessionJob, label: str, start_tag: str, start_commit: str, bundle: bytes | None,
              baseline: list[Any], run_key: str,
              dir_name: str) -> tuple[dict[str, Any], dict[str, bytes], bytes, str]:
    """On the node: bring the start state in, run the session, pack the new state and the session files.

    `baseline` holds (inside a list, so Ray does not fetch it unasked) the object-store ref of the
    baseline's full bundle, fetched once per directory; `bundle` is the start tag relative to the
    baseline (None when the start is the baseline).
    """
    import ray

    node = ray.get_runtime_context().get_node_id()
    job.env["TRAILS_RAY_NODE"] = node
    key = (run_key, dir_name)
    root, at = _DIRS.take(key)
    try:
        git_dir = root / "shadow.git"
        repo = ShadowRepo(git_dir) if at is not None else ShadowRepo.create(git_dir)
        have = repo.commit_of(start_tag) == start_commit
        if not have:
            if repo.commit_of(BASELINE) is None:
                repo.fetch_bundle(ray.get(baseline[0]), BASELINE)
            if bundle is not None:
                repo.fetch_bundle(bundle, start_tag)
        cwd = root / dir_name
        tree = repo.tree(cwd, root / "index")
        if not (have and at == start_tag):  # as a local slot, a session straight after its start skips the reset
            tree.reset(start_tag)  # in place: only files that differ from the start are written
        sdir = root / "session"
        shutil.rmtree(sdir, ignore_errors=True)
        sdir.mkdir()
        fields = run_job(job, cwd, sdir, ProcessGroup())
        first_line = (job.prompt.strip().splitlines() or [""])[0][:72]
        tree.snapshot(label, start_tag, f"{label}: {first_line}")
        new_bundle = repo.git_bytes("bundle", "create", "-", f"refs/tags/{label}", f"^refs/tags/{start_tag}")
        files = {str(p.relative_to(sdir)): p.read_bytes() for p in sdir.rglob("*") if p.is_file()}
        result = fields, files, new_bundle, f"ray:{node}:{cwd}"
    except BaseException:
        _DIRS.discard(root)  # in an unknown state: the next task starts afresh
        raise
    _DIRS.give_back(key, root, label)
    return result
