"""The one registry of agent profiles (how a user's agent spec becomes a command line: core/agent_spec.py)."""

from __future__ import annotations

from trails.agents import aider, claude, codex, gemini
from trails.agents.base import GENERIC, AgentProfile
from trails.core.models import Session

BUILTIN: dict[str, AgentProfile] = {p.name: p for p in (claude.PROFILE, codex.PROFILE, aider.PROFILE, gemini.PROFILE)}


def profile_of(session: Session) -> AgentProfile:
    """A session's agent profile: the one it was created with, else judged by its program."""
    return BUILTIN.get(str(session.extra.get("agent_profile"))) or profile_for_argv(
        list(session.extra.get("base_argv") or session.command))


def profile_for_argv(argv: list[str]) -> AgentProfile:
    """The profile whose program this is, judged by basename so full paths match too."""
    for profile in BUILTIN.values():
        if profile.matches(argv):
            return profile
    return GENERIC
