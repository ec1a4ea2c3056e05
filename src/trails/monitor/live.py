"""Live-session operations the engine delegates to: supervisor control, auto-yes, pause/resume, output.

Pause saves a worktree session's uncommitted work (staged, unstaged, untracked) with
`workstate.save_work` to `refs/trails/paused/<name>/<stamp>`, records the agent's conversation id,
stops the agent and its tmux session and removes the worktree (the branch stays). Resume re-adds the
worktree at the branch, restores the saved work exactly and restarts the agent on its conversation
(Claude Code: `--resume <id>`). A direct-mode pause only stops the agent.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import SessionStateError, WorktreeError
from trails.core.models import LIVE_STATUSES, Mode, Session, Status

if TYPE_CHECKING:
    from trails.agents.base import AgentProfile
    from trails.core.config import EffectiveConfig
    from trails.core.engine import Engine

_FLAGS_WITH_VALUE = ("--session-id", "--resume", "-r")


# --- used while creating a session ------------------------------------------------------------------


def with_conversation_id(profile: AgentProfile, argv: list[str]) -> tuple[str | None, list[str]]:
    """For agents that accept one, fix the conversation id up front: (id, argv that sets it)."""
    flag = profile.session_id_flag
    taken = {flag, profile.resume_flag, profile.continue_flag, "-r", "-c"}
    if not flag or any(a in taken for a in argv[1:]):
        return None, argv
    conversation = str(uuid.uuid4())
    return conversation, [*argv, flag, conversation]


def auto_yes_default(config: EffectiveConfig) -> tuple[bool, list[str]]:
    """Whether new sessions answer prompts by default, and the repository auto_yes keys ignored."""
    if config.project.auto_yes is None and config.user.auto_yes is None:
        return False, []  # the common case, without importing the policy machinery
    from trails.monitor import policy

    return policy.auto_yes_default(config), policy.project_auto_yes_ignored(config)


def start_output_log(home: Path, tmux_session: str) -> None:
    from trails.monitor import outputlog

    outputlog.start_new(home, tmux_session)


def supervisor_running(home: Path) -> bool:
    from trails.monitor import daemon

    return daemon.is_running(home)


def nudge_supervisor(home: Path) -> None:
    """Have a running supervisor look at the state database now (it would within a second anyway)."""
    from trails.core import afterwards

    afterwards.later(lambda: _nudge(home))


def _nudge(home: Path) -> None:
    from trails.monitor import daemon

    if daemon.is_running(home):
        daemon.nudge(home)


def _event(engine: Engine, kind: str, session: str, **data: Any) -> None:
    from trails.monitor import events

    events.persist(engine.store, events.Event(kind, session, data))


# --- auto-yes ----------------------------------------------------------------------------------------


def set_auto_yes(engine: Engine, name: str, on: bool) -> Session:
    session = engine.store.get_session(name)
    engine.store.update_session(session.id, auto_yes=on)
    session.auto_yes = on
    engine.store.audit("auto_yes_set", name, enabled=on)
    nudge_supervisor(engine.home)
    return session


# --- conversation ids --------------------------------------------------------------------------------


def _claude_projects(session: Session) -> Path:
    from trails.agents.claude import ClaudeState

    if session.mode is Mode.CONTAINER:  # the CLI inside keeps its state in the container's home
        from trails.core.paths import container_home

        state_dir = ClaudeState().container_dir(container_home(session.name))
    else:
        state_dir = ClaudeState().host_dir({**os.environ, **session.env})
    assert state_dir is not None
    return state_dir / "projects"


def _claude_cwd(session: Session) -> str:
    """The folder the CLI works in, as it names its projects."""
    from trails.isolation.container import WORKSPACE

    return WORKSPACE if session.mode is Mode.CONTAINER else (session.worktree_path or session.workdir)


def _is_claude(session: Session) -> bool:
    from trails.agents.registry import profile_for_argv

    return session.extra.get("agent_profile") == "claude" or profile_for_argv(session.command).name == "claude"


def _transcript(session: Session, conversation: str) -> Path | None:
    return next(_claude_projects(session).glob(f"*/{conversation}.jsonl"), None)


def conversation_id(session: Session) -> str | None:
    """The agent's current conversation. Claude Code: its transcripts under CLAUDE_CONFIG_DIR/projects,
    the newest one written since this run started (a resume may continue under a new id)."""
    if not _is_claude(session):
        return session.conversation_id
    from trails.agents.claude import project_dir_name

    slug = project_dir_name(_claude_cwd(session))
    started = float(session.extra.get("started_at") or session.created_at or 0)
    candidates = []
    for path in (_claude_projects(session) / slug).glob("*.jsonl"):
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            continue
        if mtime >= started - 1:
            candidates.append((mtime, path.stem))
    stems = {stem for _, stem in candidates}
    if session.conversation_id in stems and len(stems) == 1:
        return session.conversation_id
    if candidates:
        return max(candidates)[1]
    return session.conversation_id


def resume_argv(session: Session) -> list[str]:
    from trails.agents.registry import profile_of

    base = list(session.extra.get("base_argv") or session.command)
    cleaned: list[str] = []
    skip = False
    for arg in base:
        if skip:
            skip = False
            continue
        if arg in _FLAGS_WITH_VALUE:
            skip = True
            continue
        cleaned.append(arg)
    profile = profile_of(session)
    conv = session.conversation_id
    if _is_claude(session) and conv:
        if _transcript(session, conv) is not None:
            return [*cleaned, "--resume", conv]
        return [*cleaned, "--session-id", conv]  # nothing was said yet: start it under the same id
    if conv and profile.resume_flag:
        return [*cleaned, profile.resume_flag, conv]
    if profile.continue_flag:
        return [*cleaned, profile.continue_flag]
    return cleaned


# --- pause / resume ----------------------------------------------------------------------------------


def pause(engine: Engine, name: str) -> dict[str, Any]:
    """Save the session's work and conversation, stop it, free its worktree. Returns what was saved."""
    from trails.core import workstate
    from trails.infra.git import Git
    from trails.isolation.worktree import remove_worktree, worktree_git

    session = engine.get_session(name)
    if session.status is Status.PAUSED:
        raise SessionStateError(f"session {name!r} is already paused", hint=f"`trails resume {name}`")
    provider = engine.provider(session.mode)
    conversation = conversation_id(session)
    provider.stop(session)
    if hasattr(engine, "release_limits"):
        engine.release_limits(session)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    info: dict[str, Any] = {"at": time.time(), "conversation_id": conversation, "worktree_removed": False}
    notes: list[str] = []
    wt_path = Path(session.worktree_path) if session.worktree_path else None
    wt = worktree_git(session) if session.mode is not Mode.DIRECT else None
    if wt is not None and wt_path is not None and session.repo_root:
        ref = f"refs/trails/paused/{name}/{stamp}"
        dirty = workstate.has_uncommitted_work(wt)
        saved = workstate.save_work(wt, ref, f"trails: work of session {name} saved at pause")
        engine.store.add_checkpoint(session, "pause", ref, saved.commit,
                                    "uncommitted work saved at pause" if dirty else "clean at pause")
        remove_worktree(Git(session.repo_root), wt_path)
        info.update(ref=ref, commit=saved.commit, dirty=dirty, worktree_removed=True)
        notes.append(f"work saved to {ref} ({saved.commit[:12]})" if dirty else "no uncommitted work")
        notes.append(f"worktree {wt_path} removed; branch {session.branch} kept")
    else:
        notes.append(f"the agent was stopped; its files stay in {session.workdir}")
    if conversation:
        notes.append(f"conversation {conversation} will be continued on resume")
    session.extra["paused"] = info
    reason = "paused; " + "; ".join(notes)
    engine.store.update_session(session.id, status=Status.PAUSED, status_reason=reason,
                                conversation_id=conversation, extra=session.extra)
    engine.store.audit("session_paused", name, **info, notes=notes)
    _event(engine, "paused", name, ref=info.get("ref"), commit=info.get("commit"), conversation_id=conversation)
    nudge_supervisor(engine.home)
    return {"session": name, "notes": notes, **info}


