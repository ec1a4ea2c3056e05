"""From a parsed run file to a plan: who runs what, from which files, continuing which conversation.

Every rule that spans fields lives here, checked before anything runs, each naming its line.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.agents.headless import CommandHeadless, HeadlessAdapter
from trails.core.errors import InvalidInput, RunFileError, TrailsError
from trails.core.userfiles import UnreadableFile, decode_text, expand_user, read_bounded
from trails.runs.spec import LocatedDoc, Resources, RunFile, SessionEntry, parse

# AgentLens's defaults, applied when a run file names no `agent` (its sessions then run Claude Code).
AGENTLENS_DEFAULTS: dict[str, Any] = {
    "max_turns": 50, "permission_mode": "bypassPermissions", "memory_file": "MEMORY.md", "memory_seed": "# Notes\n",
    "allowed_tools": ["Read", "Grep", "Glob", "Bash", "Write", "Edit"], "capture_api_requests": True,
    "capture_subagent_trajectories": True, "load_project_settings": False, "provider": "anthropic",
}
# Keys only Claude Code can take: named in the error when a session runs another agent.
CLAUDE_ONLY = ("system_prompt", "allowed_tools", "max_budget_usd", "agents", "load_project_settings", "provider",
               "base_url", "capture_api_requests", "cli_path")
PROMPT_SLOT = "{{prompt}}"

# Replicates of one session: each is a full agent run (and, with --parallel, a copy of work_dir).
MAX_COUNT = 100
# Agent runs in one run file (sessions x matrix cells x count): a matrix's cross product grows fast.
MAX_RUNS = 10_000
MAX_RUN_FILE_BYTES = 1 << 20  # a run file; long prompts go in prompt files
MAX_PROMPT_BYTES = 16 << 20  # a prompt_file


@dataclass
class SessionPlan:
    index: int
    count: int
    prompt: str
    agent_spec: str
    argv: list[str]
    adapter: HeadlessAdapter
    start_from: int | None  # session whose end state the files start from (None: the baseline)
    conversation_from: int | None  # session whose conversation this one continues (None: fresh)
    fork: bool  # branch that conversation rather than append to it
    model: str | None = None
    max_turns: int | None = None
    timeout: float | None = None
    permission_mode: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    pre_run_commands: list[str] = field(default_factory=list)
    post_run_commands: list[str] = field(default_factory=list)
    system_prompt: str | None = None
    cell: str = ""  # the matrix cell's label part ("" without a matrix)
    cell_values: dict[str, str] = field(default_factory=dict)
    claude_args: list[str] = field(default_factory=list)  # AgentLens options as Claude Code flags
    resources: Resources | None = None

    def label(self, replicate: int | None = None) -> str:
        return session_label(self.index, replicate if self.count > 1 else None, self.cell)

    def labels(self) -> list[str]:
        return [self.label(r) for r in range(1, self.count + 1)]

    @property
    def primary_label(self) -> str:
        """The replicate later sessions start from and continue: replicate 1."""
        return self.label(1)


def session_label(index: int, replicate: int | None = None, cell: str = "") -> str:
    return f"session_{index:02d}" + (f"_{cell}" if cell else "") + (f"_r{replicate:02d}" if replicate else "")


@dataclass
class RunMeta:
    """What a run file says about the run itself (AgentLens's keys), and options of the whole run."""

    agentlens: bool = False  # no `agent`: Claude Code with AgentLens's defaults and work-dir hint
    hypothesis: str | None = None
    tags: list[str] = field(default_factory=list)
    run_name: str | None = None
    repo_name: str | None = None
    provider: str | None = None
    base_url: str | None = None
    capture_api_requests: bool = False
    capture_explicit: bool = False  # the file asked for it (an error where it cannot be done)
    capture_subagent_trajectories: bool = True
    revert_work_dir: bool = False
    ray_address: str | None = None
    ray_max_retries: int = 3
    matrix_axes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"hypothesis": self.hypothesis, "tags": self.tags, "run_name": self.run_name,
                "repo_name": self.repo_name, "provider": self.provider, "agentlens_defaults": self.agentlens,
                "capture_api_requests": self.capture_api_requests, "revert_work_dir": self.revert_work_dir}


