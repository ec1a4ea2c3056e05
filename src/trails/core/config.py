"""Settings files: schema (msgspec, decoded strictly), loading, and user/project precedence.

User settings live in `$TRAILS_HOME/settings.json`; project settings in `<repo>/.trails/settings.json`.
Unknown keys and wrong types are errors naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec

from trails.core import paths
from trails.core.errors import ConfigError

ModeName = Literal["direct", "basic", "worktree", "container"]
NetworkName = Literal["none", "bridge", "host"]

DEFAULT_FALLBACK_CHAIN: list[str] = ["container", "worktree", "direct"]
DEFAULT_BRANCH_PREFIX = "trails/"
DEFAULT_MAX_WORKTREES = 5


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
    answer_trust: bool | None = None  # answer the agent's trust-this-folder prompt (default yes)


class DetectionSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Extra screen patterns for one agent profile (regexes, matched per line, case-insensitive)."""

    busy: list[str] = []
    ready: list[str] = []
    prompts: dict[str, list[str]] = {}  # prompt kind → patterns
    after_dialog: list[str] = []  # lines the agent draws below a live dialog (a footer)
    quiet_seconds: float | None = None  # unchanged this long with no marker on screen = ready


class Settings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One settings file. Every key optional; absent keys defer to the next source."""

    session_mode: ModeName | None = None
    mode_preferences: dict[str, ModeName] = {}
    project_rules: list[ProjectRule] = []
    mode_fallback_chain: list[ModeName] | None = None
    branch_prefix: str | None = None
    worktree_dir: str | None = None
    max_worktrees: int | None = None
    agents: dict[str, AgentSettings] = {}
    auto_yes: AutoYesSettings | None = None
    detection: dict[str, DetectionSettings] = {}
    # Container mode and resource limits (see core/limits.py for defaults and precedence).
    image: str | None = None
    dockerfile: str | None = None
    cpus: float | None = None
    memory: str | None = None
    pids_limit: int | None = None
    disk_warn_mb: int | None = None
    # Isolation-weakening keys: honoured only from the user's own settings file, never a repo's.
    network: NetworkName | None = None
    privileged: bool | None = None
    mounts: list[str] = []  # "HOST[:CONTAINER][:ro|rw]"


@dataclass
class EffectiveConfig:
    """User settings overlaid with project settings, plus where each came from."""

    user: Settings = field(default_factory=Settings)
    project: Settings = field(default_factory=Settings)
    user_path: Path | None = None
    project_path: Path | None = None

    @property
    def fallback_chain(self) -> list[str]:
        chain: list[str] = list(self.project.mode_fallback_chain or self.user.mode_fallback_chain or [])
        return chain or DEFAULT_FALLBACK_CHAIN

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
    def project_rules(self) -> list[ProjectRule]:
        return [*self.user.project_rules, *self.project.project_rules]

    def mode_preference(self, agent: str) -> str | None:
        for settings in (self.project, self.user):
            if agent in settings.mode_preferences:
                return settings.mode_preferences[agent]
        for settings in (self.project, self.user):
            prof = settings.agents.get(agent)
            if prof and prof.mode:
                return prof.mode
        return None

    def agent_settings(self, name: str) -> AgentSettings | None:
        return self.project.agents.get(name) or self.user.agents.get(name)

    def agent_names(self) -> set[str]:
        return set(self.user.agents) | set(self.project.agents)


def load_settings_file(path: Path) -> Settings:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return msgspec.json.decode(raw, type=Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_explain(exc)}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None


def _explain(exc: msgspec.ValidationError) -> str:
    # msgspec says e.g. "Object contains unknown field `colour` - at `$.agents.x`"; keep it, name the key.
    return str(exc).replace("- at `$.", "at key `")


def user_settings_path() -> Path:
    return paths.trails_home() / "settings.json"


def project_settings_path(repo_root: Path) -> Path:
    return repo_root / ".trails" / "settings.json"


def load(repo_root: Path | None) -> EffectiveConfig:
    user_path = user_settings_path()
    project_path = project_settings_path(repo_root) if repo_root else None
    return EffectiveConfig(
        user=load_settings_file(user_path),
        project=load_settings_file(project_path) if project_path else Settings(),
        user_path=user_path,
        project_path=project_path,
    )
