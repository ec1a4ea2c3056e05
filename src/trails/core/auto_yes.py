"""The part of auto-yes decided when a session is made: whether it answers prompts by default, and
which of a repository's auto_yes settings are ignored (they would make it approve more).

The supervisor (monitor/policy.py, monitor/guards.py) applies the rest to the agent's screen;
what a repository may remove or override is judged against the built-in guards' names
(core/guardnames.py).
"""

from __future__ import annotations

from trails.core.config import EffectiveConfig
from trails.core.guardnames import BUILTIN


def auto_yes_default(config: EffectiveConfig) -> bool:
    """Whether new sessions answer prompts by default: only the user's own settings may say so."""
    ay = config.user.auto_yes
    return bool(ay is not None and ay.default)


def project_auto_yes_ignored(config: EffectiveConfig) -> list[str]:
    """The repository's auto_yes settings that would weaken safety, which trails ignores."""
    ay = config.project.auto_yes
    if ay is None:
        return []
    ignored = []
    if ay.default:
        ignored.append("auto_yes.default")
    if ay.responses:
        ignored.append("auto_yes.responses")
    if ay.answer_trust:
        ignored.append("auto_yes.answer_trust")
    known = set(BUILTIN) | set(config.user.auto_yes.guards if config.user.auto_yes else {})
    ignored += [f"auto_yes.guards.{name}" for name, pattern in ay.guards.items() if name in known or not pattern]
    return ignored  # a repository's auto_yes.allow: core/repo_settings.py leaves it out on load


def for_new_session(config: EffectiveConfig) -> tuple[bool, list[str]]:
    """Whether a new session answers prompts by default, and the repository's auto_yes keys ignored."""
    if config.project.auto_yes is None and config.user.auto_yes is None:
        return False, []  # the common case
    return auto_yes_default(config), project_auto_yes_ignored(config)
