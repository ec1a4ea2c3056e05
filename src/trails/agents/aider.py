"""Aider (`aider`)."""

from trails.agents.base import AgentProfile

PROFILE = AgentProfile(
    name="aider",
    default_command=("aider",),
    executables=("aider",),
    # `--message` makes aider exit after one reply, so the first prompt is typed at its prompt.
)
