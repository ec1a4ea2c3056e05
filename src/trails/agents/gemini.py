"""Google Gemini CLI (`gemini`)."""

from trails.agents.base import AgentProfile

PROFILE = AgentProfile(
    name="gemini",
    default_command=("gemini",),
    executables=("gemini",),
    prompt_flag="--prompt-interactive",  # runs the prompt, then stays interactive
    resume_flag="--resume",
)