@dataclass
class RunPlan:
    source: Path
    text: str
    base_dir: Path  # relative paths in the run file are taken from here
    work_dir: Path
    session_mode: str
    memory_file: str | None
    memory_seed: str | None
    sessions: list[SessionPlan]
    meta: RunMeta = field(default_factory=RunMeta)

    def session(self, index: int, cell: str = "") -> SessionPlan:
        return next(s for s in self.sessions if s.index == index and s.cell == cell)

    def start_tag(self, s: SessionPlan) -> str:
        return "baseline" if s.start_from is None else self.session(s.start_from, s.cell).primary_label

    def conversation_tag(self, s: SessionPlan) -> str | None:
        return None if s.conversation_from is None else self.session(s.conversation_from, s.cell).primary_label

    def cells(self) -> list[str]:
        return list(dict.fromkeys(s.cell for s in self.sessions))

    def to_dict(self) -> dict[str, Any]:
        out = []
        for s in self.sessions:
            conv = None
            if s.conversation_from is not None:
                conv = {"from": self.conversation_tag(s), "fork": s.fork}
            out.append({"index": s.index, "labels": s.labels(), "start_from": self.start_tag(s),
                        "conversation": conv, "agent": s.agent_spec, "argv": [*s.argv, *s.claude_args],
                        "adapter": s.adapter.name, "prompt": s.prompt, "model": s.model, "cell": s.cell or None,
                        "cell_values": s.cell_values or None})
        return {"run_file": str(self.source), "work_dir": str(self.work_dir), "session_mode": self.session_mode,
                "meta": self.meta.to_dict(), "sessions": out}


def load_plan(source: Path, *, text: str | None = None, base_dir: Path | None = None) -> RunPlan:
    """Read and check a run file; raises RunFileError naming file:line for the first problems found."""
    source = source.resolve() if text is None else source
    if text is None:
        try:
            text = decode_text(read_bounded(source, MAX_RUN_FILE_BYTES))
        except FileNotFoundError as exc:
            raise RunFileError(f"cannot read run file {source}: {exc.strerror}") from None
        except UnreadableFile as exc:
            raise RunFileError(f"cannot read run file {source}: {exc.why}",
                               hint="long prompts belong in prompt_file" if "larger" in exc.why else None) from None
    run, doc = parse(source, text)
    return _Checker(run, doc, (base_dir or source.parent).resolve(), text).plan()


def _inside(directory: Path, relative: str) -> bool:
    """Whether `relative`, taken from `directory`, stays inside it once `..` and symlinks are resolved."""
    given = Path(relative)
    return not given.is_absolute() and ".." not in given.parts and \
        (directory / given).resolve().is_relative_to(directory)