def resume(engine: Engine, name: str) -> dict[str, Any]:
    """Bring a paused session back: its worktree, its saved work exactly, its agent on its conversation."""
    from trails.core import workstate
    from trails.core.locks import file_lock
    from trails.infra.git import Git
    from trails.isolation.worktree import worktree_git

    session = engine.store.get_session(name)
    if session.status is not Status.PAUSED:
        raise SessionStateError(f"session {name!r} is {session.status.value}, not paused")
    info = dict(session.extra.get("paused") or {})
    notes: list[str] = []
    provider = engine.provider(session.mode)
    if info.get("worktree_removed") and session.worktree_path and session.repo_root and session.branch:
        path = Path(session.worktree_path)
        if path.exists():
            raise WorktreeError(f"cannot resume {name!r}: {path} exists", hint="move it away, then resume")
        repo = Git(session.repo_root)
        with file_lock(f"worktrees:{repo.common_dir()}"):
            provider.readd_worktree(name, repo, path, session.branch)
        if info.get("commit"):
            wt = worktree_git(session)
            assert wt is not None  # just made
            workstate.restore_work(wt, str(info["commit"]))
            notes.append(f"work restored from {info.get('ref')}")
        notes.append(f"worktree {path} re-created on branch {session.branch}")
    argv = resume_argv(session)
    engine.tmux.kill_session(session.tmux_session)
    start_output_log(engine.home, session.tmux_session)  # the screen starts afresh; `output` reads both
    engine.launch_agent(provider, session, argv)
    session.extra.pop("paused", None)
    session.extra["started_at"] = time.time()
    status = Status.LOADING if supervisor_running(engine.home) else Status.RUNNING
    engine.store.update_session(session.id, status=status, status_reason="resumed", extra=session.extra,
                                limits=session.limits, command=argv, container_id=session.container_id)
    engine.store.audit("session_resumed", name, command=argv, notes=notes)
    _event(engine, "resumed", name, conversation_id=session.conversation_id, command=argv)
    nudge_supervisor(engine.home)
    return {"session": name, "command": argv, "notes": notes, "conversation_id": session.conversation_id}


# --- output ------------------------------------------------------------------------------------------


def follow_output(engine: Engine, name: str, lines: int | None = None, raw: bool = False) -> Iterator[str]:
    """The last `lines` of output, then new output as it comes, until the session stops."""
    from trails.monitor import outputlog

    session = engine.store.get_session(name)
    if lines:
        text = outputlog.read_text(engine.home, session.tmux_session, lines)
        if text:
            yield text + "\n"

    def still_live() -> bool:
        try:
            return engine.store.get_session(name).status in LIVE_STATUSES
        except Exception:
            return False

    yield from outputlog.follow(engine.home, session.tmux_session, raw=raw, still_live=still_live)
