"""How a user's agent spec (a profile name, configured or built in, or any command line) becomes the
command line trails runs, against the settings and the repository trust (a repository's own agent
profiles run only once trusted)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from trails.agents.base import AgentProfile
from trails.agents.registry import BUILTIN, profile_for_argv
from trails.core.config import EffectiveConfig
from trails.core.errors import InvalidInput


@dataclass(frozen=True)
class ResolvedAgent:
    spec: str  # what the user asked for: a profile name or a command line
    name: str  # profile name ("command" for an arbitrary command line)
    profile: AgentProfile
    argv: list[str]


def resolve(spec: str, config: EffectiveConfig | None) -> ResolvedAgent:
    """A profile name (from config or built in) or any command line → argv and profile."""
    if not spec.strip():
        raise InvalidInput("the agent is empty: give a profile name (claude, codex, aider, gemini) or a command")
    configured = config.agent_settings(spec) if config else None
    if configured and configured.command:
        argv = _split(configured.command, f"agents.{spec}.command")
        if config is not None and (theirs := config.project.agents.get(spec)) and theirs.command:
            # A repository's own profile (one that shadows yours or a built-in was dropped on load).
            from trails.core import trust

            trust.require(config.repo_root, f"{config.project_path} defines the agent {spec!r} "
                                            f"as {theirs.command!r}")
        return ResolvedAgent(spec, spec, BUILTIN.get(spec) or profile_for_argv(argv), argv)
    if spec in BUILTIN:
        profile = BUILTIN[spec]
        return ResolvedAgent(spec, spec, profile, list(profile.default_command))
    argv = _split(spec, "agent command")
    profile = profile_for_argv(argv)
    return ResolvedAgent(spec, profile.name, profile, argv)


def _split(command: str, what: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"cannot parse {what} {command!r}: {exc}") from None
    if not argv:
        raise InvalidInput(f"{what} is empty")
    return argv
