"""OpenAI Codex CLI (`codex`)."""

from trails.agents.base import AgentProfile

PROFILE = AgentProfile(
    name="codex",
    default_command=("codex",),
    executables=("codex",),
    prompt_as_argument=True,
)
