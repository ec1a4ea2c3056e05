"""The run executor: every session once its start point is done, up to N at once, every session snapshotted.

Layout of a run directory::

    <out>/run.json  config.yaml  full_diff.patch  .shadow_git/  .run.lock  .agents/
    <out>/session_NN[_<cell>][_rMM]/prompt.txt  result.json  agent_result.<ext>  agent_stderr.txt
                           transcript.*  trajectory.json  session_diff.patch  commands.log  [api_captures.jsonl]

A session counts as done once its result.json exists; everything else is rebuilt on resume.
The driver holds `.run.lock` while it runs (so `trails runs` tells a run whose driver died from a
running one, and a second driver is refused) and notes its agents in `.agents/`, so a resume first
stops those a killed driver left running.
Sessions run where a backend puts them: here (`LocalBackend`, in copies of the work directory) or
as Ray tasks (`trails.runs.ray_backend`); both hand back a snapshot tag in the shadow repository.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from trails.core import faults
from trails.core.errors import RunError
from trails.core.userfiles import read_json_object
from trails.runs.plan import RunPlan, SessionPlan
from trails.runs.session import Interrupted, ProcessGroup, SessionJob, process_start, reap, run_job, shippable_env
from trails.runs.shadow import ShadowRepo, WorkTree
from trails.runs.status import AGENTS_DIR, LOCK_NAME

SHADOW_DIR = ".shadow_git"
SLOTS_DIR = ".replicas"
FINAL = ("ok", "failed", "timeout")

__all__ = ["FINAL", "SHADOW_DIR", "EventSink", "Interrupted", "RunEvent", "RunExecutor", "default_out"]


@dataclass(frozen=True)
class RunEvent:
    kind: str  # run_started | session_started | session_finished | run_finished | note
    label: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[RunEvent], None]


@dataclass(frozen=True)
class Unit:
    """One session replicate to run."""

    session: SessionPlan
    replicate: int
    label: str
    start_tag: str
    deps: tuple[str, ...]  # labels that must be done first


class Backend(Protocol):
    slots: int

    def run(self, unit: Unit, job: SessionJob, slot: int, sdir: Path) -> tuple[dict[str, Any], str]:
        """Run the job from the unit's start tag; return the result fields and the work dir it used."""
        ...

    def close(self) -> None: ...


def default_out(plan: RunPlan) -> Path:
    if plan.meta.run_name:
        return plan.base_dir / "runs" / plan.meta.run_name
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return plan.base_dir / "runs" / f"{plan.source.stem}-{stamp}"


