"""Sessions as Ray tasks on an existing Ray cluster (`trails run FILE --ray ADDRESS`).

A task gets the session's start state (its commit, and a bundle of what it adds to the run's
baseline), brings into its node's cache (`trails.runs.node_cache`) only the objects the node lacks,
resets a work directory the node keeps in place to the start state, runs the session there (the
same `run_job` as a local run), snapshots the result on top of the start commit and sends it back
as a bundle with the session directory's files. The driver takes the bundle into the run's shadow
repository under the session's tag and writes the files, so the run directory is the one a local
run makes.

The baseline travels only to a node that lacks it: the task answers `Need` with the objects the
directory it would use holds (a node that ran over this work dir before lacks only what changed
since), the driver packs the rest once for that node and sends the task again. A node that has
the baseline's tree (a run of the same files before) gets just its commit object.

Ray retries a task whose node or worker dies (`max_retries`); a session that fails on its own is a
result, not retried.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import RunError
from trails.runs.session import ProcessGroup, SessionJob, run_job, shippable_env

if TYPE_CHECKING:
    from trails.runs.executor import RunExecutor, Unit
    from trails.runs.shadow import ShadowRepo
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


@dataclass(frozen=True)
class Start:
    """A session's start state, as a task needs it wherever it runs."""

    run: str  # names the run on every node (its out dir and baseline commit)
    tag: str
    commit: str
    tree: str
    bundle: bytes | None  # what the start adds to the baseline (None: the start is the baseline)
    baseline_commit: str
    baseline_raw: bytes  # the baseline commit object itself, for a node that holds its tree already
    baseline_tree: str
    dir_name: str


@dataclass(frozen=True)
class Done:
    fields: dict[str, Any]
    files: dict[str, bytes]
    bundle: bytes  # the session's tag, relative to its start commit
    source: str  # the tag's ref in the bundle
    where: str


@dataclass(frozen=True)
class Need:
    """The node lacks the baseline; `have` holds the ids (20 bytes each) of objects it has that are close."""

    node: str
    have: bytes


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
        self._warm_up()
        self._baseline_lock = threading.Lock()
        self._baseline_info: tuple[str, bytes, str, str] | None = None  # commit, raw commit, tree, run name
        self._supply: dict[str, Any] = {}  # node id -> object ref of the pack of what it lacks
        self._packs: dict[bytes, tuple[Any, int, int]] = {}  # digest of a `have` -> (pack's ref, objects, bytes)
        self._supply_lock = threading.Lock()
        self._baseline_objects: list[str] | None = None

    def _warm_up(self) -> None:
        """Have Ray start the worker processes the first sessions will run in, while the driver is still
        snapshotting the baseline (a run's workers are its own: each run would start them anew)."""
        import ray

        ready = [u for u in self.ex.units() if not u.deps][:8]
        warm = ray.remote(_warm)
        for unit in ready:
            warm.options(**ray_options(unit.session.resources, 0)).remote()

    def _baseline(self) -> tuple[str, bytes, str, str]:
        with self._baseline_lock:
            if self._baseline_info is None:
                shadow = self.ex.shadow
                commit = shadow.commit_of(BASELINE) or ""
                self._baseline_info = (commit, shadow.git_bytes("cat-file", "commit", shadow.ref(BASELINE)),
                                       shadow.tree_of(BASELINE), _run_tag(f"{self.ex.out}@{commit}"))
            return self._baseline_info

    def run(self, unit: Unit, job: SessionJob, slot: int, sdir: Path) -> tuple[dict[str, Any], str]:
        import ray

        ex = self.ex
        job.env = shippable_env({**_os_environ(), **job.env})
        start = unit.start_tag
        commit, raw, tree, run = self._baseline()
        state = Start(run=run, tag=start, commit=ex.shadow.commit_of(start) or "", tree=ex.shadow.tree_of(start),
                      bundle=None if start == BASELINE else ex.shadow.bundle(start, BASELINE),
                      baseline_commit=commit, baseline_raw=raw, baseline_tree=tree, dir_name=ex.plan.work_dir.name)
        opts = ray_options(unit.session.resources, ex.plan.meta.ray_max_retries)
        supplied: set[str] = set()
        while True:
            ref = self._remote.options(**opts).remote(job, unit.label, state, dict(self._supply))
            try:
                answer = ray.get(ref)
            except (KeyboardInterrupt, SystemExit):
                ray.cancel(ref, force=True)
                raise
            except ray.exceptions.RayError as exc:
                return {"status": "failed", "error": f"the Ray task failed: {exc}"}, "ray"
            if isinstance(answer, Done):
                break
            if answer.node in supplied:
                return {"status": "failed", "error": f"Ray node {answer.node} still lacks the run's baseline "
                        "after it was sent"}, "ray"
            supplied.add(answer.node)
            self._send_baseline(answer)
        for rel, data in answer.files.items():
            target = sdir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        ex.shadow.fetch_bundle(answer.bundle, unit.label, source=answer.source)
        return answer.fields, answer.where

    def _send_baseline(self, need: Need) -> None:
        """Pack the baseline's objects the node lacks (once per distinct `have`) and offer it to that node."""
        import ray

        digest = hashlib.sha256(need.have).digest()
        with self._supply_lock:
            objects = self._objects()
            if digest not in self._packs:
                width = len(self._baseline()[0]) // 2  # bytes of an object id (SHA-1 or SHA-256)
                have = {need.have[i:i + width].hex() for i in range(0, len(need.have), width)}
                missing = "".join(f"{o}\n" for o in objects if o not in have)
                pack = self.ex.shadow.git_bytes("pack-objects", "--stdout", "-q", stdin=missing.encode())
                self._packs[digest] = (ray.put(pack), missing.count("\n"), len(pack))
            ref, count, size = self._packs[digest]
            self._supply[need.node] = ref
            total = len(objects)
        self.ex.note(f"baseline to Ray node {need.node[:12]}: the {count} of its {total} objects "
                     f"the node lacked ({size / 1024:.0f} KiB)")

    def _objects(self) -> list[str]:
        """Every object of the baseline (its commit, trees and blobs), listed once per run."""
        if self._baseline_objects is None:
            listing = self.ex.shadow.git("rev-list", "--objects", self.ex.shadow.ref(BASELINE)).stdout
            self._baseline_objects = [line.split()[0] for line in listing.splitlines() if line.strip()]
        return self._baseline_objects

    def close(self) -> None:
        import ray

        if self._owns:
            ray.shutdown()


