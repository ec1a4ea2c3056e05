"""What trails knows about one kind of agent. Each agent is data plus one small module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trails.agents.headless import HeadlessAdapter


@dataclass(frozen=True)
class AgentProfile:
    """An agent kind: how to start it, hand it a first prompt, and recognise its command line."""

    name: str
    default_command: tuple[str, ...]
    # Program basenames that mean this agent, wherever it is installed (a full path still matches).
    executables: tuple[str, ...] = ()
    # How a first prompt reaches the agent: as a trailing argument, behind a flag, or typed in.
    prompt_flag: str | None = None
    prompt_as_argument: bool = False
    # Flags that make an interactive start continue a conversation (None: it cannot).
    resume_flag: str | None = None
    continue_flag: str | None = None
    # Flag that fixes the conversation's id at start (`claude --session-id UUID`), so pause/resume
    # knows which conversation to continue without guessing from the agent's files.
    session_id_flag: str | None = None
    # How scripted runs drive it without a terminal (None: as any command, fresh each session).
    headless: HeadlessAdapter | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def matches(self, argv: list[str]) -> bool:
        return bool(argv) and PurePath(argv[0]).name in self.executables

    def with_prompt(self, argv: list[str], prompt: str) -> list[str] | None:
        """argv that starts the agent on `prompt`, or None when the prompt must be typed in."""
        if self.prompt_flag:
            return [*argv, self.prompt_flag, prompt]
        if self.prompt_as_argument:
            return [*argv, prompt]
        return None


GENERIC = AgentProfile(name="command", default_command=())
