"""What the supervisor does for one session: its patterns, answers and guards, from built-ins and settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.core.config import EffectiveConfig
from trails.monitor import guards as guards_mod
from trails.monitor.detect import Patterns, Response, load_patterns

DEFAULT_QUIET_SECONDS = 1.5


@dataclass
class Policy:
    agent: str
    patterns: Patterns
    responses: dict[str, Response] = field(default_factory=dict)
    guards: guards_mod.GuardSet = field(default_factory=guards_mod.GuardSet)
    answer_trust: bool = True
    quiet_seconds: float = DEFAULT_QUIET_SECONDS
    # Why the settings could not be used (then nothing is answered automatically), or None.
    broken: str | None = None
    idle_freeze_after: float | None = None  # see core/freeze.py
    idle_pause_after: float | None = None  # see Supervisor._idle_pause

    def response(self, kind: str | None, default: Response | None) -> Response | None:
        return self.responses.get(kind or "", default)


def _layers(config: EffectiveConfig) -> list[Any]:
    return [config.user, config.project]  # later layers win


def build(agent: str, config: EffectiveConfig) -> Policy:
    """The policy of sessions whose agent profile is `agent` (claude, codex, ... or command).

    Answers, the trust default, guard removals, allow-patterns and prompt patterns come from the
    user's settings only; a repository may add guards, busy/ready patterns and switch trust answers
    off, nothing that makes auto-yes approve more.
    """
    extra: dict[str, Any] = {"busy": [], "ready": [], "prompts": {}, "after_dialog": []}
    quiet = DEFAULT_QUIET_SECONDS
    responses: dict[str, Response] = {}
    builtin = set(guards_mod.DEFAULTS.builtin)
    patterns: dict[str, str] = {}
    allow: tuple[str, ...] = ()
    answer_trust = True
    for layer in _layers(config):
        det = layer.detection.get(agent)
        if det is not None:
            extra["busy"] += det.busy
            extra["ready"] += det.ready
            quiet = det.quiet_seconds if det.quiet_seconds is not None else quiet
            if layer is config.user:  # a repository's prompts would be answered: see core/repo_settings.py
                extra["after_dialog"] += det.after_dialog
                extra["prompts"].update(det.prompts)
    user_ay, project_ay = config.user.auto_yes, config.project.auto_yes
    if user_ay is not None:
        for kind, resp in user_ay.responses.get(agent, {}).items():
            responses[kind] = Response(resp.option, tuple(resp.keys or ()))
        for name, pattern in user_ay.guards.items():
            if pattern:
                patterns[name] = pattern
            else:
                builtin.discard(name)  # the unseen-command guard is not in this set: config refuses its removal
        allow = tuple(user_ay.allow)
        if user_ay.answer_trust is not None:
            answer_trust = user_ay.answer_trust
    if project_ay is not None:
        for name, pattern in project_ay.guards.items():
            if pattern and name not in patterns and name not in guards_mod.DEFAULTS.names():
                patterns[name] = pattern
        if project_ay.answer_trust is False:
            answer_trust = False
    guards = guards_mod.GuardSet(frozenset(builtin), patterns, allow)
    freeze_after = config.project.idle_freeze_after or config.user.idle_freeze_after
    pause_after = config.project.idle_pause_after or config.user.idle_pause_after
    return Policy(agent, load_patterns(agent, extra), responses, guards, answer_trust, quiet,
                  idle_freeze_after=freeze_after, idle_pause_after=pause_after)


def without_settings(agent: str, why: str) -> Policy:
    """The policy of a session whose settings do not load: built-in patterns, no automatic answers."""
    return Policy(agent, load_patterns(agent), guards=guards_mod.DEFAULTS, answer_trust=False, broken=why)


def load_for(agent: str, workdir: str | None) -> Policy:
    from trails.core import config as config_mod
    from trails.infra import git as gitinfra

    root = gitinfra.find_toplevel(workdir) if workdir and Path(workdir).is_dir() else None
    return build(agent, config_mod.load(root))