class RunExecutor:
    """Runs one plan into one output directory; `execute` may be called again to resume it."""

    def __init__(self, plan: RunPlan, out: Path, *, parallel: int = 1, on_event: EventSink | None = None,
                 ray_address: str | None = None) -> None:
        self.plan = plan
        self.out = out.resolve()
        self.parallel = max(1, parallel)
        address = ray_address or plan.meta.ray_address
        self.ray_address = None if address == "local" else address  # `--ray local`: this machine after all
        self._sink = on_event
        self._sink_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self.procs = ProcessGroup(record=self.out / AGENTS_DIR)
        self.shadow = ShadowRepo(self.out / SHADOW_DIR)
        self.state: dict[str, Any] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self._provider_env: dict[str, str] = {}

    # --- state ------------------------------------------------------------------------------------

    def _emit(self, kind: str, label: str | None = None, **detail: Any) -> None:
        if self._sink is not None:
            with self._sink_lock:
                self._sink(RunEvent(kind, label, detail))

    def note(self, text: str) -> None:
        """A line of progress that belongs to no session (e.g. what a backend sent where)."""
        self._emit("note", text=text)

    def _write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)

    def _save_state(self) -> None:
        with self._state_lock:
            done = [r for r in self.results.values() if r.get("status") in FINAL]
            self.state["sessions"] = {label: _summary(r) for label, r in sorted(self.results.items())}
            self.state["totals"] = _totals(done, sum(s.count for s in self.plan.sessions))
            if self.plan.meta.matrix_axes:
                self.state["groups"] = self._groups()
            self._write_json(self.out / "run.json", self.state)

    def _groups(self) -> dict[str, Any]:
        """Results per matrix cell: its axis values, totals, and its sessions' labels."""
        groups: dict[str, Any] = {}
        for s in self.plan.sessions:
            group = groups.setdefault(s.cell, {"values": {a: s.cell_values.get(a) for a in self.plan.meta.matrix_axes},
                                               "labels": [], "planned": 0})
            group["labels"] += s.labels()
            group["planned"] += s.count
        for group in groups.values():
            done = [self.results[label] for label in group["labels"] if label in self.results]
            group["totals"] = _totals(done, group.pop("planned"))
        return groups

    def _load_results(self) -> None:
        for s in self.plan.sessions:
            for label in s.labels():
                path = self.out / label / "result.json"
                if path.exists():
                    result = json.loads(path.read_text())
                    if result.get("status") in FINAL and self.shadow.commit_of(label):
                        self.results[label] = result

    # --- setup ------------------------------------------------------------------------------------

    def _check_new_out(self) -> None:
        if self.out.exists() and any(self.out.iterdir()):
            raise RunError(f"output directory {self.out} is not empty",
                           hint="give a new --out, or continue that run with --resume-run")

    def _hold(self) -> Any:
        """Take the run's lock for as long as this driver runs it; a run another driver holds is refused."""
        import fcntl

        self.out.mkdir(parents=True, exist_ok=True)
        handle = open(self.out / LOCK_NAME, "a+")  # noqa: SIM115 - held until execute() returns
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            driver = (read_json_object(self.out / "run.json") or {}).get("driver") or {}
            raise RunError(f"{self.out} is being run by another trails process"
                           + (f" (pid {driver['pid']})" if driver.get("pid") else ""),
                           hint="wait for it to finish, or stop it (Ctrl-C) and then --resume-run") from None
        return handle

    def _driver(self) -> dict[str, Any]:
        import socket

        return {"pid": os.getpid(), "host": socket.gethostname(), "process_start": process_start(os.getpid())}

    def _start_new(self) -> None:
        (self.out / "config.yaml").write_text(self.plan.text)
        meta = self.plan.meta
        self.state = {
            "version": 1, "status": "running", "run_file": str(self.plan.source), "base_dir": str(self.plan.base_dir),
            "work_dir": str(self.plan.work_dir), "out": str(self.out), "session_mode": self.plan.session_mode,
            "parallel": self.parallel, "started_at": time.time(), "finished_at": None, "resumed": 0,
            "hypothesis": meta.hypothesis, "tags": meta.tags, "run_name": meta.run_name or self.out.name,
            "repo_name": meta.repo_name, "provider": meta.provider, "backend": self._backend_name(),
            "matrix": meta.matrix_axes or None, "driver": self._driver(),
        }
        self._save_state()  # first: a run that dies while it is set up can be resumed (set up again)
        self._prepare()

    def _prepare(self) -> None:
        """The shadow repository and the baseline snapshot, before any session runs."""
        exclude = []
        if self.out.is_relative_to(self.plan.work_dir):
            exclude.append(str(self.out.relative_to(self.plan.work_dir)))
        ShadowRepo.create(self.shadow.git_dir, exclude=exclude)
        faults.point("run", "prepared")
        self.state["memory_seeded"] = self._seed_memory()
        self.main_tree().snapshot("baseline", None, "baseline: the work directory before session 1")
        self._save_state()

    def _backend_name(self) -> str:
        return f"ray:{self.ray_address}" if self.ray_address else "local"

    def _seed_memory(self) -> bool:
        if self.plan.memory_file is None:
            return False
        path = self.plan.work_dir / self.plan.memory_file
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.plan.memory_seed or "")
        return True

    def _start_resumed(self) -> None:
        state_path = self.out / "run.json"
        if not state_path.exists():
            raise RunError(f"{self.out} holds no resumable run (no run.json)")
        self.state = json.loads(state_path.read_text())
        # A driver killed mid-session leaves its agents running, writing files: stop them first.
        reap(self.out / AGENTS_DIR)
        if not self.shadow.git_dir.is_dir() or self.shadow.commit_of("baseline") is None:
            if any(self.out.glob("session_*/result.json")):
                raise RunError(f"{self.out} holds no resumable run (its baseline snapshot is gone)")
            # It died while it was being set up, before any session ran: set up again.
            shutil.rmtree(self.shadow.git_dir, ignore_errors=True)
            self._prepare()
        self.state["status"] = "running"
        self.state["driver"] = self._driver()
        self.state["resumed"] = int(self.state.get("resumed", 0)) + 1
        self.state["parallel"] = self.parallel
        self.state["backend"] = self._backend_name()
        self._load_results()
        self._keep_interrupted()
        self._save_state()

    def _keep_interrupted(self) -> None:
        """Snapshot what an interrupted session left in the work directory (and in replicate copies)
        before anything resets it, under tags named in run.json: the retried session starts from its
        start point, and what the interrupted attempt had written is kept, not wiped."""
        n = self.state["resumed"]
        trees = [("", self.main_tree())]
        for slot in sorted((self.out / SLOTS_DIR).glob("slot_*")) if (self.out / SLOTS_DIR).is_dir() else []:
            path = slot / self.plan.work_dir.name
            if path.is_dir():
                trees.append((f"-{slot.name}", self.shadow.tree(path, self.shadow.git_dir / "indexes" / slot.name)))
        known = {self.shadow.tree_of(tag) for tag in self.shadow.tags()}
        kept = []
        for suffix, tree in trees:
            if tree.tree_now() in known:  # as a snapshot already holds it: nothing was cut short there
                continue
            tag = f"interrupted-{n}{suffix}"
            tree.snapshot(tag, None, f"{tag}: the work directory as an interrupted run left it")
            kept.append(tag)
        if kept:
            self.state["interrupted"] = [*self.state.get("interrupted", []), *kept]

    def main_tree(self) -> WorkTree:
        return self.shadow.tree(self.plan.work_dir, self.shadow.git_dir / "index")

    # --- running ----------------------------------------------------------------------------------

    def execute(self, *, resume: bool = False) -> dict[str, Any]:
        """Run (or continue) every session; returns the run summary also stored in run.json."""
        from trails.runs.claude_options import provider_env

        if any(s.adapter.name == "claude" for s in self.plan.sessions):
            self._provider_env = provider_env(self.plan.meta.provider, self.plan.meta.base_url)
        if not resume:
            self._check_new_out()
        lock = self._hold()
        try:
            return self._execute(resume)
        finally:
            lock.close()

    def _execute(self, resume: bool) -> dict[str, Any]:
        # A Ray backend connects (and starts its workers) while the baseline is snapshotted; the local one
        # copies the work dir for its slots after the memory file is seeded into it.
        backend = self._backend() if self.ray_address else None
        try:
            if resume:
                self._start_resumed()
            else:
                self._start_new()
        except BaseException:
            if backend is not None:
                backend.close()
            raise
        backend = backend or self._backend()
        self._emit("run_started", out=str(self.out), resumed=resume, done=len(self.results),
                   planned=sum(s.count for s in self.plan.sessions), backend=self._backend_name())
        previous = _install_sigterm()
        try:
            self._schedule(backend)
        except KeyboardInterrupt:
            self.procs.stop_all()
            self.state["status"] = "interrupted"
            self.state["finished_at"] = time.time()
            self._save_state()
            self._emit("run_finished", status="interrupted", out=str(self.out))
            raise
        finally:
            _restore_sigterm(previous)
            backend.close()
        self._finish()
        return self.state

    def _backend(self) -> Backend:
        if self.ray_address:
            from trails.runs.ray_backend import RayBackend

            return RayBackend(self, self.ray_address, parallel=self.parallel)
        return LocalBackend(self)

    def units(self) -> list[Unit]:
        out = []
        for s in self.plan.sessions:
            start = self.plan.start_tag(s)
            conv = self.plan.conversation_tag(s)
            deps = tuple(dict.fromkeys(t for t in (start, conv) if t and t != "baseline"))
            out += [Unit(s, r, label, start, deps) for r, label in enumerate(s.labels(), start=1)]
        return out

    def _schedule(self, backend: Backend) -> None:
        pending = [u for u in self.units() if u.label not in self.results]
        if not pending:
            return
        workers = max(1, min(backend.slots, len(pending)))
        free_slots = list(range(workers))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trails-run")
        running: dict[Future[dict[str, Any]], int] = {}
        try:
            while pending or running:
                for unit in list(pending):
                    if not free_slots:
                        break
                    if all(d in self.results for d in unit.deps):
                        # The main line of a run without a matrix runs in the work dir itself (slot 0),
                        # as a sequential run does; only replicates (and matrix cells) use copies.
                        main_line = unit.session.count == 1 and not unit.session.cell
                        if main_line and 0 not in free_slots:
                            continue
                        pending.remove(unit)
                        slot = 0 if main_line else backend_slot(backend, free_slots, unit.start_tag)
                        if main_line:
                            free_slots.remove(0)
                        running[pool.submit(self._run_one, backend, unit, slot)] = slot
                if not running:
                    raise RunError(f"sessions {', '.join(u.label for u in pending)} wait on sessions that never ran")
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    free_slots.append(running.pop(future))
                    result = future.result()
                    self.results[result["label"]] = result
                    self._save_state()
        except BaseException:
            self.procs.stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _job(self, unit: Unit) -> SessionJob:
        s = unit.session
        env = dict(self._provider_env)
        env.update(s.env)
        env.update({"TRAILS_RUN_DIR": str(self.out), "TRAILS_RUN_SESSION": unit.label,
                    "TRAILS_RUN_SESSION_INDEX": str(s.index), "TRAILS_RUN_REPLICATE": str(unit.replicate)})
        if s.cell:
            env["TRAILS_RUN_CELL"] = s.cell
        meta = self.plan.meta
        capture = None
        if meta.capture_api_requests and s.adapter.name == "claude":
            from trails.runs.claude_options import upstream_url

            capture = upstream_url({**os.environ, **env})
        job = SessionJob(
            label=unit.label, prompt=s.prompt, argv=s.argv, adapter=s.adapter, env=env, model=s.model,
            max_turns=s.max_turns, permission_mode=s.permission_mode, timeout=s.timeout, fork=s.fork,
            pre_run_commands=s.pre_run_commands, post_run_commands=s.post_run_commands, claude_args=s.claude_args,
            system_prompt=s.system_prompt, work_dir_hint=meta.agentlens, memory_file=self.plan.memory_file,
            capture_upstream=capture, capture_subagents=meta.capture_subagent_trajectories, agent_name=s.agent_spec)
        source = self.plan.conversation_tag(s)
        if source is not None:
            job.resume_id = (self.results.get(source) or {}).get("conversation_id")
            job.resumed_from = source
            transcript = self.out / source / "transcript.jsonl"
            if self.ray_address and transcript.exists():
                job.conversation = transcript.read_bytes()
        return job

    def _run_one(self, backend: Backend, unit: Unit, slot: int) -> dict[str, Any]:
        if self.procs.stopping.is_set():
            raise Interrupted(unit.label)
        s = unit.session
        sdir = self.out / unit.label
        if sdir.exists():
            shutil.rmtree(sdir)  # leftovers of an interrupted attempt
        sdir.mkdir(parents=True)
        result: dict[str, Any] = {
            "label": unit.label, "session_index": s.index, "replicate": unit.replicate if s.count > 1 else None,
            "cell": s.cell or None, "cell_values": s.cell_values or None,
            "status": "running", "agent": s.agent_spec, "model": s.model, "start_tag": unit.start_tag,
            "start_tree": self.shadow.tree_of(unit.start_tag), "work_dir": None,
            "resumed_from": None, "forked": False, "conversation_id": None, "turns": None, "cost_usd": None,
            "exit_code": None, "error": None,
        }
        self._emit("session_started", unit.label, start_tag=unit.start_tag, slot=slot)
        faults.point("run", "started")
        started = time.monotonic()
        job = self._job(unit)
        try:
            if job.resumed_from and not job.resume_id:
                (sdir / "prompt.txt").write_text(s.prompt)
                fields: dict[str, Any] = {"status": "failed", "resumed_from": job.resumed_from,
                                          "error": f"{job.resumed_from} left no conversation to continue"}
                result["work_dir"] = str(self.plan.work_dir)
                self._snapshot_in_place(backend, unit, slot)
            else:
                fields, result["work_dir"] = backend.run(unit, job, slot, sdir)
        finally:
            result["duration_s"] = round(time.monotonic() - started, 3)
        if self.procs.stopping.is_set():
            raise Interrupted(unit.label)
        result.update(fields)
        (sdir / "session_diff.patch").write_text(self.shadow.diff(unit.start_tag, unit.label))
        result.update(end_tag=unit.label, end_commit=self.shadow.commit_of(unit.label),
                      files_changed=self.shadow.changed_files(unit.start_tag, unit.label), finished_at=time.time())
        self._write_json(sdir / "result.json", result)
        faults.point("run", "result_written")
        self._emit("session_finished", unit.label, **_summary(result))
        return result

    def _snapshot_in_place(self, backend: Backend, unit: Unit, slot: int) -> None:
        """A session that could not start keeps its start state as its end state."""
        commit = self.shadow.commit_of(unit.start_tag)
        if commit:
            self.shadow.git("update-ref", f"refs/tags/{unit.label}", commit)

    def _finish(self) -> None:
        first_cell = self.plan.cells()[0]
        last = [s for s in self.plan.sessions if s.cell == first_cell][-1].primary_label
        end = last if self.shadow.commit_of(last) else "baseline"
        if self.plan.meta.revert_work_dir:
            self.main_tree().reset("baseline")  # AgentLens: the work dir as it was before the run
            if self.state.get("memory_seeded") and self.plan.memory_file:
                (self.plan.work_dir / self.plan.memory_file).unlink(missing_ok=True)
        else:
            self.main_tree().reset(end)  # leave the work dir as the main line ended, not as a replicate did
        shutil.rmtree(self.out / SLOTS_DIR, ignore_errors=True)  # replicate copies: every state is in a tag
        (self.out / "full_diff.patch").write_text(self.shadow.diff("baseline", end))
        failed = any(r.get("status") != "ok" for r in self.results.values())
        self.state["status"] = "completed_with_failures" if failed else "completed"
        self.state["finished_at"] = time.time()
        self.state["end_tag"] = end
        self._save_state()
        self._emit("run_finished", status=self.state["status"], out=str(self.out), totals=self.state["totals"])


