"""Sessions as Ray tasks on an existing Ray cluster (`trails run FILE --ray ADDRESS`).

A task gets the session's start state as a git bundle of the shadow repository's start tag,
checks it out into a work directory of its own on the node, runs the session there (the same
`run_job` as a local run), snapshots the result on top of the start commit and sends it back as a
bundle with the session directory's files. The driver fetches the bundle into the run's shadow
repository under the session's tag and writes the files, so the run directory is the one a local
run makes. Ray retries a task whose node or worker dies (`max_retries`); a session that fails on
its own is a result, not retried.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import RunError
from trails.runs.session import ProcessGroup, SessionJob, run_job, shippable_env
from trails.runs.shadow import ShadowRepo

if TYPE_CHECKING:
    from trails.runs.executor import RunExecutor, Unit
    from trails.runs.spec import Resources

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

    def run(self, unit: Unit, job: SessionJob, slot: int, sdir: Path) -> tuple[dict[str, Any], str]:
        import ray

        ex = self.ex
        job.env = shippable_env({**_os_environ(), **job.env})
        bundle = ex.shadow.git_bytes("bundle", "create", "-", f"refs/tags/{unit.start_tag}")
        opts = ray_options(unit.session.resources, ex.plan.meta.ray_max_retries)
        ref = self._remote.options(**opts).remote(job, unit.label, unit.start_tag, bundle, ex.plan.work_dir.name)
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
        if self._owns:
            import ray

            ray.shutdown()


def _os_environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _run_task(job: SessionJob, label: str, start_tag: str, bundle: bytes,
              dir_name: str) -> tuple[dict[str, Any], dict[str, bytes], bytes, str]:
    """On the node: unpack the start state, run the session, pack the new state and the session files."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    job.env["TRAILS_RAY_NODE"] = node
    root = Path(tempfile.mkdtemp(prefix="trails-ray-"))
    try:
        repo = ShadowRepo.create(root / "shadow.git")
        repo.fetch_bundle(bundle, start_tag)
        cwd = root / dir_name
        tree = repo.tree(cwd, root / "index")
        tree.reset(start_tag)
        sdir = root / "session"
        sdir.mkdir()
        fields = run_job(job, cwd, sdir, ProcessGroup())
        first_line = (job.prompt.strip().splitlines() or [""])[0][:72]
        tree.snapshot(label, start_tag, f"{label}: {first_line}")
        new_bundle = repo.git_bytes("bundle", "create", "-", f"refs/tags/{label}", f"^refs/tags/{start_tag}")
        files = {str(p.relative_to(sdir)): p.read_bytes() for p in sdir.rglob("*") if p.is_file()}
        return fields, files, new_bundle, f"ray:{node}:{cwd}"
    finally:
        shutil.rmtree(root, ignore_errors=True)
