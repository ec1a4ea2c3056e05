"""Aider (`aider`)."""

from __future__ import annotations

from trails.agents.base import AgentProfile
from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest, Invocation

# Aider keeps its conversation only as this file in the working directory; restoring it is its one
# way to continue. Since the file lives in the (shadow-tracked) work dir, resetting files to a fork
# point also resets the history, so a fork is a restore too.
HISTORY_FILE = ".aider.chat.history.md"


class AiderHeadless(HeadlessAdapter):
    """`aider --message PROMPT --yes-always`; continuation is `--restore-chat-history`."""

    name = "aider"
    can_resume = True
    can_fork = True

    def invocation(self, base: list[str], req: HeadlessRequest) -> Invocation:
        argv = [*base, "--message", req.prompt, "--yes-always", "--no-pretty", "--no-check-update",
                "--chat-history-file", HISTORY_FILE]
        if req.resume_id:
            argv.append("--restore-chat-history")
        if req.model:
            argv += ["--model", req.model]
        return Invocation(argv)

    def parse(self, stdout: str, stderr: str, returncode: int) -> HeadlessOutcome:
        outcome = super().parse(stdout, stderr, returncode)
        outcome.conversation_id = HISTORY_FILE if outcome.ok else None
        return outcome

PROFILE = AgentProfile(
    name="aider",
    default_command=("aider",),
    executables=("aider",),
    headless=AiderHeadless(),
    # `--message` makes aider exit after one reply, so the first prompt is typed at its prompt.
)