def backend_slot(backend: Backend, free: list[int], start_tag: str) -> int:
    """A free slot: one whose files already equal the start point (it skips the reset), else the work dir itself."""
    at = getattr(backend, "slot_at", {})
    for slot in [*free]:
        if at.get(slot) == start_tag:
            free.remove(slot)
            return slot
    if 0 in free:
        free.remove(0)
        return 0
    return free.pop(0)


class LocalBackend:
    """Sessions on this machine: slot 0 is the work directory itself, others are copies of it."""

    def __init__(self, executor: RunExecutor) -> None:
        self.ex = executor
        self.slots = executor.parallel
        self.slot_at: dict[int, str] = {}  # slot → tag its files are known to equal (this process only)
        self._lock = threading.Lock()
        for slot in range(1, self.slots):
            self._slot_tree(slot)  # copies are made up front, before any session changes files

    def _slot_tree(self, slot: int) -> WorkTree:
        ex = self.ex
        if slot == 0:
            return ex.main_tree()
        path = ex.out / SLOTS_DIR / f"slot_{slot:02d}" / ex.plan.work_dir.name
        if not path.exists():
            _copy_work_dir(ex.plan.work_dir, ex.out, path)
        return ex.shadow.tree(path, ex.shadow.git_dir / "indexes" / f"slot_{slot:02d}")

    def run(self, unit: Unit, job: SessionJob, slot: int, sdir: Path) -> tuple[dict[str, Any], str]:
        tree = self._slot_tree(slot)
        with self._lock:
            skip = self.slot_at.pop(slot, None) == unit.start_tag
        if not skip:  # a session straight after its start point skips the reset
            tree.reset(unit.start_tag)
        faults.point("run", "reset")
        fields = run_job(job, tree.path, sdir, self.ex.procs)
        faults.point("run", "agent_done")
        first_line = (unit.session.prompt.strip().splitlines() or [""])[0][:72]
        tree.snapshot(unit.label, unit.start_tag, f"{unit.label}: {first_line}")
        faults.point("run", "snapshotted")
        with self._lock:
            self.slot_at[slot] = unit.label
        return fields, str(tree.path)

    def close(self) -> None:
        return


