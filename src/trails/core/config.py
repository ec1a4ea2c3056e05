"""Settings files: schema (msgspec, decoded strictly), loading, and user/project precedence.

User settings live in `$TRAILS_HOME/settings.json`; project settings in `<repo>/.trails/settings.json`.
Unknown keys and wrong types are errors naming the file and the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from trails.core import paths
from trails.core.errors import ConfigError, InvalidInput
from trails.core.limits import parse_memory
from trails.core.repo_settings import Ignored, restrict
from trails.core.userfiles import MiB, UnreadableFile, expand_user, read_bounded

ModeName = Literal["direct", "basic", "worktree", "container"]
NetworkName = Literal["none", "bridge", "host"]
MergeStrategy = Literal["no-ff", "squash", "rebase"]
# A hook command: an argument list, or one string run by `sh -c` (see core/worktree_setup.py).
Hook = str | list[str]

DEFAULT_FALLBACK_CHAIN: list[str] = ["container", "worktree", "direct"]
DEFAULT_BRANCH_PREFIX = "trails/"
DEFAULT_MAX_WORKTREES = 5
# Real settings files are a few kilobytes; a larger one is a mistake (or a repository's attack).
MAX_SETTINGS_BYTES = MiB

# Numbers a settings file may hold, checked when it loads (msgspec names the file's key when one is out).
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Cpus = Annotated[float, msgspec.Meta(gt=0)]
PidsLimit = Annotated[int, msgspec.Meta(ge=8)]  # fewer processes than this and no agent starts
QuietSeconds = Annotated[float, msgspec.Meta(ge=0.1, le=600)]
# The auto-yes guard for commands trails cannot judge without running something (eval, $CMD, a computed
# `bash -c`): never switched off, whatever a settings file says (monitor/shellguard.py has the others).
UNSEEN_GUARD = "cannot see the command"


class AgentSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    command: str | None = None
    mode: ModeName | None = None
    image: str | None = None  # container mode: image for this agent
    dockerfile: str | None = None  # container mode: build this Dockerfile (path) for this agent


class ProjectRule(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pattern: str
    required_mode: ModeName | None = None
    allowed_modes: list[ModeName] | None = None
    reason: str = ""


class AutoYesResponse(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Answer a prompt by picking the option whose label matches `option` (regex), or by typing `keys`."""

    option: str | None = None
    keys: list[str] | None = None


class AutoYesSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    default: bool | None = None  # auto-yes for sessions created without --auto-yes
    # agent profile → prompt kind (write, edit, command, trust, ...) → answer
    responses: dict[str, dict[str, AutoYesResponse]] = {}
    # guard name → regex; a built-in name mapped to "" switches that guard off
    guards: dict[str, str] = {}
    # regexes a simple command's words (as one line) must match in full to pass the built-in guards
    allow: list[str] = []
    answer_trust: bool | None = None  # answer the agent's trust-this-folder prompt (default yes)


class DetectionSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Extra screen patterns for one agent profile (regexes, matched per line, case-insensitive)."""

    busy: list[str] = []
    ready: list[str] = []
    prompts: dict[str, list[str]] = {}  # prompt kind → patterns
    after_dialog: list[str] = []  # lines the agent draws below a live dialog (a footer)
    quiet_seconds: QuietSeconds | None = None  # unchanged this long with no marker on screen = ready


NoticeEvent = Literal["waiting", "error", "completed"]
CoalesceSeconds = Annotated[float, msgspec.Meta(ge=0, le=86400)]


class NotificationSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """When and where trails tells you a session needs you (monitor/notify.py)."""

    events: list[NoticeEvent] | None = None  # default: waiting, error, completed
    desktop: bool | None = None  # notify-send, where installed (default on)
    terminal: bool | None = None  # OSC 9 and a bell to attached clients (default on)
    webhook: str | None = None  # an http(s) URL: your own settings only (it sends data elsewhere)
    coalesce_seconds: CoalesceSeconds | None = None  # a session's same status told again after this (60)


class Settings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One settings file. Every key optional; absent keys defer to the next source."""

    session_mode: ModeName | None = None
    mode_preferences: dict[str, ModeName] = {}
    project_rules: list[ProjectRule] = []
    mode_fallback_chain: list[ModeName] | None = None
    branch_prefix: str | None = None
    worktree_dir: str | None = None
    max_worktrees: PositiveInt | None = None
    agents: dict[str, AgentSettings] = {}
    auto_yes: AutoYesSettings | None = None
    detection: dict[str, DetectionSettings] = {}
    # Container mode and resource limits (see core/limits.py for defaults and precedence).
    image: str | None = None
    dockerfile: str | None = None
    cpus: Cpus | None = None
    memory: str | None = None  # a size: 512m, 2g
    pids_limit: PidsLimit | None = None
    disk_warn_mb: PositiveInt | None = None
    # Isolation-weakening keys: honoured only from the user's own settings file, never a repo's.
    network: NetworkName | None = None
    privileged: bool | None = None
    mounts: list[str] = []  # "HOST[:CONTAINER][:ro|rw]"
    # The session lifecycle (core/merge.py, core/worktree_setup.py, core/pr.py).
    merge_strategy: MergeStrategy | None = None
    worktree_include: list[str] = []  # globs of ignored files copied into a new worktree (.env)
    worktree_link: list[str] = []  # globs of ignored directories symlinked into it (node_modules)
    post_create: Hook | None = None  # run in a new worktree; a repository's only once trusted
    pre_remove: Hook | None = None  # run in a worktree before it is removed; likewise
    notifications: NotificationSettings | None = None
    # Seconds a session may sit `ready` before its agent is frozen (core/freeze.py); unset: never.
    idle_freeze_after: Annotated[float, msgspec.Meta(ge=1)] | None = None
    # Seconds a session may sit `ready` before it is paused as `trails pause` does; the next send resumes it.
    idle_pause_after: Annotated[float, msgspec.Meta(ge=1)] | None = None
    # false: new sessions' agents get no credential and no configuration of trails' MCP server.
    mcp: bool | None = None


