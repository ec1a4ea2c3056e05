"""Live-session operations the engine delegates to: supervisor control, auto-yes, pause/resume, output.

Pause saves a worktree session's uncommitted work (staged, unstaged, untracked) with
`workstate.save_work` to `refs/trails/paused/<name>/<stamp>`, records the agent's conversation id,
stops the agent and its tmux session and removes the worktree (the branch stays). Resume re-adds the
worktree at the branch, restores the saved work exactly and restarts the agent on its conversation
(Claude Code: `--resume <id>`). A direct-mode pause only stops the agent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import SessionStateError, WorktreeError
from trails.core.models import LIVE_STATUSES, Mode, Session, Status

if TYPE_CHECKING:
    from trails.agents.base import AgentProfile
    from trails.api.caller import Caller
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


# --- auto-yes ----------------------------------------------------------------------------------------


def set_auto_yes(engine: Engine, name: str, on: bool, *, caller: Caller) -> Session:
    session = engine.store.get_session(name)
    engine.store.update_session(session.id, auto_yes=on)
    session.auto_yes = on
    engine.store.audit("auto_yes_set", name, enabled=on, caller=caller.label)
    nudge_supervisor(engine.home)
    return session


# --- conversation ids --------------------------------------------------------------------------------


def _claude_projects(session: Session, env: Mapping[str, str]) -> Path:
    from trails.agents.claude import ClaudeState

    if session.mode is Mode.CONTAINER:  # the CLI inside keeps its state in the container's home
        from trails.core.paths import container_home

        state_dir = ClaudeState().container_dir(container_home(session.name))
    else:
        state_dir = ClaudeState().host_dir({**env, **session.env})
    assert state_dir is not None
    return state_dir / "projects"


def _claude_cwd(session: Session) -> str:
    """The folder the CLI works in, as it names its projects."""
    from trails.isolation.container import WORKSPACE

    return WORKSPACE if session.mode is Mode.CONTAINER else (session.worktree_path or session.workdir)


def _is_claude(session: Session) -> bool:
    from trails.agents.registry import profile_for_argv

    return session.extra.get("agent_profile") == "claude" or profile_for_argv(session.command).name == "claude"


def _transcript(session: Session, conversation: str, env: Mapping[str, str]) -> Path | None:
    return next(_claude_projects(session, env).glob(f"*/{conversation}.jsonl"), None)


def conversation_id(session: Session, env: Mapping[str, str]) -> str | None:
    """The agent's current conversation. Claude Code: its transcripts under CLAUDE_CONFIG_DIR/projects
    (as the caller's environment `env` and the session's set it), the newest one written since this
    run started (a resume may continue under a new id)."""
    if not _is_claude(session):
        return session.conversation_id
    from trails.agents.claude import project_dir_name

    slug = project_dir_name(_claude_cwd(session))
    started = float(session.extra.get("started_at") or session.created_at or 0)
    candidates = []
    for path in (_claude_projects(session, env) / slug).glob("*.jsonl"):
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


def resume_argv(session: Session, env: Mapping[str, str]) -> list[str]:
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
        if _transcript(session, conv, env) is not None:
            return [*cleaned, "--resume", conv]
        return [*cleaned, "--session-id", conv]  # nothing was said yet: start it under the same id
    if conv and profile.resume_flag:
        return [*cleaned, profile.resume_flag, conv]
    if profile.continue_flag:
        return [*cleaned, profile.continue_flag]
    return cleaned


# --- pause / resume ----------------------------------------------------------------------------------


def pause(engine: Engine, name: str, *, caller: Caller) -> dict[str, Any]:
    """Save the session's work and conversation, stop it, free its worktree. Returns what was saved."""
    from trails.core import recovery

    session = engine.settled(name)
    teardown = recovery.Teardown.of(session)
    if session.status is Status.PAUSED and teardown is None:
        raise SessionStateError(f"session {name!r} is already paused", hint=f"`trails resume {name}`")
    provider = engine.provider(session.mode)
    if teardown is None and recovery.worktree_state(session) == "broken" and session.mode is not Mode.DIRECT:
        raise WorktreeError(f"cannot pause {name!r}: {recovery.worktree_gone(session)}",
                            hint=f"copy out what you need, then `trails kill {name} --force`")
    conversation = teardown.conversation_id if teardown and teardown.conversation_id else \
        conversation_id(session, caller.env)
    provider.stop(session)
    if hasattr(engine, "release_limits"):
        engine.release_limits(session)
    info: dict[str, Any] = {"at": time.time(), "conversation_id": conversation, "worktree_removed": False}
    notes: list[str] = []
    if session.mode is not Mode.DIRECT and session.worktree_path and session.repo_root:
        info.update(_pause_worktree(engine, session, provider, conversation, teardown, notes))
    else:
        notes.append(f"the agent was stopped; its files stay in {session.workdir}")
    if conversation:
        notes.append(f"conversation {conversation} will be continued on resume")
    session.paused = info
    session.extra.pop(recovery.TEARDOWN, None)
    reason = "paused; " + "; ".join(notes)
    engine.store.update_session(session.id, status=Status.PAUSED, status_reason=reason,
                                conversation_id=conversation, extra=session.extra, paused=info)
    engine.store.audit("session_paused", name, **info, notes=notes, caller=caller.label)
    nudge_supervisor(engine.home)
    return {"session": name, "notes": notes, **info}