def _os_environ() -> dict[str, str]:
    return dict(os.environ)


def _warm() -> None:
    """A task that only makes Ray start a worker (and import what a session's task needs)."""
    from trails.runs import node_cache  # noqa: F401


def _run_tag(run_key: str) -> str:
    return hashlib.sha256(run_key.encode()).hexdigest()[:16]


def _run_task(job: SessionJob, label: str, start: Start, supply: dict[str, Any]) -> Done | Need:
    """On the node: bring the start state in, run the session, pack the new state and the session files.

    `supply` maps node ids to object-store refs of packs made for them (inside a dict, so Ray
    fetches none unasked): this node's, when there is one, holds the baseline's objects it lacked.
    """
    import ray

    from trails.runs.node_cache import NodeCache

    node = ray.get_runtime_context().get_node_id()
    job.env["TRAILS_RAY_NODE"] = node
    cache = NodeCache.open()
    with cache.using(start.run):
        slot = cache.lend(start.dir_name, start.run, start.tree)
        try:
            repo = cache.repo(start.run)
            if not _bring_in(repo, start, supply.get(node)):
                return Need(node, cache.have(slot))
            tree = repo.tree(slot.files, slot.index)
            held, same_run = slot.holds(start.tree), slot.same_run(start.run)
            slot.touch()
            if not (held and same_run):  # as a local slot, a session straight after its start skips the reset
                # In place: git writes only the files that differ. A directory another run (or a dead task)
                # left loses its ignored files too, which no snapshot of this run holds.
                if held:
                    tree.clean(ignored=True)  # its files are the start's already: only what git ignores goes
                else:
                    tree.reset(start.tag, ignored=not same_run)
            sdir = slot.root / "session"
            shutil.rmtree(sdir, ignore_errors=True)
            sdir.mkdir()
            fields = run_job(job, slot.files, sdir, ProcessGroup(record=slot.agents))
            first_line = (job.prompt.strip().splitlines() or [""])[0][:72]
            commit = tree.snapshot(label, start.tag, f"{label}: {first_line}")
            files = {str(p.relative_to(sdir)): p.read_bytes() for p in sdir.rglob("*") if p.is_file()}
            done = Done(fields, files, repo.bundle(label, start.commit), repo.ref(label), f"ray:{node}:{slot.files}")
            cache.give_back(slot, start.run, repo.tree_of(label), commit)
            return done
        finally:
            cache.release(slot)


def _bring_in(repo: ShadowRepo, start: Start, pack_ref: Any) -> bool:
    """Make the node's store hold the start commit; False when it lacks the baseline and no pack came for it."""
    import ray

    present = repo.present([start.commit, start.baseline_commit, start.baseline_tree])
    if start.commit in present:
        repo.set_ref(start.tag, start.commit)
        return True
    if start.baseline_commit not in present:
        if start.baseline_tree not in present:
            if pack_ref is None:
                return False
            repo.add_pack(ray.get(pack_ref))
        if start.baseline_commit not in repo.present([start.baseline_commit]):
            written = repo.write_commit(start.baseline_raw)
            if written != start.baseline_commit:
                raise RunError(f"the baseline commit came out as {written}, not {start.baseline_commit}")
    repo.set_ref(BASELINE, start.baseline_commit)
    if start.bundle is not None:
        repo.fetch_bundle(start.bundle, start.tag, source=f"refs/tags/{start.tag}")
    return True