def _copy_work_dir(work: Path, out: Path, dest: Path) -> None:
    # A full copy (ignored files and the work dir's own .git too); the reset before each
    # session then makes every tracked file equal to the start snapshot.
    def skip(directory: str, names: list[str]) -> list[str]:
        return [n for n in names if Path(directory, n).resolve() == out] if out.is_relative_to(work) else []

    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(work, dest, symlinks=True, ignore=skip)


def _totals(done: list[dict[str, Any]], planned: int) -> dict[str, Any]:
    final = [r for r in done if r.get("status") in FINAL]
    return {
        "planned": planned,
        "done": len(final),
        "ok": sum(1 for r in final if r["status"] == "ok"),
        "failed": sum(1 for r in final if r["status"] != "ok"),
        "cost_usd": round(sum(r.get("cost_usd") or 0 for r in final), 6),
        "duration_s": round(sum(r.get("duration_s") or 0 for r in final), 3),
    }


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "duration_s", "turns", "cost_usd", "conversation_id", "resumed_from", "forked", "error")
    out = {k: result.get(k) for k in keys}
    out["files_changed"] = len(result.get("files_changed") or [])
    return out


def _install_sigterm() -> Any:
    # SIGTERM stops a run the way Ctrl-C does, so it stays resumable.
    if threading.current_thread() is not threading.main_thread():
        return None

    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, raise_interrupt)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


__all__ += ["Backend", "LocalBackend", "Unit", "shippable_env"]
