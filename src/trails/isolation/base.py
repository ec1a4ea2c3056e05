"""The one interface every isolation provider implements (direct, worktree, container)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from trails.core.config import EffectiveConfig
from trails.core.errors import WorktreeError
from trails.core.models import Mode, Session
from trails.core.paths import private_dir
from trails.infra.proc import Pending
from trails.infra.tmux import Tmux

if TYPE_CHECKING:
    from trails.agents.base import AgentHome, AgentState
    from trails.core.workstate import SavedWork
    from trails.infra.git import Git


@dataclass
class HostContext:
    """What providers need from the engine: trails' tmux server and where state lives."""

    tmux: Tmux
    home: Path

    def exit_file(self, session: Session) -> Path:
        """Where the agent's exit status is recorded when it ends."""
        run_dir = private_dir(self.home / "run")
        return run_dir / f"{session.tmux_session}.exit"

    def gate_file(self, session: Session) -> Path:
        """The FIFO a gated start waits on (see Tmux.new_session)."""
        return self.exit_file(session).with_suffix(".gate")


@dataclass
class CreateRequest:
    name: str
    cwd: Path
    repo_root: Path | None
    config: EffectiveConfig
    branch: str | None = None
    base: str | None = None
    carry_changes: bool = False
    force: bool = False
    image: str | None = None
    options: dict[str, object] = field(default_factory=dict)
    # `git status` of the main checkout, started as early as possible (it is the slowest read).
    main_status: Pending | None = None
    # The agent's command line and resource limits, for providers that set up around them early.
    argv: list[str] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)
    # Told what the provider is about to make (worktree path, branch, …) before it makes it, so that
    # the caller can note it where a crash in between leaves it to find (core/recovery.py).
    will_make: Callable[[dict[str, Any]], None] | None = None
    # The caller's environment (trails' own knobs such as MAX_WORKTREES_PER_WORKSPACE, the agent's state).
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Placement:
    """Where a new session's agent works, as prepared by a provider."""

    workdir: Path
    repo_root: Path | None = None
    worktree_path: Path | None = None
    branch: str | None = None
    base_commit: str | None = None
    created_branch: bool = False
    notes: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)
    # Work that must finish before the agent runs but not before its terminal exists: the engine
    # starts the terminal gated, calls this, then lets the agent start.
    before_agent: Callable[[], None] | None = None


# Called once before a worktree is removed, with the save of its work (None: nothing to save).
Recorder = Callable[["SavedWork | None"], None]


@dataclass
class Released:
    """What ending a session did to its place: what was saved where, what was removed."""

    notes: list[str] = field(default_factory=list)
    saved_refs: list[str] = field(default_factory=list)


