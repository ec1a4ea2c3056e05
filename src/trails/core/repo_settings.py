"""What a repository's `.trails/settings.json` may set: a cloned repository must not steer trails.

A repository may describe itself (busy/ready screens, rules that raise isolation, tighter limits,
new agent profiles that run only once trusted, added auto-yes guards); it may not change what runs
under a name you know, what auto-yes answers or lets past its guards (`auto_yes.allow`), or lower
isolation below your own choice. `restrict` applies the part of
that which needs no per-session context when the settings load; modes (core/modes.py), limits
(core/limits.py), auto-yes (core/auto_yes.py, monitor/policy.py) and container settings
(isolation/container.py) apply the rest where they are decided. Whatever is ignored becomes an
`Ignored` record: a note to the user and a `settings_ignored` audit entry.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from trails.core.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from trails.core.config import Settings

SHADOWING_KEYS = ("command", "image", "dockerfile")  # what would change the program behind a known name


@dataclass(frozen=True)
class Ignored:
    """A repository setting trails did not honour, and why."""

    key: str
    value: Any
    file: str
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "file": self.file, "why": self.why}

    def note(self) -> str:
        return f"ignored {self.key}={self.value!r} from {self.file}: {self.why}"


def restrict(project: Settings, *, file: Path, repo_root: Path, known_agents: Collection[str],
             ) -> tuple[Settings, list[Ignored]]:
    """The repository's settings as trails honours them, and what it ignored.

    `known_agents` are the names a repository may not redefine (built in, or in the user's file).
    A `worktree_dir` pointing out of the repository's parent directory is an error, not ignored.
    """
    ignored: list[Ignored] = []
    where = str(file)
    agents = dict(project.agents)
    for name, prof in project.agents.items():
        if name not in known_agents:
            continue  # a new profile: it runs only once the repository is trusted (see core/trust.py)
        changed = {key: None for key in SHADOWING_KEYS if getattr(prof, key) is not None}
        for key in changed:
            ignored.append(Ignored(
                f"agents.{name}.{key}", getattr(prof, key), where,
                f"a repository may not redefine the agent {name!r} you already have; it may add agents "
                "under new names, which run once you `trails trust` the repository"))
        if changed:
            agents[name] = msgspec.structs.replace(prof, **changed)
    detection = dict(project.detection)
    for agent, det in project.detection.items():
        if det.prompts:
            ignored.append(Ignored(f"detection.{agent}.prompts", det.prompts, where,
                                   "a repository's patterns may only describe busy and ready screens, "
                                   "never prompts (auto-yes would answer them)"))
        if det.after_dialog:
            ignored.append(Ignored(f"detection.{agent}.after_dialog", det.after_dialog, where,
                                   "a repository may not decide whether a dialog is still live "
                                   "(auto-yes answers live dialogs)"))
        if det.prompts or det.after_dialog:
            detection[agent] = msgspec.structs.replace(det, prompts={}, after_dialog=[])
    auto_yes = project.auto_yes
    if auto_yes is not None and auto_yes.allow:
        ignored.append(Ignored("auto_yes.allow", auto_yes.allow, where,
                               "a repository may add auto-yes guards, never patterns that let commands past "
                               "them; put allow-patterns in your own $TRAILS_HOME/settings.json"))
        auto_yes = msgspec.structs.replace(auto_yes, allow=[])
    notifications = project.notifications
    if notifications is not None and notifications.webhook is not None:
        ignored.append(Ignored("notifications.webhook", notifications.webhook, where,
                               "a repository may not send news of your sessions elsewhere; put a webhook in "
                               "your own $TRAILS_HOME/settings.json"))
        notifications = msgspec.structs.replace(notifications, webhook=None)
    if project.worktree_dir is not None:
        check_worktree_dir(project.worktree_dir, file=file, repo_root=repo_root)
    if not ignored:
        return project, []
    return msgspec.structs.replace(project, agents=agents, detection=detection, auto_yes=auto_yes,
                                   notifications=notifications), ignored


def check_worktree_dir(value: str, *, file: Path, repo_root: Path) -> None:
    """A repository's worktrees stay inside the directory that holds the repository."""
    from trails.core.userfiles import expand_user

    try:
        base = expand_user(value)
    except InvalidInput as exc:
        raise ConfigError(f"{file}: key `worktree_dir`: {exc.message}", hint=exc.hint) from None
    resolved = (base if base.is_absolute() else repo_root / base).resolve()
    allowed = repo_root.resolve().parent
    if resolved != allowed and allowed not in resolved.parents:
        raise ConfigError(
            f"{file}: key `worktree_dir`: {value!r} resolves to {resolved}, outside {allowed}: a repository's "
            "settings may only place worktrees inside the directory that holds the repository",
            hint="set worktree_dir in your own $TRAILS_HOME/settings.json to put worktrees elsewhere",
        )

