"""The run executor: sessions in order, replicates side by side, every session snapshotted.

Layout of a run directory::

    <out>/run.json  config.yaml  full_diff.patch  .shadow_git/
    <out>/session_NN[_rMM]/prompt.txt  result.json  agent_result.<ext>  agent_stderr.txt
                           transcript.*  session_diff.patch  commands.log

A session counts as done once its result.json exists; everything else is rebuilt on resume.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.agents.headless import HeadlessOutcome, HeadlessRequest
from trails.core.errors import RunError
from trails.runs.plan import RunPlan, SessionPlan
from trails.runs.shadow import ShadowRepo, WorkTree

SHADOW_DIR = ".shadow_git"
SLOTS_DIR = ".replicas"
FINAL = ("ok", "failed", "timeout")


@dataclass(frozen=True)
class RunEvent:
    kind: str  # run_started | session_started | session_finished | run_finished | note
    label: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[RunEvent], None]


class Interrupted(Exception):
    """A session stopped because the run is stopping; it leaves no result behind."""


@dataclass
class RunOptions:
    out: Path | None = None
    parallel: int = 1
    on_event: EventSink | None = None


def default_out(plan: RunPlan) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return plan.base_dir / "runs" / f"{plan.source.stem}-{stamp}"


class RunExecutor:
    """Runs one plan into one output directory; `execute` may be called again to resume it."""

    def __init__(self, plan: RunPlan, out: Path, *, parallel: int = 1, on_event: EventSink | None = None) -> None:
        self.plan = plan
        self.out = out.resolve()
        self.parallel = max(1, parallel)
        self._sink = on_event
        self._sink_lock = threading.Lock()
        self._stopping = threading.Event()
        self._procs: set[subprocess.Popen[str]] = set()
        self._procs_lock = threading.Lock()
        self.shadow = ShadowRepo(self.out / SHADOW_DIR)
        self.state: dict[str, Any] = {}
        self._slot_at: dict[int, str] = {}  # slot → tag its files are known to equal (this process only)
        self.results: dict[str, dict[str, Any]] = {}

    # --- state ------------------------------------------------------------------------------------

    def _emit(self, kind: str, label: str | None = None, **detail: Any) -> None:
        if self._sink is not None:
            with self._sink_lock:
                self._sink(RunEvent(kind, label, detail))

    def _write_json(self, path: Path, data: Any) -> None:
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
        os.replace(tmp, path)

    def _save_state(self) -> None:
        done = [r for r in self.results.values() if r.get("status") in FINAL]
        self.state["sessions"] = {label: _summary(r) for label, r in sorted(self.results.items())}
        self.state["totals"] = {
            "planned": sum(s.count for s in self.plan.sessions),
            "done": len(done),
            "ok": sum(1 for r in done if r["status"] == "ok"),
            "failed": sum(1 for r in done if r["status"] != "ok"),
            "cost_usd": round(sum(r.get("cost_usd") or 0 for r in done), 6),
            "duration_s": round(sum(r.get("duration_s") or 0 for r in done), 3),
        }
        self._write_json(self.out / "run.json", self.state)

    def _load_results(self) -> None:
        for s in self.plan.sessions:
            for label in s.labels():
                path = self.out / label / "result.json"
                if path.exists():
                    result = json.loads(path.read_text())
                    if result.get("status") in FINAL and self.shadow.commit_of(label):
                        self.results[label] = result

    # --- setup ------------------------------------------------------------------------------------

    def _start_new(self) -> None:
        if self.out.exists() and any(self.out.iterdir()):
            raise RunError(f"output directory {self.out} is not empty",
                           hint="give a new --out, or continue that run with --resume-run")
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.yaml").write_text(self.plan.text)
        exclude = []
        if self.out.is_relative_to(self.plan.work_dir):
            exclude.append(str(self.out.relative_to(self.plan.work_dir)))
        ShadowRepo.create(self.shadow.git_dir, exclude=exclude)
        self.state = {
            "version": 1, "status": "running", "run_file": str(self.plan.source), "base_dir": str(self.plan.base_dir),
            "work_dir": str(self.plan.work_dir), "out": str(self.out), "session_mode": self.plan.session_mode,
            "parallel": self.parallel, "started_at": time.time(), "finished_at": None, "resumed": 0,
        }
        self._seed_memory()
        self.main_tree().snapshot("baseline", None, "baseline: the work directory before session 1")
        self._slot_at[0] = "baseline"
        self._save_state()

    def _seed_memory(self) -> None:
        if self.plan.memory_file is None:
            return
        path = self.plan.work_dir / self.plan.memory_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.plan.memory_seed or "")

    def _start_resumed(self) -> None:
        state_path = self.out / "run.json"
        if not state_path.exists() or self.shadow.commit_of("baseline") is None:
            raise RunError(f"{self.out} holds no resumable run (no run.json or no baseline snapshot)")
        self.state = json.loads(state_path.read_text())
        self.state["status"] = "running"
        self.state["resumed"] = int(self.state.get("resumed", 0)) + 1
        self.state["parallel"] = self.parallel
        self._load_results()
        self._save_state()

    def main_tree(self) -> WorkTree:
        return self.shadow.tree(self.plan.work_dir, self.shadow.git_dir / "index")

    def _slot_tree(self, slot: int) -> WorkTree:
        if slot == 0:
            return self.main_tree()
        path = self.out / SLOTS_DIR / f"slot_{slot:02d}" / self.plan.work_dir.name
        if not path.exists():
            self._copy_work_dir(path)
        return self.shadow.tree(path, self.shadow.git_dir / "indexes" / f"slot_{slot:02d}")

    def _copy_work_dir(self, dest: Path) -> None:
        # A full copy (ignored files and the work dir's own .git too); the reset before each
        # replicate then makes every tracked file equal to the start snapshot.
        out, work = self.out, self.plan.work_dir

        def skip(directory: str, names: list[str]) -> list[str]:
            return [n for n in names if Path(directory, n).resolve() == out] if out.is_relative_to(work) else []

        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(work, dest, symlinks=True, ignore=skip)

    # --- running ----------------------------------------------------------------------------------

    def execute(self, *, resume: bool = False) -> dict[str, Any]:
        """Run (or continue) every session; returns the run summary also stored in run.json."""
        if resume:
            self._start_resumed()
        else:
            self._start_new()
        self._emit("run_started", out=str(self.out), resumed=resume, done=len(self.results),
                   planned=sum(s.count for s in self.plan.sessions))
        previous = _install_sigterm()
        try:
            for session in self.plan.sessions:
                self._run_session(session)
        except KeyboardInterrupt:
            self._stop_all()
            self.state["status"] = "interrupted"
            self.state["finished_at"] = time.time()
            self._save_state()
            self._emit("run_finished", status="interrupted", out=str(self.out))
            raise
        finally:
            _restore_sigterm(previous)
        self._finish()
        return self.state

    def _finish(self) -> None:
        last = self.plan.sessions[-1].primary_label
        end = last if self.shadow.commit_of(last) else "baseline"
        if self._slot_at.get(0) != end:
            self.main_tree().reset(end)  # leave the work dir as the main line ended, not as a replicate did
        shutil.rmtree(self.out / SLOTS_DIR, ignore_errors=True)  # replicate copies: every state is in a tag
        (self.out / "full_diff.patch").write_text(self.shadow.diff("baseline", end))
        failed = any(r.get("status") != "ok" for r in self.results.values())
        self.state["status"] = "completed_with_failures" if failed else "completed"
        self.state["finished_at"] = time.time()
        self.state["end_tag"] = end
        self._save_state()
        self._emit("run_finished", status=self.state["status"], out=str(self.out), totals=self.state["totals"])

    def _run_session(self, session: SessionPlan) -> None:
        todo = [(r, label) for r, label in enumerate(session.labels(), start=1) if label not in self.results]
        if not todo:
            return
        workers = min(self.parallel, len(todo))
        free_slots = list(range(workers))
        for slot in free_slots:
            self._slot_tree(slot)  # copies are made up front, before any replicate changes files
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trails-run")
        running: dict[Future[dict[str, Any]], int] = {}
        pending = list(todo)
        try:
            while pending or running:
                while pending and free_slots:
                    replicate, label = pending.pop(0)
                    slot = free_slots.pop(0)
                    running[pool.submit(self._run_one, session, replicate, label, slot)] = slot
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    free_slots.append(running.pop(future))
                    result = future.result()
                    self.results[result["label"]] = result
                    self._save_state()
        except BaseException:
            self._stopping.set()
            self._stop_all()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)

    def _run_one(self, session: SessionPlan, replicate: int, label: str, slot: int) -> dict[str, Any]:
        if self._stopping.is_set():
            raise Interrupted(label)
        tree = self._slot_tree(slot)
        start_tag = self.plan.start_tag(session)
        sdir = self.out / label
        if sdir.exists():
            shutil.rmtree(sdir)  # leftovers of an interrupted attempt
        sdir.mkdir(parents=True)
        if self._slot_at.pop(slot, None) != start_tag:  # a session straight after its start point skips it
            tree.reset(start_tag)
        (sdir / "prompt.txt").write_text(session.prompt)
        result: dict[str, Any] = {
            "label": label, "session_index": session.index, "replicate": replicate if session.count > 1 else None,
            "status": "running", "agent": session.agent_spec, "start_tag": start_tag,
            "start_tree": self.shadow.tree_of(start_tag), "work_dir": str(tree.path),
            "resumed_from": None, "forked": False, "conversation_id": None, "turns": None, "cost_usd": None,
            "exit_code": None, "error": None,
        }
        self._emit("session_started", label, start_tag=start_tag, slot=slot)
        started = time.monotonic()
        env = self._agent_env(session, label, replicate)
        try:
            status, outcome = self._run_agent(session, result, tree.path, env, sdir)
        finally:
            result["duration_s"] = round(time.monotonic() - started, 3)
        if self._stopping.is_set():
            raise Interrupted(label)
        if outcome is not None:
            self._store_outcome(session, outcome, sdir, env, tree.path, result)
        first_line = (session.prompt.strip().splitlines() or [""])[0][:72]
        commit = tree.snapshot(label, start_tag, f"{label}: {first_line}")
        self._slot_at[slot] = label
        (sdir / "session_diff.patch").write_text(self.shadow.diff(start_tag, label))
        result.update(status=status, end_tag=label, end_commit=commit,
                      files_changed=self.shadow.changed_files(start_tag, label), finished_at=time.time())
        self._write_json(sdir / "result.json", result)
        self._emit("session_finished", label, **_summary(result))
        return result

    def _agent_env(self, session: SessionPlan, label: str, replicate: int) -> dict[str, str]:
        env = dict(os.environ)
        env.update(session.env)
        env.update({"TRAILS_RUN_DIR": str(self.out), "TRAILS_RUN_SESSION": label,
                    "TRAILS_RUN_SESSION_INDEX": str(session.index), "TRAILS_RUN_REPLICATE": str(replicate)})
        return env

    def _run_agent(self, session: SessionPlan, result: dict[str, Any], cwd: Path, env: dict[str, str],
                   sdir: Path) -> tuple[str, HeadlessOutcome | None]:
        log = sdir / "commands.log"
        for command in session.pre_run_commands:
            if not self._command(command, cwd, env, log, session.timeout):
                result["error"] = f"pre_run_command failed: {command}"
                return "failed", None
        resume_id = None
        if session.conversation_from is not None:
            source = self.plan.session(session.conversation_from).primary_label
            resume_id = (self.results.get(source) or {}).get("conversation_id")
            if not resume_id:
                result["error"] = f"{source} left no conversation to continue"
                return "failed", None
            result["resumed_from"], result["forked"] = source, session.fork
        request = HeadlessRequest(prompt=session.prompt, model=session.model, max_turns=session.max_turns,
                                  permission_mode=session.permission_mode, resume_id=resume_id, fork=session.fork)
        invocation = session.adapter.invocation(session.argv, request)
        result["argv"] = invocation.argv
        rc, stdout, stderr, timed_out = self._spawn(invocation.argv, invocation.stdin, cwd, env, session.timeout)
        (sdir / "agent_stderr.txt").write_text(stderr)
        outcome = session.adapter.parse(stdout, stderr, rc)
        outcome.extra["stdout"] = stdout
        result["exit_code"] = rc
        if timed_out:
            outcome.ok, outcome.error = False, f"timed out after {session.timeout}s"
        for command in session.post_run_commands:
            if not self._command(command, cwd, env, log, session.timeout):
                result["error"] = f"post_run_command failed: {command}"
                return "failed", outcome
        if timed_out:
            return "timeout", outcome
        return ("ok" if outcome.ok else "failed"), outcome

    def _store_outcome(self, session: SessionPlan, outcome: HeadlessOutcome, sdir: Path, env: dict[str, str],
                       cwd: Path, result: dict[str, Any]) -> None:
        raw = outcome.raw
        suffix = session.adapter.raw_suffix
        if suffix == "json":
            text = json.dumps(raw, indent=2)
        elif suffix == "jsonl" and isinstance(raw, list):
            text = "".join(json.dumps(e) + "\n" for e in raw)
        else:
            text = str(outcome.extra.get("stdout", ""))
        (sdir / f"agent_result.{suffix}").write_text(text)
        transcript = session.adapter.transcript(outcome, env, cwd)
        if transcript is not None and transcript.exists():
            shutil.copyfile(transcript, sdir / f"transcript{transcript.suffix}")
        else:
            (sdir / "transcript.txt").write_text(
                f"## prompt\n{session.prompt}\n\n## {session.agent_spec}\n{outcome.result_text or ''}\n")
        result.update(conversation_id=outcome.conversation_id, turns=outcome.turns, cost_usd=outcome.cost_usd,
                      result_text=outcome.result_text, error=result["error"] or outcome.error)

    def _command(self, command: str, cwd: Path, env: dict[str, str], log: Path, timeout: float | None) -> bool:
        # Pre/post commands are shell lines the run file's author wrote for this purpose.
        rc, out, err, timed_out = self._spawn(["/bin/sh", "-c", command], None, cwd, env, timeout)
        with log.open("a") as fh:
            fh.write(f"$ {command}\n{out}{err}[exit {rc}{', timed out' if timed_out else ''}]\n")
        return rc == 0 and not timed_out

    def _spawn(self, argv: list[str], stdin: str | None, cwd: Path, env: dict[str, str],
               timeout: float | None) -> tuple[int, str, str, bool]:
        """Run one child in its own process group, so Ctrl-C reaches trails only and trails stops it."""
        if self._stopping.is_set():
            raise Interrupted(argv[0])
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, text=True, start_new_session=True,
                                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            return 127, "", f"{argv[0]}: {exc.strerror}", False
        with self._procs_lock:
            self._procs.add(proc)
        timed_out = False
        try:
            try:
                out, err = proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc)
                out, err = proc.communicate()
        finally:
            with self._procs_lock:
                self._procs.discard(proc)
        return proc.returncode, out, err, timed_out

    def _stop_all(self) -> None:
        self._stopping.set()
        with self._procs_lock:
            procs = list(self._procs)
        for proc in procs:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[str], grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


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