def _pause_worktree(engine: Engine, session: Session, provider: Any, conversation: str | None,
                    teardown: Any, notes: list[str]) -> dict[str, Any]:
    """Save the worktree's work (even a clean one: resume restores the index exactly) and remove it,
    or finish an interrupted pause or kill that already saved it."""
    from trails.core import recovery

    stamp = teardown.stamp if teardown else recovery.stamp()
    ref = f"refs/trails/paused/{session.name}/{stamp}"

    def record(saved: Any) -> None:
        note = "uncommitted work saved at pause" if saved and saved.changed else "clean at pause"
        recovery.begin_teardown(engine, session, "pause", stamp, saved, note=note, conversation_id=conversation)

    saved, removed = provider.retire_worktree(session, ref=ref, message=f"trails: work of session {session.name} "
                                              "saved at pause", even_clean=True, record=record)
    info: dict[str, Any] = {"worktree_removed": True}
    if saved is not None:
        info.update(ref=saved.ref, commit=saved.commit, dirty=saved.changed)
        notes.append(f"work saved to {saved.ref} ({saved.commit[:12]})" if saved.changed else "no uncommitted work")
    notes += removed
    notes.append(f"branch {session.branch} kept")
    return info


def resume(engine: Engine, name: str, *, caller: Caller) -> dict[str, Any]:
    """Bring a paused, failed or finished session back: its worktree (re-created on its branch, with
    the work saved at pause restored exactly), its agent on its conversation."""
    from trails.core import recovery

    session = engine.settled(name)
    teardown = recovery.Teardown.of(session)
    notes: list[str] = []
    if teardown is not None:  # a pause or kill died half way: finish taking the worktree down first
        stopping = engine.provider(session.mode)
        stopping.stop(session)
        info = {"worktree_removed": True, **_pause_worktree(engine, session, stopping, teardown.conversation_id,
                                                               teardown, notes)}
        session.conversation_id = teardown.conversation_id or session.conversation_id
    elif session.status is Status.PAUSED:
        info = dict(session.paused or {})
    elif session.status in (Status.ERROR, Status.COMPLETED):
        info = _restartable(session, notes)
        session.conversation_id = conversation_id(session, caller.env)
    else:
        raise SessionStateError(f"session {name!r} is {session.status.value}, not paused",
                                hint="resume restarts paused, failed (error) and completed sessions")
    provider = engine.provider(session.mode)
    notes += _bring_back_worktree(engine, session, info)
    argv = resume_argv(session, caller.env)
    engine.tmux.kill_session(session.tmux_session)
    start_output_log(engine.home, session.tmux_session)  # the screen starts afresh; `output` reads both
    engine.launch_agent(provider, session, argv, caller.env)
    session.paused = session.last_output = None
    session.extra.pop(recovery.TEARDOWN, None)
    session.extra["started_at"] = time.time()
    status = Status.LOADING if supervisor_running(engine.home) else Status.RUNNING
    engine.store.update_session(session.id, status=status, status_reason="resumed", extra=session.extra,
                                limits=session.limits, command=argv, container_id=session.container_id,
                                conversation_id=session.conversation_id, paused=None, last_output=None)
    engine.store.audit("session_resumed", name, command=argv, notes=notes, conversation_id=session.conversation_id,
                       caller=caller.label)
    nudge_supervisor(engine.home)
    return {"session": name, "command": argv, "notes": notes, "conversation_id": session.conversation_id}


def _restartable(session: Session, notes: list[str]) -> dict[str, Any]:
    """What resuming an `error` or `completed` session starts from: its worktree as it is, or, when
    that was removed, its branch (what was uncommitted there is gone with it)."""
    from trails.core import recovery

    if session.mode is Mode.DIRECT or not session.worktree_path:
        return {"worktree_removed": False}
    state = recovery.worktree_state(session)
    if state == "broken":
        raise WorktreeError(f"cannot resume {session.name!r}: {recovery.worktree_gone(session)}",
                            hint=f"move {session.worktree_path} away (or copy out what you need), then resume")
    if state == "missing":
        notes.append(f"the worktree {session.worktree_path} had been removed: anything uncommitted in it is lost")
        return {"worktree_removed": True}
    notes.append(f"the worktree {session.worktree_path} is kept as it is")
    return {"worktree_removed": False}


def _bring_back_worktree(engine: Engine, session: Session, info: dict[str, Any]) -> list[str]:
    """Re-create a removed worktree at the session's branch, with the saved work restored exactly."""
    from trails.core import workstate
    from trails.core.locks import file_lock
    from trails.infra.git import Git
    from trails.isolation.worktree import Provider as WorktreeProvider
    from trails.isolation.worktree import worktree_git

    if not (info.get("worktree_removed") and session.worktree_path and session.repo_root and session.branch):
        return []
    path = Path(session.worktree_path)
    if path.exists():
        raise WorktreeError(f"cannot resume {session.name!r}: {path} exists", hint="move it away, then resume")
    repo = Git(session.repo_root)
    with file_lock(f"worktrees:{repo.common_dir()}"):
        repo.run("worktree", "prune", check=False)  # git may still list the removed one
        provider = engine.provider(session.mode)
        assert isinstance(provider, WorktreeProvider)  # a session with a worktree has a worktree-based mode
        provider.readd_worktree(session.name, repo, path, session.branch)
    notes = []
    if info.get("commit"):
        wt = worktree_git(session)
        assert wt is not None  # just made
        workstate.restore_work(wt, str(info["commit"]))
        notes.append(f"work restored from {info.get('ref')}")
    notes.append(f"worktree {path} re-created on branch {session.branch}")
    return notes


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
