"""One session, wherever it runs: pre-commands, the agent (behind an optional recording proxy), post-commands,
and what it leaves in the session directory (raw result, transcript, trajectory.json).

The same `run_job` serves the local executor and a Ray task on another node; `SessionJob` holds
nothing that is tied to the driver's process, so it pickles.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest

# Variables that describe the machine rather than the run: never shipped to another node.
_HOST_VARS = ("PATH", "HOME", "PWD", "OLDPWD", "SHELL", "SHLVL", "USER", "LOGNAME", "HOSTNAME", "TMPDIR", "DISPLAY",
              "VIRTUAL_ENV", "_", "TERM", "COLUMNS", "LINES", "MAIL", "LANG")
_HOST_PREFIXES = ("PYTHON", "LD_", "TMUX", "SSH_", "XDG_", "LC_", "RAY_", "CONDA", "PYENV", "VSCODE", "PYTEST_")


class Interrupted(Exception):
    """A session stopped because the run is stopping; it leaves no result behind."""


@dataclass
class SessionJob:
    label: str
    prompt: str
    argv: list[str]
    adapter: HeadlessAdapter
    env: dict[str, str]  # laid over the environment of wherever the job runs
    model: str | None = None
    max_turns: int | None = None
    permission_mode: str | None = None
    timeout: float | None = None
    resume_id: str | None = None
    fork: bool = False
    resumed_from: str | None = None
    pre_run_commands: list[str] = field(default_factory=list)
    post_run_commands: list[str] = field(default_factory=list)
    claude_args: list[str] = field(default_factory=list)
    system_prompt: str | None = None
    work_dir_hint: bool = False  # AgentLens's note naming the work dir (built where the job runs)
    memory_file: str | None = None
    capture_upstream: str | None = None  # base URL to record requests to (None: no capture)
    capture_subagents: bool = True
    agent_name: str = ""  # for the trajectory
    conversation: bytes | None = None  # the conversation this one continues (Claude transcript), for other nodes


def shippable_env(environ: dict[str, str]) -> dict[str, str]:
    """The driver's environment minus what belongs to its machine (so a node keeps its own PATH, HOME, ...)."""
    return {k: v for k, v in environ.items() if k not in _HOST_VARS and not k.startswith(_HOST_PREFIXES)}


class ProcessGroup:
    """The children of one run: each in its own process group, so Ctrl-C reaches trails only and trails stops it.

    With `record`, each running child is also noted there (a file named by its pid, holding its
    start time), so that after trails itself is killed the next run can stop what it left running
    (`reap`) before it touches the files those children were writing.
    """

    def __init__(self, record: Path | None = None) -> None:
        self.stopping = threading.Event()
        self._procs: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self.record = record

    def spawn(self, argv: list[str], stdin: str | None, cwd: Path, env: dict[str, str],
              timeout: float | None) -> tuple[int, str, str, bool]:
        if self.stopping.is_set():
            raise Interrupted(argv[0])
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, text=True, start_new_session=True,
                                    stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            return 127, "", f"{argv[0]}: {exc.strerror}", False
        with self._lock:
            self._procs.add(proc)
        note = self._note(proc.pid)
        timed_out = False
        try:
            try:
                out, err = proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                kill_group(proc)
                out, err = proc.communicate()
        finally:
            with self._lock:
                self._procs.discard(proc)
            if note is not None:
                note.unlink(missing_ok=True)
        return proc.returncode, out, err, timed_out

    def _note(self, pid: int) -> Path | None:
        started = process_start(pid)
        if self.record is None or started is None:
            return None
        self.record.mkdir(parents=True, exist_ok=True)
        note = self.record / str(pid)
        note.write_text(started)
        return note

    def stop_all(self) -> None:
        self.stopping.set()
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_group(proc)


