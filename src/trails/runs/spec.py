"""Run files: the YAML schema, and validation whose every message names the line of the problem."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from trails.core.errors import RunFileError

PosInt = Annotated[int, msgspec.Meta(ge=1)]
# Upper bounds keep numbers finite (YAML has .inf) and within what the system calls they reach take:
# a timeout of .inf or 1e30 seconds made subprocess's select() overflow half way through a run.
Seconds = Annotated[float, msgspec.Meta(gt=0, le=30 * 24 * 3600)]
Dollars = Annotated[float, msgspec.Meta(gt=0, le=1e6)]
Amount = Annotated[float, msgspec.Meta(ge=0, le=1e6)]  # of a Ray resource
SessionMode = Literal["isolated", "chained", "forked"]
Provider = Literal["anthropic", "openrouter", "bedrock", "vertex"]


class SessionSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Settings a run file gives once at the top and any session may override."""

    agent: str | None = None
    model: str | None = None
    max_turns: PosInt | None = None
    timeout: Seconds | None = None
    permission_mode: str | None = None
    env: dict[str, str] | None = None
    pre_run_commands: list[str] | None = None  # shell lines run in the work dir before the agent
    post_run_commands: list[str] | None = None  # ... and after it, before the snapshot
    system_prompt: str | None = None  # AgentLens: Claude Code's system prompt for the session
    resources: Resources | None = None  # what a session asks of a Ray node