class _Checker:
    def __init__(self, run: RunFile, doc: LocatedDoc, base_dir: Path, text: str) -> None:
        self.run, self.doc, self.base_dir, self.text = run, doc, base_dir, text
        self.problems: list[tuple[int, str]] = []
        self.agentlens = False
        self._config: Any = None

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append((self.doc.line(path), self.doc.error(path, message)))

    def raise_if_problems(self) -> None:
        if self.problems:
            unique = list(dict.fromkeys(self.problems))
            raise RunFileError("\n".join(msg for _, msg in sorted(unique, key=lambda p: p[0])))

    def plan(self) -> RunPlan:
        run = self.run
        try:
            work_dir = (self.base_dir / expand_user(run.work_dir)).resolve()
        except InvalidInput as exc:
            raise RunFileError(self.doc.error(("work_dir",), f"work_dir {exc.message}"), hint=exc.hint) from None
        if not work_dir.is_dir():
            self.fail(("work_dir",), f"work_dir {run.work_dir!r} is not a directory ({work_dir})")
        if run.memory_file is not None and not _inside(work_dir, run.memory_file):
            self.fail(("memory_file",), "memory_file must be a path inside work_dir")
        if not run.sessions:
            self.fail(("sessions",), "sessions is empty: a run needs at least one session")
        self.agentlens = run.agent is None and not (run.matrix and run.matrix.agent)
        self._check_indexes()
        self.raise_if_problems()
        runs = sum(entry.count for entry in run.sessions)
        if runs > MAX_RUNS:
            self.fail(("sessions",), f"the sessions make {runs:,} agent runs (counting each count), more than "
                                     f"{MAX_RUNS:,}: split them into several run files")
            self.raise_if_problems()
        sessions: list[SessionPlan] = []
        for cell, values in self._cells():
            line = [self._session(i, entry, work_dir, cell, values) for i, entry in enumerate(run.sessions)]
            self._check_continuations(line)
            sessions += line
        self.raise_if_problems()
        meta = self._meta()
        self.raise_if_problems()
        memory_file = run.memory_file if run.memory_file is not None else self.default("memory_file")
        memory_seed = run.memory_seed if run.memory_seed is not None else self.default("memory_seed")
        return RunPlan(self.doc.source, self.text, self.base_dir, work_dir, run.session_mode, memory_file,
                       memory_seed, sessions, meta)

    def default(self, name: str) -> Any:
        return AGENTLENS_DEFAULTS.get(name) if self.agentlens else None

    def _cells(self) -> list[tuple[str, dict[str, str]]]:
        """The matrix's cross product as (label part, {axis: value}); one unnamed cell without a matrix."""
        matrix = self.run.matrix
        if matrix is None:
            return [("", {})]
        axes: list[tuple[str, list[tuple[str, str]]]] = []
        for axis in ("agent", "model", "prompt"):
            values = getattr(matrix, axis)
            if values is None:
                continue
            if not values:
                self.fail(("matrix", axis), f"matrix.{axis} is empty")
                continue
            pairs = list(values.items()) if isinstance(values, dict) else [(_short(axis, v), v) for v in values]
            names = [_slug(n) for n, _ in pairs]
            if len(set(names)) != len(names):
                self.fail(("matrix", axis), f"matrix.{axis} has two values with the same label ({', '.join(names)}); "
                                            "give them names: a mapping of label: value")
            axes.append((axis, [(_slug(n), v) for n, v in pairs]))
        if not axes:
            self.fail(("matrix",), "matrix needs at least one of agent, model or prompt")
            return [("", {})]
        runs = math.prod(len(pairs) for _, pairs in axes) * sum(entry.count for entry in self.run.sessions)
        if runs > MAX_RUNS:
            # Counted before the cross product is made: 100 values on each axis are a million cells.
            self.fail(("matrix",), f"the matrix makes {runs:,} agent runs (cells x sessions x count), more than "
                                   f"{MAX_RUNS:,}: split it into several run files")
            return [("", {})]
        cells = []
        for combo in itertools.product(*(pairs for _, pairs in axes)):
            label = "_".join(name for name, _ in combo)
            values = {axis: value for (axis, _), (_, value) in zip(axes, combo, strict=True)}
            values.update({f"{axis}_label": name for (axis, _), (name, _) in zip(axes, combo, strict=True)})
            cells.append((label, values))
        return cells

    def _meta(self) -> RunMeta:
        run = self.run

        def pick(name: str) -> Any:
            value = getattr(run, name)
            return value if value is not None else self.default(name)

        capture = bool(pick("capture_api_requests"))
        provider = pick("provider")
        if capture and provider in ("bedrock", "vertex"):
            if run.capture_api_requests:
                self.fail(("capture_api_requests",), f"capture_api_requests cannot be honoured with provider "
                                                     f"{provider}: its requests are signed for the cloud endpoint")
            capture = False
        axes = [a for a in ("agent", "model", "prompt") if run.matrix and getattr(run.matrix, a) is not None]
        return RunMeta(agentlens=self.agentlens, hypothesis=run.hypothesis, tags=list(run.tags or []),
                       run_name=run.run_name, repo_name=run.repo_name, provider=provider, base_url=run.base_url,
                       capture_api_requests=capture, capture_explicit=bool(run.capture_api_requests),
                       capture_subagent_trajectories=bool(pick("capture_subagent_trajectories")),
                       revert_work_dir=run.revert_work_dir, ray_address=run.ray.address if run.ray else None,
                       ray_max_retries=run.ray.max_retries if run.ray else 3, matrix_axes=axes)

    def _check_indexes(self) -> None:
        for pos, entry in enumerate(self.run.sessions):
            where = ("sessions", pos)
            if entry.session_index != pos + 1:
                self.fail((*where, "session_index"),
                          f"session_index {entry.session_index} out of order: session indexes must be 1..N "
                          f"without gaps, in order (expected {pos + 1} here)")
            if entry.count < 1:
                self.fail((*where, "count"), f"count must be at least 1 (got {entry.count})")
            elif entry.count > MAX_COUNT:
                self.fail((*where, "count"), f"count must be at most {MAX_COUNT} (got {entry.count})")
            if entry.fork_from is not None and not 1 <= entry.fork_from < entry.session_index:
                self.fail((*where, "fork_from"),
                          f"fork_from must name a lower session_index (got {entry.fork_from} "
                          f"on session {entry.session_index})")
            variants = self.run.matrix is not None and self.run.matrix.prompt is not None
            if (entry.prompt is not None and entry.prompt_file is not None) or (
                    entry.prompt is None and entry.prompt_file is None and not variants):
                self.fail(where, f"session {entry.session_index} needs exactly one of prompt or prompt_file")

    def _session(self, pos: int, entry: SessionEntry, work_dir: Path, cell: str = "",
                 values: dict[str, str] | None = None) -> SessionPlan:
        from trails.core import agent_spec
        from trails.core import config as config_mod
        from trails.infra import git as gitinfra

        run, where = self.run, ("sessions", pos)
        values = values or {}
        prompt = entry.prompt or ""
        if entry.prompt_file is not None:
            prompt = self._read_prompt_file(entry.prompt_file, where)
        if "prompt" in values:
            prompt = prompt.replace(PROMPT_SLOT, values["prompt"]) if prompt else values["prompt"]
        spec = values.get("agent") or entry.agent or run.agent or (run.cli_path or "claude")
        agent_path = ("matrix", "agent") if "agent" in values else (
            (*where, "agent") if entry.agent else ("agent",))
        argv: list[str] = []
        adapter: HeadlessAdapter = CommandHeadless(run.prompt_input)
        try:
            if self._config is None and work_dir.is_dir():
                self._config = config_mod.load(gitinfra.find_toplevel(work_dir))
            resolved = agent_spec.resolve(spec, self._config)
        except TrailsError as exc:
            self.fail(agent_path, exc.message)
        else:
            argv = resolved.argv
            adapter = resolved.profile.headless or adapter

        def pick(name: str) -> Any:
            value = getattr(entry, name, None)
            if value is None:
                value = getattr(run, name)
            return value if value is not None else self.default(name)

        if adapter.name != "claude":
            for key in CLAUDE_ONLY:
                if getattr(run, key) is not None or (key == "system_prompt" and entry.system_prompt is not None):
                    at: tuple[str | int, ...] = (*where, key) if getattr(entry, key, None) is not None else (key,)
                    self.fail(at, f"{key} is a Claude Code option, but session {entry.session_index} runs "
                                    f"agent {spec!r}")

        mode = run.session_mode
        index = entry.session_index
        start_from: int | None
        conv: int | None
        if entry.fork_from is not None:
            start_from, conv, fork = entry.fork_from, entry.fork_from, True
        elif mode == "forked" and index > 1:
            start_from, conv, fork = 1, 1, True
        elif mode == "chained" and index > 1:
            start_from, conv, fork = index - 1, index - 1, False
        else:
            start_from, conv, fork = (index - 1 if index > 1 else None), None, False
        if conv is not None and (entry.count > 1 or adapter.can_fork):
            # Branching leaves the source conversation as it was, so replicates cannot append to one
            # conversation at once and an interrupted session can be retried from a clean history.
            fork = True
        from trails.runs.claude_options import claude_args

        return SessionPlan(
            index=index, count=entry.count, prompt=prompt, agent_spec=spec or "", argv=argv, adapter=adapter,
            start_from=start_from, conversation_from=conv, fork=fork, model=values.get("model") or pick("model"),
            max_turns=pick("max_turns"), timeout=pick("timeout"), permission_mode=pick("permission_mode"),
            env={**(run.env or {}), **(entry.env or {})},
            pre_run_commands=list(pick("pre_run_commands") or []),
            post_run_commands=list(pick("post_run_commands") or []),
            system_prompt=pick("system_prompt"), cell=cell, cell_values=values,
            claude_args=claude_args(
                allowed_tools=pick("allowed_tools"), agents=run.agents, max_budget_usd=run.max_budget_usd,
                load_project_settings=pick("load_project_settings")) if adapter.name == "claude" else [],
            resources=pick("resources"),
        )

    def _read_prompt_file(self, given: str, where: tuple[str | int, ...]) -> str:
        """The prompt in `given`, a file inside the run file's directory; "" with a problem noted otherwise."""
        at = (*where, "prompt_file")
        try:
            path = (self.base_dir / expand_user(given)).resolve()
        except InvalidInput as exc:
            self.fail(at, f"prompt_file {exc.message}")
            return ""
        if not path.is_relative_to(self.base_dir):
            # A prompt goes to the agent and its model provider: a run file must not pull in
            # whatever file its author names (~/.ssh/id_rsa, /etc/passwd).
            self.fail(at, f"prompt_file {given!r} is outside the run file's directory {self.base_dir} "
                          f"(it resolves to {path})")
            return ""
        try:
            return decode_text(read_bounded(path, MAX_PROMPT_BYTES))
        except (OSError, UnreadableFile) as exc:
            why = exc.why if isinstance(exc, UnreadableFile) else exc.strerror
            self.fail(at, f"cannot read prompt_file {given!r}: {why}")
            return ""

    def _check_continuations(self, sessions: list[SessionPlan]) -> None:
        for pos, s in enumerate(sessions):
            if s.conversation_from is None:
                continue
            entry = self.run.sessions[pos]
            path = ("sessions", pos, "fork_from") if entry.fork_from is not None else ("session_mode",)
            why = (f"fork_from: {entry.fork_from}" if entry.fork_from is not None
                   else f"session_mode {self.run.session_mode}")
            source = sessions[s.conversation_from - 1]
            if not s.adapter.can_resume:
                self.fail(path, f"{why} continues a conversation, but agent {s.agent_spec!r} cannot resume one "
                                f"(session {s.index}); use session_mode isolated or an agent such as claude")
            elif s.fork and not s.adapter.can_fork:
                self.fail(path, f"{why} branches a conversation (session {s.index}), but agent "
                                f"{s.agent_spec!r} cannot fork one")
            elif source.adapter.name != s.adapter.name:
                self.fail(("sessions", pos), f"session {s.index} continues session {source.index}'s conversation "
                                             f"but uses a different agent ({s.agent_spec!r} vs {source.agent_spec!r})")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-") or "x"


def _short(axis: str, value: str) -> str:
    """A readable label for a listed matrix value: an agent's program name, a model's name."""
    if axis == "agent":
        first = value.split()[0] if value.split() else value
        return Path(first).name
    return value