def process_start(pid: int) -> str | None:
    """When the process started (clock ticks since boot, from /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the command name before it may hold spaces


def reap(record: Path, grace: float = 5.0) -> list[int]:
    """Stop the process groups noted in `record` by a ProcessGroup whose owner died; returns their pids.

    A note names a group leader and its start time. The leader alive with another start time is a
    reused pid (its group, ours, is gone then: Linux keeps a group's id while any member lives) and
    is left alone; a leader gone leaves its group's members, which are stopped too.
    """
    import contextlib
    import time

    stopped = []
    for note in sorted(record.glob("*")) if record.is_dir() and Path("/proc/self/stat").exists() else []:
        started = process_start(int(note.name)) if note.name.isdigit() else "?"
        if (started is None or started == note.read_text().strip()) and _group_alive(pid := int(note.name)):
            stopped.append(pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)
                deadline = time.monotonic() + grace
                while _group_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if not _group_alive(pid):
                    break
        note.unlink(missing_ok=True)
    return stopped


def _group_alive(pgid: int) -> bool:
    """Whether a process other than a zombie is in the group (killpg alone counts unreaped zombies)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def kill_group(proc: subprocess.Popen[str], grace: float = 5.0) -> None:
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


def run_job(job: SessionJob, cwd: Path, sdir: Path, procs: ProcessGroup) -> dict[str, Any]:
    """Run the job in `cwd`, writing its files into `sdir`; returns the result fields it decided."""
    from trails.runs.claude_options import system_prompt_args, work_dir_hint

    env = dict(os.environ)
    env.update(job.env)
    (sdir / "prompt.txt").write_text(job.prompt)
    fields: dict[str, Any] = {"resumed_from": job.resumed_from, "forked": job.fork if job.resumed_from else False,
                              "conversation_id": None, "turns": None, "cost_usd": None, "exit_code": None,
                              "error": None}
    log = sdir / "commands.log"
    for command in job.pre_run_commands:
        if not _command(procs, command, cwd, env, log, job.timeout):
            fields.update(status="failed", error=f"pre_run_command failed: {command}")
            return fields
    if job.conversation is not None and job.resume_id and job.adapter.name == "claude":
        _seed_claude_conversation(job.resume_id, job.conversation, env, cwd)
    request = HeadlessRequest(prompt=job.prompt, model=job.model, max_turns=job.max_turns,
                              permission_mode=job.permission_mode, resume_id=job.resume_id, fork=job.fork)
    invocation = job.adapter.invocation(job.argv, request)
    argv = [*invocation.argv, *job.claude_args]
    if job.adapter.name == "claude":
        hint = work_dir_hint(cwd, job.memory_file) if job.work_dir_hint else None
        argv += system_prompt_args(job.system_prompt, hint=hint)
    fields["argv"] = argv
    proxy = None
    if job.capture_upstream:
        from trails.runs.capture import CaptureProxy

        proxy = CaptureProxy(job.capture_upstream, sdir / "api_captures.jsonl")
        env["ANTHROPIC_BASE_URL"] = proxy.start()
    try:
        rc, stdout, stderr, timed_out = procs.spawn(argv, invocation.stdin, cwd, env, job.timeout)
    finally:
        if proxy is not None:
            proxy.stop()
    (sdir / "agent_stderr.txt").write_text(stderr)
    outcome = job.adapter.parse(stdout, stderr, rc)
    outcome.extra["stdout"] = stdout
    fields["exit_code"] = rc
    if timed_out:
        outcome.ok, outcome.error = False, f"timed out after {job.timeout}s"
    if procs.stopping.is_set():
        raise Interrupted(job.label)
    _store_outcome(job, outcome, sdir, env, cwd, fields)
    status = "timeout" if timed_out else ("ok" if outcome.ok else "failed")
    for command in job.post_run_commands:
        if not _command(procs, command, cwd, env, log, job.timeout):
            fields["error"] = f"post_run_command failed: {command}"
            status = "failed"
            break
    fields["status"] = status
    return fields


def _store_outcome(job: SessionJob, outcome: HeadlessOutcome, sdir: Path, env: dict[str, str], cwd: Path,
                   fields: dict[str, Any]) -> None:
    from trails.runs.atif import write_trajectories

    raw = outcome.raw
    suffix = job.adapter.raw_suffix
    if suffix == "json":
        text = json.dumps(raw, indent=2)
    elif suffix == "jsonl" and isinstance(raw, list):
        text = "".join(json.dumps(e) + "\n" for e in raw)
    else:
        text = str(outcome.extra.get("stdout", ""))
    (sdir / f"agent_result.{suffix}").write_text(text)
    transcript = job.adapter.transcript(outcome, env, cwd)
    copied: Path | None = None
    if transcript is not None and transcript.exists():
        copied = sdir / f"transcript{transcript.suffix}"
        shutil.copyfile(transcript, copied)
        subagents = transcript.with_suffix("") / "subagents"
        if subagents.is_dir():  # Claude Code keeps a subagent's conversation beside the parent's
            shutil.copytree(subagents, sdir / "subagents", dirs_exist_ok=True)
    else:
        (sdir / "transcript.txt").write_text(
            f"## prompt\n{job.prompt}\n\n## {job.agent_name}\n{outcome.result_text or ''}\n")
    fields.update(conversation_id=outcome.conversation_id, turns=outcome.turns, cost_usd=outcome.cost_usd,
                  result_text=outcome.result_text, error=fields["error"] or outcome.error)
    write_trajectories(sdir, job=job, outcome=outcome, transcript=copied if copied and copied.suffix == ".jsonl"
                       else None)


def _seed_claude_conversation(conversation_id: str, content: bytes, env: dict[str, str], cwd: Path) -> None:
    """Put the continued conversation where this node's Claude Code looks for it, unless it has it already."""
    from trails.agents.claude import project_dir_name

    config = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else Path.home() / ".claude"
    if next((config / "projects").glob(f"*/{conversation_id}.jsonl"), None) is not None:
        return
    target = config / "projects" / project_dir_name(str(cwd)) / f"{conversation_id}.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def _command(procs: ProcessGroup, command: str, cwd: Path, env: dict[str, str], log: Path,
             timeout: float | None) -> bool:
    # Pre/post commands are shell lines the run file's author wrote for this purpose.
    rc, out, err, timed_out = procs.spawn(["/bin/sh", "-c", command], None, cwd, env, timeout)
    with log.open("a") as fh:
        fh.write(f"$ {command}\n{out}{err}[exit {rc}{', timed out' if timed_out else ''}]\n")
    return rc == 0 and not timed_out