class Resources(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Per-session Ray resources: CPUs, memory (bytes, or a number with K/M/G), custom ones."""

    num_cpus: Amount | None = None
    num_gpus: Amount | None = None
    memory: int | str | None = None
    custom: dict[str, Amount] | None = None  # e.g. {claude: 1}


class Subagent(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """An AgentLens subagent: passed to Claude Code's --agents."""

    name: str
    description: str
    prompt: str
    tools: list[str] | None = None  # None: inherit every tool
    model: Literal["sonnet", "opus", "haiku", "inherit"] | None = None


class Matrix(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """Axes whose cross product runs every session once per cell; a mapping names its values."""

    agent: list[str] | dict[str, str] | None = None
    model: list[str] | dict[str, str] | None = None
    prompt: dict[str, str] | None = None  # named prompt variants


class RayOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    address: str = "auto"
    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 3


class SessionEntry(SessionSettings, kw_only=True):
    session_index: int
    prompt: str | None = None
    prompt_file: str | None = None
    fork_from: int | None = None
    count: int = 1


class RunFile(SessionSettings, kw_only=True):
    work_dir: str
    session_mode: SessionMode = "isolated"
    memory_file: str | None = None
    memory_seed: str | None = None  # content of memory_file when it does not exist yet
    prompt_input: Literal["argument", "stdin"] = "argument"  # for plain commands
    sessions: list[SessionEntry]
    # AgentLens's keys (docs/guide/configuration.md), with its meaning.
    provider: Provider | None = None
    base_url: str | None = None
    cli_path: str | None = None  # the claude executable (AgentLens); trails' `agent` is the general form
    hypothesis: str | None = None
    repo_name: str | None = None
    run_name: str | None = None
    tags: list[str] | None = None
    allowed_tools: list[str] | None = None
    max_budget_usd: Dollars | None = None
    agents: list[Subagent] | None = None
    capture_subagent_trajectories: bool | None = None
    capture_api_requests: bool | None = None
    revert_work_dir: bool = False
    load_project_settings: bool | None = None
    engine: Literal["claude_code"] | None = None  # AgentLens's engine switch; trails runs others by `agent`
    matrix: Matrix | None = None
    ray: RayOptions | None = None


# AgentLens keys (or keys of its older/newer versions) that trails cannot honour, and why.
UNSUPPORTED_KEYS = {
    "judge": "AgentLens's auto-judge is not part of trails; run a judge over trajectory.json afterwards",
    "tracked_files": "trails snapshots the whole work directory (shadow git); use memory_file/memory_seed",
    "repo_path": "this older AgentLens key is called work_dir now",
    "sandbox_mode": "a Codex engine option of AgentLens; give agent: codex and its own flags instead",
    "claude_thinking": "extended-thinking control is not passed to Claude Code by trails",
    "work_dir_hint": "trails always tells Claude Code its working directory",
    "run_as_user": "trails runs agents as the invoking user",
    "provider_order": "OpenRouter provider routing is not passed through by trails",
}
UNSUPPORTED_PREFIXES = ("codex_",)


Path_ = tuple[str | int, ...]
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class LocatedDoc:
    """A parsed YAML document plus the line of every mapping key and list item."""

    def __init__(self, source: Path, text: str) -> None:
        import yaml

        from trails.runs.yamlload import LimitExceeded, compose_and_load

        self.source = source
        self.lines: dict[Path_, int] = {}
        def walk(root: yaml.Node) -> None:
            self.lines[()] = root.start_mark.line + 1
            self._walk(root, ())

        try:
            node, self.data = compose_and_load(text, walk)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(exc, "problem", None) or str(exc)
            raise RunFileError(f"{source}:{line}: not valid YAML: {problem}") from None
        except LimitExceeded as exc:
            raise RunFileError(f"{source}:{exc.line}: refused: {exc.message}") from None
        if node is None:
            raise RunFileError(f"{source}:1: the run file is empty")

    def _walk(self, node: Any, path: Path_) -> None:
        import yaml

        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                line = key.start_mark.line + 1
                if not isinstance(key, yaml.ScalarNode):
                    raise RunFileError(f"{self.source}:{line}: a key must be a plain name, not a list or mapping")
                name = str(key.value)
                if name in seen:
                    raise RunFileError(f"{self.source}:{line}: duplicate key {name!r}")
                seen.add(name)
                self.lines[(*path, name)] = line
                self._walk(key, (*path, name))
                self._walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.lines[(*path, i)] = item.start_mark.line + 1
                self._walk(item, (*path, i))
        elif bad := _NOT_TEXT.search(node.value):
            # No path, argument or environment value can hold a NUL, and a lone surrogate (from a
            # "\uD800" escape) is not text at all: refused here, not as a crash later.
            where = _dotted(path)
            what = "a NUL character (\\0)" if bad.group() == "\0" else f"a lone surrogate ({bad.group()!r})"
            raise RunFileError(self.error(path, f"{where + ': ' if where else ''}contains {what}"))

    def line(self, path: Path_) -> int:
        """Line of `path`, or of its nearest ancestor the document has."""
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path_, message: str) -> str:
        return f"{self.source}:{self.line(path)}: {message}"


_MSGSPEC_PATH = re.compile(r" - at `\$([^`]*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
_UNKNOWN = re.compile(r"Object contains unknown field `([^`]+)`")


def _msgspec_problem(doc: LocatedDoc, exc: msgspec.ValidationError) -> str:
    text = str(exc)
    match = _MSGSPEC_PATH.search(text)
    message = _MSGSPEC_PATH.sub("", text)
    path: Path_ = ()
    if match:
        raw = match.group(1)
        mapping_value = raw.endswith("[...]")  # msgspec does not say which key of a mapping
        path = tuple(name if name else int(idx) for name, idx in _PATH_PART.findall(raw.removesuffix("[...]")))
        if mapping_value:
            path = (*path, *_first_non_string_key(doc.data, path))
    unknown = _UNKNOWN.match(message)
    if unknown:
        path = (*path, unknown.group(1))
        message = f"unknown key {unknown.group(1)!r}"
    where = _dotted(path)
    return doc.error(path, f"{where}: {message}" if where else message)


def _first_non_string_key(data: Any, path: Path_) -> Path_:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return ()
    if isinstance(data, dict):
        return next(((str(k),) for k, v in data.items() if not isinstance(v, str)), ())
    return ()


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def parse(source: Path, text: str) -> tuple[RunFile, LocatedDoc]:
    """Types and structure; cross-field rules are in `trails.runs.plan`."""
    doc = LocatedDoc(source, text)
    if not isinstance(doc.data, dict):
        raise RunFileError(doc.error((), "the run file must be a mapping of keys (agent, work_dir, sessions, ...)"))
    _refuse_unsupported(doc)
    try:
        run = msgspec.convert(doc.data, RunFile, strict=True)
    except msgspec.ValidationError as exc:
        raise RunFileError(_msgspec_problem(doc, exc)) from None
    return run, doc


def _refuse_unsupported(doc: LocatedDoc) -> None:
    problems = []
    for key in doc.data:
        name = str(key)
        why = UNSUPPORTED_KEYS.get(name) or (
            "AgentLens's Codex engine options are not supported; give agent: codex instead"
            if name.startswith(UNSUPPORTED_PREFIXES) else None)
        if why:
            message = f"{name}: an AgentLens key trails cannot honour: {why}"
            problems.append((doc.line((name,)), doc.error((name,), message)))
    engine = doc.data.get("engine")
    if engine not in (None, "claude_code"):
        message = f"engine: {engine!r} cannot be honoured: trails picks the agent with `agent` (e.g. agent: codex)"
        problems.append((doc.line(("engine",)), doc.error(("engine",), message)))
    if problems:
        raise RunFileError("\n".join(msg for _, msg in sorted(problems)))