@dataclass
class EffectiveConfig:
    """User settings overlaid with project settings, plus where each came from.

    `project` is the repository's file as trails honours it (see core/repo_settings.py); what was
    left out of it is in `ignored`.
    """

    user: Settings = field(default_factory=Settings)
    project: Settings = field(default_factory=Settings)
    user_path: Path | None = None
    project_path: Path | None = None
    ignored: list[Ignored] = field(default_factory=list)

    @property
    def branch_prefix(self) -> str:
        value = self.project.branch_prefix
        return value if value is not None else (self.user.branch_prefix or DEFAULT_BRANCH_PREFIX)

    @property
    def worktree_dir(self) -> str | None:
        return self.project.worktree_dir or self.user.worktree_dir

    @property
    def max_worktrees(self) -> int | None:
        return self.project.max_worktrees or self.user.max_worktrees

    @property
    def merge_strategy(self) -> str:
        return self.project.merge_strategy or self.user.merge_strategy or "no-ff"

    @property
    def mcp(self) -> bool:
        """Whether new sessions' agents are given trails' MCP server: on unless either file says
        false (a repository may turn it off for its sessions, never on against yours)."""
        return self.user.mcp is not False and self.project.mcp is not False

    @property
    def project_rules(self) -> list[ProjectRule]:
        return [*self.user.project_rules, *self.project.project_rules]

    def agent_settings(self, name: str) -> AgentSettings | None:
        """The profile `name` with the repository's keys over the user's, key by key."""
        project, user = self.project.agents.get(name), self.user.agents.get(name)
        if project is None or user is None:
            return project or user
        return AgentSettings(**{key: getattr(project, key) if getattr(project, key) is not None else getattr(user, key)
                                for key in AgentSettings.__struct_fields__})

    @property
    def repo_root(self) -> Path | None:
        return self.project_path.parent.parent if self.project_path else None

    def agent_names(self) -> set[str]:
        return set(self.user.agents) | set(self.project.agents)


def load_settings_file(path: Path) -> Settings:
    try:
        raw = read_bounded(path, MAX_SETTINGS_BYTES)
    except FileNotFoundError:
        return Settings()
    except UnreadableFile as exc:
        raise ConfigError(f"{path}: cannot read: {exc.why}") from None
    try:
        settings = msgspec.json.decode(raw, type=Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_explain(exc)}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    check_no_nul(settings, path)
    check_paths(settings, path)
    check_patterns(settings, path)
    check_guards(settings, path)
    check_webhook(settings, path)
    if settings.memory is not None:
        try:
            parse_memory(settings.memory)
        except InvalidInput as exc:
            raise ConfigError(f"{path}: key `memory`: {exc.message}") from None
    return settings


