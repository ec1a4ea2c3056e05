"""Claude Code (`claude`)."""

from trails.agents.base import AgentProfile

PROFILE = AgentProfile(
    name="claude",
    default_command=("claude",),
    executables=("claude", "claude-code"),
    prompt_as_argument=True,  # `claude "PROMPT"` starts interactive with that first message
    resume_flag="--resume",
    continue_flag="--continue",
)
