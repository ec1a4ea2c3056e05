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
    guards: dict[str, str] = field(default_factory=dict)
    answer_trust: bool = True
    quiet_seconds: float = DEFAULT_QUIET_SECONDS

    def response(self, kind: str | None, default: Response | None) -> Response | None:
        return self.responses.get(kind or "", default)


def _layers(config: EffectiveConfig) -> list[Any]:
    return [config.user, config.project]  # later layers win


def auto_yes_default(config: EffectiveConfig) -> bool:
    value = False
    for layer in _layers(config):
        if layer.auto_yes is not None and layer.auto_yes.default is not None:
            value = layer.auto_yes.default
    return value


def build(agent: str, config: EffectiveConfig) -> Policy:
    """The policy of sessions whose agent profile is `agent` (claude, codex, ... or command)."""
    extra: dict[str, Any] = {"busy": [], "ready": [], "prompts": {}}
    quiet = DEFAULT_QUIET_SECONDS
    responses: dict[str, Response] = {}
    guards = dict(guards_mod.DEFAULT_GUARDS)
    answer_trust = True
    for layer in _layers(config):
        det = layer.detection.get(agent)
        if det is not None:
            extra["busy"] += det.busy
            extra["ready"] += det.ready
            extra["prompts"].update(det.prompts)
            quiet = det.quiet_seconds if det.quiet_seconds is not None else quiet
        ay = layer.auto_yes
        if ay is None:
            continue
        for kind, resp in ay.responses.get(agent, {}).items():
            responses[kind] = Response(resp.option, tuple(resp.keys or ()))
        for name, pattern in ay.guards.items():
            if pattern:
                guards[name] = pattern
            else:
                guards.pop(name, None)
        if ay.answer_trust is not None:
            answer_trust = ay.answer_trust
    return Policy(agent, load_patterns(agent, extra), responses, guards, answer_trust, quiet)


def load_for(agent: str, workdir: str | None) -> Policy:
    from trails.core import config as config_mod
    from trails.infra import git as gitinfra

    root = gitinfra.find_toplevel(workdir) if workdir and Path(workdir).is_dir() else None
    return build(agent, config_mod.load(root))