def _patterns(settings: Settings) -> Iterator[tuple[str, str]]:
    """Every regular expression in a settings file, with its key."""
    ay = settings.auto_yes
    if ay is not None:
        for name, pattern in ay.guards.items():
            yield f"auto_yes.guards.{name}", pattern
        for i, pattern in enumerate(ay.allow):
            yield f"auto_yes.allow[{i}]", pattern
        for agent, kinds in ay.responses.items():
            for kind, response in kinds.items():
                if response.option is not None:
                    yield f"auto_yes.responses.{agent}.{kind}.option", response.option
    for agent, det in settings.detection.items():
        for key in ("busy", "ready", "after_dialog"):
            for i, pattern in enumerate(getattr(det, key)):
                yield f"detection.{agent}.{key}[{i}]", pattern
        for kind, patterns in det.prompts.items():
            for i, pattern in enumerate(patterns):
                yield f"detection.{agent}.prompts.{kind}[{i}]", pattern


def check_no_nul(settings: Settings, path: Path) -> None:
    """A NUL character can be in no path, argument or environment value: refused now, with its key,
    rather than as a crash of whatever command first hands the string to the system."""
    stack: list[tuple[str, object]] = [("", msgspec.to_builtins(settings))]
    while stack:
        key, value = stack.pop()
        if isinstance(value, str) and "\0" in value:
            raise ConfigError(f"{path}: key `{key}`: {value!r} contains a NUL character (\\u0000)")
        if isinstance(value, dict):
            for k, v in value.items():
                where = f"{key}.{k}" if key else str(k)
                stack += [(where, k), (where, v)]  # a key (an agent's name, a guard's) is checked too
        elif isinstance(value, list):
            stack += [(f"{key}[{i}]", v) for i, v in enumerate(value)]


def check_paths(settings: Settings, path: Path) -> None:
    """Paths that may start with ~ name a home that exists: an error now, naming the key, not when a
    session is made."""
    given = [("worktree_dir", settings.worktree_dir), ("dockerfile", settings.dockerfile),
             *((f"agents.{name}.dockerfile", agent.dockerfile) for name, agent in settings.agents.items()),
             *((f"mounts[{i}]", mount.split(":", 1)[0]) for i, mount in enumerate(settings.mounts))]
    for key, value in given:
        if value:
            try:
                expand_user(value)
            except InvalidInput as exc:
                raise ConfigError(f"{path}: key `{key}`: {exc.message}", hint=exc.hint) from None


def check_patterns(settings: Settings, path: Path) -> None:
    """A pattern that does not compile is an error now, not a crash of the supervisor later."""
    for key, pattern in _patterns(settings):
        try:
            re.compile(pattern, re.IGNORECASE | re.MULTILINE)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ConfigError(f"{path}: key `{key}`: {pattern!r} is not a valid regular expression ({exc})") from None


def check_guards(settings: Settings, path: Path) -> None:
    ay = settings.auto_yes
    if ay is not None and ay.guards.get(UNSEEN_GUARD) == "":
        raise ConfigError(f"{path}: key `auto_yes.guards.{UNSEEN_GUARD}`: this guard cannot be switched off: trails "
                          "never auto-approves a command it cannot judge without running it",
                          hint="remove the key; prompts it refuses wait for you (needs_user)")
    for i, pattern in enumerate(ay.allow if ay is not None else []):
        if not pattern.strip():
            raise ConfigError(f"{path}: key `auto_yes.allow[{i}]`: an empty pattern would match nothing useful")


def check_webhook(settings: Settings, path: Path) -> None:
    from urllib.parse import urlsplit

    url = settings.notifications.webhook if settings.notifications else None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{path}: key `notifications.webhook`: {url!r} is not an http(s) URL")


def _explain(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Object contains unknown field `colour` - at `$.agents.x`"; keep it, name the key.
    return str(exc).replace("- at `$.", "at key `")


def user_settings_path() -> Path:
    return paths.trails_home() / "settings.json"


def project_settings_path(repo_root: Path) -> Path:
    return repo_root / ".trails" / "settings.json"


def load(repo_root: Path | None) -> EffectiveConfig:
    user_path = user_settings_path()
    user = load_settings_file(user_path)
    config = EffectiveConfig(user=user, user_path=user_path)
    if repo_root is None:
        return config
    config.project_path = project_settings_path(repo_root)
    project = load_settings_file(config.project_path)
    config.project, config.ignored = restrict(project, file=config.project_path, repo_root=repo_root,
                                              known_agents=_known_agents(user, project))
    return config


def _known_agents(user: Settings, project: Settings) -> set[str]:
    if not project.agents:
        return set()  # the common case: no need to import the agent profiles
    from trails.agents.registry import BUILTIN

    return set(BUILTIN) | set(user.agents)
