"""From a parsed run file to a plan: who runs what, from which files, continuing which conversation.

Every rule that spans fields lives here, checked before anything runs, each naming its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.agents.headless import CommandHeadless, HeadlessAdapter
from trails.core.errors import RunFileError, TrailsError
from trails.runs.spec import LocatedDoc, RunFile, SessionEntry, parse

# Replicates of one session: each is a full agent run (and, with --parallel, a copy of work_dir).
MAX_COUNT = 100


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

    def label(self, replicate: int | None = None) -> str:
        return session_label(self.index, replicate if self.count > 1 else None)

    def labels(self) -> list[str]:
        return [self.label(r) for r in range(1, self.count + 1)]

    @property
    def primary_label(self) -> str:
        """The replicate later sessions start from and continue: replicate 1."""
        return self.label(1)


def session_label(index: int, replicate: int | None = None) -> str:
    return f"session_{index:02d}" + (f"_r{replicate:02d}" if replicate else "")


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

    def session(self, index: int) -> SessionPlan:
        return self.sessions[index - 1]

    def start_tag(self, s: SessionPlan) -> str:
        return "baseline" if s.start_from is None else self.session(s.start_from).primary_label

    def to_dict(self) -> dict[str, Any]:
        out = []
        for s in self.sessions:
            conv = None
            if s.conversation_from is not None:
                conv = {"from": self.session(s.conversation_from).primary_label, "fork": s.fork}
            out.append({"index": s.index, "labels": s.labels(), "start_from": self.start_tag(s),
                        "conversation": conv, "agent": s.agent_spec, "argv": s.argv, "adapter": s.adapter.name,
                        "prompt": s.prompt})
        return {"run_file": str(self.source), "work_dir": str(self.work_dir), "session_mode": self.session_mode,
                "sessions": out}


def load_plan(source: Path, *, text: str | None = None, base_dir: Path | None = None) -> RunPlan:
    """Read and check a run file; raises RunFileError naming file:line for the first problems found."""
    source = source.resolve() if text is None else source
    if text is None:
        try:
            text = source.read_text()
        except OSError as exc:
            raise RunFileError(f"cannot read run file {source}: {exc.strerror}") from None
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

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append((self.doc.line(path), self.doc.error(path, message)))

    def raise_if_problems(self) -> None:
        if self.problems:
            raise RunFileError("\n".join(msg for _, msg in sorted(self.problems, key=lambda p: p[0])))

    def plan(self) -> RunPlan:
        run = self.run
        work_dir = (self.base_dir / Path(run.work_dir).expanduser()).resolve()
        if not work_dir.is_dir():
            self.fail(("work_dir",), f"work_dir {run.work_dir!r} is not a directory ({work_dir})")
        if run.memory_file is not None and not _inside(work_dir, run.memory_file):
            self.fail(("memory_file",), "memory_file must be a path inside work_dir")
        if not run.sessions:
            self.fail(("sessions",), "sessions is empty: a run needs at least one session")
        self._check_indexes()
        self.raise_if_problems()
        sessions = [self._session(i, entry, work_dir) for i, entry in enumerate(run.sessions)]
        self.raise_if_problems()
        self._check_continuations(sessions)
        self.raise_if_problems()
        return RunPlan(self.doc.source, self.text, self.base_dir, work_dir, run.session_mode, run.memory_file,
                       run.memory_seed, sessions)

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
            if (entry.prompt is None) == (entry.prompt_file is None):
                self.fail(where, f"session {entry.session_index} needs exactly one of prompt or prompt_file")

    def _session(self, pos: int, entry: SessionEntry, work_dir: Path) -> SessionPlan:
        from trails.agents import registry
        from trails.core import config as config_mod
        from trails.infra import git as gitinfra

        run, where = self.run, ("sessions", pos)
        prompt = entry.prompt or ""
        if entry.prompt_file is not None:
            path = (self.base_dir / Path(entry.prompt_file).expanduser()).resolve()
            if not path.is_relative_to(self.base_dir):
                # A prompt goes to the agent and its model provider: a run file must not pull in
                # whatever file its author names (~/.ssh/id_rsa, /etc/passwd).
                self.fail((*where, "prompt_file"), f"prompt_file {entry.prompt_file!r} is outside the run file's "
                                                   f"directory {self.base_dir} (it resolves to {path})")
            else:
                try:
                    prompt = path.read_text()
                except OSError as exc:
                    self.fail((*where, "prompt_file"),
                              f"cannot read prompt_file {entry.prompt_file!r}: {exc.strerror}")
        spec = entry.agent or run.agent
        agent_path = (*where, "agent") if entry.agent else ("agent",)
        argv: list[str] = []
        adapter: HeadlessAdapter = CommandHeadless(run.prompt_input)
        if not spec:
            self.fail(where, f"session {entry.session_index} has no agent: set agent at the top or on the session")
        else:
            try:
                config = config_mod.load(gitinfra.find_toplevel(work_dir)) if work_dir.is_dir() else None
                resolved = registry.resolve(spec, config)
            except TrailsError as exc:
                self.fail(agent_path, exc.message)
            else:
                argv = resolved.argv
                adapter = resolved.profile.headless or adapter

        def pick(name: str) -> Any:
            value = getattr(entry, name)
            return value if value is not None else getattr(run, name)

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
        return SessionPlan(
            index=index, count=entry.count, prompt=prompt, agent_spec=spec or "", argv=argv, adapter=adapter,
            start_from=start_from, conversation_from=conv, fork=fork, model=pick("model"),
            max_turns=pick("max_turns"), timeout=pick("timeout"), permission_mode=pick("permission_mode"),
            env={**(run.env or {}), **(entry.env or {})},
            pre_run_commands=list(pick("pre_run_commands") or []),
            post_run_commands=list(pick("post_run_commands") or []),
        )

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
