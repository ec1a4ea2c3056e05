"""Headless adapters: run one prompt to completion, continue or branch a conversation, read the result.

Each agent module defines its adapter next to its interactive profile and hangs it on the profile
(`AgentProfile.headless`), so one place knows each agent. Any other command gets `CommandHeadless`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HeadlessRequest:
    prompt: str
    model: str | None = None
    max_turns: int | None = None
    permission_mode: str | None = None
    resume_id: str | None = None  # conversation to continue (None: a fresh one)
    fork: bool = False  # branch off resume_id instead of appending to it


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    stdin: str | None = None


@dataclass
class HeadlessOutcome:
    ok: bool
    conversation_id: str | None = None
    result_text: str | None = None
    turns: int | None = None
    cost_usd: float | None = None
    error: str | None = None
    raw: Any = None  # the agent's own result, stored as-is
    extra: dict[str, Any] = field(default_factory=dict)


class HeadlessAdapter:
    """How one kind of agent runs without a terminal."""

    name = "command"
    can_resume = False  # can continue a conversation in a later process
    can_fork = False  # can branch a conversation, leaving the original as it was
    raw_suffix = "txt"  # file type of the raw result stored per session

    def invocation(self, base: list[str], req: HeadlessRequest) -> Invocation:
        raise NotImplementedError

    def parse(self, stdout: str, stderr: str, returncode: int) -> HeadlessOutcome:
        ok = returncode == 0
        return HeadlessOutcome(ok=ok, result_text=stdout, raw=stdout,
                               error=None if ok else _exit_error(returncode, stderr))

    def transcript(self, outcome: HeadlessOutcome, env: dict[str, str], cwd: Path) -> Path | None:
        """Where the agent stored the conversation, when it keeps one we can copy."""
        return None


@dataclass
class CommandHeadless(HeadlessAdapter):
    """Any command: the prompt goes in as its last argument or on stdin; one fresh run per session."""

    prompt_via: str = "argument"  # "argument" | "stdin"

    def invocation(self, base: list[str], req: HeadlessRequest) -> Invocation:
        if self.prompt_via == "stdin":
            return Invocation(list(base), req.prompt)
        return Invocation([*base, req.prompt])


def _exit_error(returncode: int, stderr: str) -> str:
    tail = stderr.strip().splitlines()[-3:]
    how = f"killed by signal {-returncode}" if returncode < 0 else f"exited with status {returncode}"
    return f"the agent {how}" + (f": {' / '.join(tail)}" if tail else "")


def parse_json_object(stdout: str) -> dict[str, Any] | None:
    """The last line of stdout that is a JSON object (agents may print warnings before it)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    try:
        value = json.loads(stdout)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
