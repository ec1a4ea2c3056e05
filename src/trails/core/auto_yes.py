"""The part of auto-yes decided when a session is made: whether it answers prompts by default, and
which of a repository's auto_yes settings are ignored (they would make it approve more).

The supervisor (monitor/policy.py, monitor/guards.py) applies the rest to the agent's screen; the
built-in guards live here because what a repository may remove or override is judged against them.
"""

from __future__ import annotations

from trails.core.config import EffectiveConfig

# name → regex, matched case-insensitively against the prompt's text: a prompt whose command or
# file matches one is never approved.
DEFAULT_GUARDS: dict[str, str] = {
    "rm -rf": (r"\brm\s+(-[a-z]*r[a-z]*f[a-z]*|-[a-z]*f[a-z]*r[a-z]*|(-[a-z]+\s+)*-[rf]\s+(-[a-z]+\s+)*-[rf]"
               r"|--recursive\s+--force|--force\s+--recursive)\b"),
    "git push --force": r"\bgit\s+push\b[^\n]*(\s--force\b|\s-f\b|\s--force-with-lease\b|\s\+\S)",
    "git reset --hard": r"\bgit\s+reset\b[^\n]*--hard\b",
    "sudo": r"(^|[\s;&|(`$])sudo\b",
    "download piped to a shell": r"\b(curl|wget)\b[^\n|]*\|\s*(sudo\s+)?(ba|z|da|k|fi)?sh\b",
    "DROP TABLE": r"\bdrop\s+(table|database)\b",
}


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
    known = set(DEFAULT_GUARDS) | set(config.user.auto_yes.guards if config.user.auto_yes else {})
    ignored += [f"auto_yes.guards.{name}" for name, pattern in ay.guards.items() if name in known or not pattern]
    return ignored


def for_new_session(config: EffectiveConfig) -> tuple[bool, list[str]]:
    """Whether a new session answers prompts by default, and the repository's auto_yes keys ignored."""
    if config.project.auto_yes is None and config.user.auto_yes is None:
        return False, []  # the common case
    return auto_yes_default(config), project_auto_yes_ignored(config)
