"""What trails knows about one kind of agent. Each agent is data plus one small module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from trails.core.models import Status

if TYPE_CHECKING:
    from trails.agents.headless import HeadlessAdapter


class AgentState:
    """Where an agent keeps its own state (config, credentials, conversations), so a container
    session can get a private copy and conversations can follow a session between host and container."""

    def host_dir(self, env: Mapping[str, str]) -> Path | None:
        """The agent's state directory on the host, as `env` configures it."""
        return None

    def seed_container_home(self, env: Mapping[str, str], home: Path, inner_home: str) -> dict[str, str]:
        """Copy what the agent needs to start (config, credentials) into a new container home;
        return environment variables that point the agent at it inside."""
        return {}

    def container_dir(self, home: Path) -> Path | None:
        """The agent's state directory inside a container home (a host path)."""
        return None

    def container_env(self, inner_home: str) -> dict[str, str]:
        """Environment that points the agent at its state inside a container home."""
        return {}

    def carry_conversation(self, conversation_id: str, src_dir: Path, dst_dir: Path, dst_cwd: str) -> bool:
        """Copy a conversation from one state directory to another, for an agent now working in
        `dst_cwd`, unless it is there already. False when nothing was copied."""
        return False

    def current_conversation(self, state_dir: Path, cwd: str, *, since: float, known: str | None) -> str | None:
        """The conversation the agent working in `cwd` is in now, as its state in `state_dir` shows
        it (written to since `since`, a time): it may have moved on from `known` (the id it was
        started with). `known` when its state tells nothing more."""
        return known

    def has_conversation(self, state_dir: Path, conversation_id: str) -> bool:
        """Whether anything was said yet in the conversation (an id fixed at start names no
        conversation until then). True when the state cannot tell."""
        return True


@dataclass(frozen=True)
class PermissionAsk:
    """What an agent asks permission for, as its own hook tells it (not as its screen shows it):
    the prompt kind the auto-yes guards know (command, write, edit, …), the command or file."""

    kind: str
    text: str
    command: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class HookReport:
    """What one hook event means for the session: its status (None: no change), why, and the
    permission it asks (`ask`) or whether a question asked earlier is over (`settled`).
    `ended`: the agent ended its session (its process exits next)."""

    status: Status | None
    reason: str
    ask: PermissionAsk | None = None
    settled: bool = False
    ended: bool = False


class AgentHooks:
    """An agent whose CLI runs hook commands: trails configures them per session (in the session's
    own agent config, never the user's) to run `reporter`, and reads what they report."""

    # Whether the hooks report every change of status (then they alone tell it, and auto-yes answers
    # only what they announce), or only some (Codex: a finished turn), the screen telling the rest.
    complete: bool = True
    # Whether its hooks say nothing before the first prompt (Codex's TUI runs SessionStart with the first
    # turn): then its screen tells the status until they speak, without waiting for them first.
    silent_until_prompt: bool = False

    def wire(self, argv: list[str], reporter: list[str]) -> list[str]:
        """argv that starts the agent with its hooks running `reporter` (an argument list)."""
        return argv

    def interpret(self, event: str, tool: str | None, tool_input: Mapping[str, object] | None,
                  detail: Mapping[str, str]) -> HookReport | None:
        """What a hook event says (None: nothing trails acts on)."""
        return None


@dataclass(frozen=True)
class AgentHome:
    """A home directory of the agent's own, not the user's (a container session's): `host` is where
    it is on this machine, `inside` the path the agent knows it by (its HOME)."""

    host: Path
    inside: str


@dataclass(frozen=True)
class McpServer:
    """Trails' MCP server as a session's agent starts it (stdio): this installation's `trails mcp`,
    or in a container the relay to it.

    `env` holds nothing secret (the home, where trails is imported from); the credential is in the
    agent's own environment as `credential_env`, and `credential` is its value for an agent that
    cannot pass that variable on (then it goes only into an owner-only file in `private_dir`, a
    directory under the home for this session's launch, never onto a command line). `agent_home`:
    the agent's own home when it has one (a container's, which is all of the host it sees besides
    the worktree): such a file goes there instead."""

    command: tuple[str, ...]
    env: Mapping[str, str]
    credential_env: str
    credential: str
    private_dir: Path
    agent_home: AgentHome | None = None

    NAME = "trails"  # the server's name in the agent's config (its tools are mcp__trails__* in Claude)


class AgentMcp:
    """An agent whose CLI can use MCP servers: trails configures its own for each launch, in the
    launch's command line or environment (never the user's or the repository's files)."""

    # Whether it configures an agent in a container too (there the server is the MCP relay,
    # core.mcpwire, and files go to the container's home: McpServer.agent_home).
    in_container = True

    def wire(self, argv: list[str], server: McpServer, env: dict[str, str]) -> list[str]:
        """argv that starts the agent with `server` configured and its tools allowed without a
        prompt; `env` (the agent's environment) may be added to."""
        return argv


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
    # Short forms of resume_flag (which takes an id) and continue_flag (claude: -r, -c).
    resume_aliases: tuple[str, ...] = ()
    continue_aliases: tuple[str, ...] = ()
    # How scripted runs drive it without a terminal (None: as any command, fresh each session).
    headless: HeadlessAdapter | None = None
    # Its own state on disk (None: nothing to carry into containers or between modes).
    state: AgentState | None = None
    # Hooks its CLI runs, which report the agent's status (None: the screen alone tells it).
    hooks: AgentHooks | None = None
    # How its CLI is given trails' MCP server (None: it has no MCP support).
    mcp: AgentMcp | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def matches(self, argv: list[str]) -> bool:
        return bool(argv) and PurePath(argv[0]).name in self.executables

    def with_conversation_id(self, argv: list[str], new_id: str) -> tuple[str | None, list[str]]:
        """For an agent that accepts one, fix the conversation's id (`new_id`) at start: (the id,
        argv that sets it). (None, argv) when it cannot, or argv already picks a conversation."""
        taken = {self.session_id_flag, self.resume_flag, self.continue_flag, *self.resume_aliases,
                 *self.continue_aliases}
        if not self.session_id_flag or any(a in taken for a in argv[1:]):
            return None, argv
        return new_id, [*argv, self.session_id_flag, new_id]

    def resume_argv(self, argv: list[str], conversation: str | None, *, said: bool = True) -> list[str]:
        """argv (the agent's own start command) restarting the agent on `conversation` (None: not
        known): any conversation argv picks is dropped first. `said`: whether anything was said in
        it yet; one fixed at start and still empty is started again under the same id."""
        with_value = {f for f in (self.session_id_flag, self.resume_flag) if f} | set(self.resume_aliases)
        cleaned: list[str] = []
        skip = False
        for arg in argv:
            if skip:
                skip = False
            elif arg in with_value:
                skip = True
            else:
                cleaned.append(arg)
        if conversation and self.session_id_flag and not said:
            return [*cleaned, self.session_id_flag, conversation]
        if conversation and self.resume_flag:
            return [*cleaned, self.resume_flag, conversation]
        if self.continue_flag:
            return [*cleaned, self.continue_flag]
        return cleaned

    def with_prompt(self, argv: list[str], prompt: str) -> list[str] | None:
        """argv that starts the agent on `prompt`, or None when the prompt must be typed in."""
        if self.prompt_flag:
            return [*argv, self.prompt_flag, prompt]
        if self.prompt_as_argument:
            return [*argv, prompt]
        return None


GENERIC = AgentProfile(name="command", default_command=())