class IsolationProvider(ABC):
    mode: ClassVar[Mode]

    def __init__(self, host: HostContext) -> None:
        self.host = host

    @abstractmethod
    def unavailable_reason(self, cwd: Path, repo_root: Path | None) -> str | None:
        """None when this mode can run here, else why not (shown to the user)."""

    @abstractmethod
    def prepare(self, request: CreateRequest) -> Placement:
        """Make the place the agent will work in. On failure, leave nothing behind."""

    @abstractmethod
    def discard(self, placement: Placement) -> None:
        """Undo a prepare whose session never started (nothing of the user's is in it yet)."""

    def launch(self, session: Session, argv: list[str], env: dict[str, str], *, gated: bool = False) -> None:
        """Start the agent's terminal: a tmux session on trails' server (on the host, unless overridden).
        `gated`: the agent itself starts only at `release_gate(host.gate_file(session))`."""
        self.host.tmux.new_session(
            session.tmux_session, argv, cwd=session.workdir, env=env, exit_file=self.host.exit_file(session),
            gate=self.host.gate_file(session) if gated else None,
        )

    def hook_endpoint(self, session: Session) -> tuple[list[str], str]:
        """(the hook reporter's command line, the hook socket's path), as the agent sees them."""
        from trails.core import hookwire

        return hookwire.host_reporter(), str(hookwire.socket_path(self.host.home))

    def mcp_endpoint(self, session: Session) -> tuple[tuple[str, ...], dict[str, str]]:
        """(the command that starts trails' MCP server, its environment: nothing secret), as the agent
        sees them: on this host, this installation's own `trails mcp`."""
        from trails.core import mcpwire

        return mcpwire.server_command(), mcpwire.server_env(self.host.home)

    def own_agent_home(self, session: Session) -> AgentHome | None:
        """The agent's home when it is one of its own, not the user's (a container's), else None."""
        return None

    def started(self, session: Session) -> None:
        """Called after a placement's `before_agent` ran, before the agent is let go: take what it made."""
        return None

    def stop(self, session: Session) -> None:
        """Stop the agent and its terminal; the place stays. What the terminal's close leaves running
        of the agent's processes is ended too (proc.end_processes)."""
        from trails.infra import proc

        pane = self.host.tmux.list_panes().get(session.tmux_session)
        tree = proc.process_tree(pane.pid) if pane is not None and pane.pid else {}
        self.host.tmux.kill_session(session.tmux_session)
        proc.end_processes(tree)

    @abstractmethod
    def check_release(self, session: Session, *, force: bool, delete_branch: bool) -> None:
        """Raise if releasing would lose work and is not forced. Changes nothing."""

    @abstractmethod
    def release(self, session: Session, *, force: bool, delete_branch: bool, stamp: str,
                record: Recorder | None = None, env: Mapping[str, str]) -> Released:
        """Remove the place after saving whatever would be lost (only after check_release). `record`
        is told what is saved where before anything is removed (see core/recovery.py); `env` is the
        caller's environment (where the agent's own state lives on the host)."""

    def catch_up(self, session: Session) -> None:
        """Bring what trails reads on the host (the session's branch) up to what the agent did where
        the host cannot see it happen (a container). Nothing for agents on the host."""
        return None

    def reconciled(self, session: Session) -> str | None:
        """Called once when the agent is found gone without trails ending it (crash, killed tmux):
        tidy what would otherwise keep running, and say what was done (None: nothing to do)."""
        return None

    # --- the agent's own state (its conversations), as this mode places it ----------------------

    def agent_cwd(self, session: Session) -> str:
        """The directory the agent works in, as the agent itself sees it."""
        return session.worktree_path or session.workdir

    def agent_state_dir(self, session: Session, state: AgentState, env: Mapping[str, str]) -> Path | None:
        """Where the agent keeps its state (conversations) for this session; `env` is the caller's."""
        return state.host_dir({**env, **session.env})

    def export_conversation(self, session: Session, env: Mapping[str, str]) -> bool:
        """Copy the session's conversation from where this mode kept it to the agent's state on the
        host, for an agent that goes on in `session.workdir` (a move out). False when none was copied."""
        return False

    # --- worktrees (modes that give a session one) -----------------------------------------------

    def retire_worktree(self, session: Session, *, ref: str, message: str, even_clean: bool,
                        record: Recorder | None) -> tuple[SavedWork | None, list[str]]:
        """Save the worktree's uncommitted work to `ref`, then remove the worktree (see worktree.py)."""
        raise WorktreeError(f"a {self.mode.value} session has no worktree of its own")

    def readd_worktree(self, name: str, repo: Git, path: Path, branch: str) -> None:
        """Make a paused session's worktree again, on its branch."""
        raise WorktreeError(f"a {self.mode.value} session has no worktree of its own")

    def discard_made(self, session: Session, made: dict[str, Any], *, save_dirty: bool = True) -> list[str]:
        """Undo what a create or a move that stopped part way had made (as told to `will_make`)."""
        return []

    # --- moves between modes (core/moves.py) -----------------------------------------------------

    def configure_session(self, session: Session, config: EffectiveConfig, options: dict[str, Any]) -> list[str]:
        """Settle this mode's settings for a session moving into it (kept in `session.extra`; the
        image, say, made ready); notes on what was ignored. Nothing for modes without settings."""
        return []

    def enter_worktree(self, session: Session) -> None:
        """Hand a session's existing worktree over to this mode's sandbox (a move in)."""
        return None

    def leave_worktree(self, session: Session) -> None:
        """Hand the worktree back from this mode's sandbox, with what the agent did there (a move out)."""
        return None

    # A sandbox is what a mode runs around the agent beyond its working directory (a container);
    # direct and worktree modes have none.
    def stop_sandbox(self, session: Session) -> None:
        """Stop the session's sandbox, keeping it (start_sandbox starts it again)."""
        return None

    def start_sandbox(self, session: Session) -> None:
        """Start a stopped sandbox again."""
        return None

    def remove_sandbox(self, session: Session) -> list[str]:
        """Remove the session's sandbox and what only it used (its home); notes on what went."""
        return []
