"""A session's life after it is made: its conversation, pause, resume, auto-yes.

Pause saves a worktree session's uncommitted work (staged, unstaged, untracked) with
`workstate.save_work` to `refs/trails/paused/<name>/<stamp>`, records the agent's conversation id,
stops the agent and its tmux session and removes the worktree (the branch stays). Resume re-adds the
worktree at the branch, restores the saved work exactly and restarts the agent on its conversation.
A direct-mode pause only stops the agent.

What is particular to an agent (how it names and continues a conversation, where it keeps its
transcripts) is its profile's (trails/agents/); where a mode puts the agent and its state is the
provider's (trails/isolation/). The engine holds the session's lock around pause and resume.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core import faults, recovery
from trails.core.errors import SessionStateError, WorktreeError
from trails.core.models import Mode, Session, Status

if TYPE_CHECKING:
    from trails.agents.base import AgentProfile
    from trails.api.caller import Caller
    from trails.core.engine import Engine
    from trails.core.recovery import Teardown
    from trails.core.workstate import SavedWork
    from trails.isolation.base import IsolationProvider

# In a paused session's extra: it was paused for being idle this many seconds (`idle_pause_after`), so
# the next send resumes it first (core/engine.py). Gone once it is resumed.
IDLE_PAUSED_KEY = "idle_paused"


# --- the agent's conversation ------------------------------------------------------------------------


def with_conversation_id(profile: AgentProfile, argv: list[str]) -> tuple[str | None, list[str]]:
    """For agents that accept one, fix the conversation id up front: (id, argv that sets it)."""
    return profile.with_conversation_id(argv, str(uuid.uuid4()))


def current_conversation(engine: Engine, session: Session, env: Mapping[str, str]) -> str | None:
    """The agent's current conversation, as its own state shows it (a resume may have continued it
    under a new id), else the one it was started with. `env` is the caller's (where that state is)."""
    from trails.agents.registry import profile_of

    state = profile_of(session).state
    provider = engine.provider(session.mode)
    state_dir = provider.agent_state_dir(session, state, env) if state else None
    if state is None or state_dir is None:
        return session.conversation_id
    started = float(session.extra.get("started_at") or session.created_at or 0)
    return state.current_conversation(state_dir, provider.agent_cwd(session), since=started - 1,
                                      known=session.conversation_id)


def resume_argv(engine: Engine, session: Session, env: Mapping[str, str]) -> list[str]:
    """The agent's command line continuing its conversation (as far as its profile can)."""
    from trails.agents.registry import profile_of

    profile = profile_of(session)
    conversation = session.conversation_id
    said = True
    if conversation and profile.state is not None:
        state_dir = engine.provider(session.mode).agent_state_dir(session, profile.state, env)
        said = state_dir is None or profile.state.has_conversation(state_dir, conversation)
    return profile.resume_argv(list(session.extra.get("base_argv") or session.command), conversation, said=said)


# --- auto-yes ----------------------------------------------------------------------------------------


def set_auto_yes(engine: Engine, name: str, on: bool, *, caller: Caller) -> Session:
    session = engine.store.get_session(name)
    engine.store.update_session(session.id, auto_yes=on)
    session.auto_yes = on
    engine.store.audit("auto_yes_set", name, enabled=on, caller=caller.label)
    engine.nudge_supervisor()
    return session


# --- pause / resume ----------------------------------------------------------------------------------


def pause(engine: Engine, name: str, *, caller: Caller) -> dict[str, Any]:
    """Save the session's work and conversation, stop it, free its worktree. Returns what was saved."""
    session = engine.settled(name)
    teardown = recovery.Teardown.of(session)
    if session.status is Status.PAUSED and teardown is None:
        raise SessionStateError(f"session {name!r} is already paused", hint=f"`trails resume {name}`")
    provider = engine.provider(session.mode)
    if teardown is None and recovery.worktree_state(session) == "broken" and session.mode is not Mode.DIRECT:
        raise WorktreeError(f"cannot pause {name!r}: {recovery.worktree_gone(session)}",
                            hint=f"copy out what you need, then `trails kill {name} --force`")
    conversation = teardown.conversation_id if teardown and teardown.conversation_id else \
        current_conversation(engine, session, caller.env)
    from trails.core import freeze

    freeze.thaw(engine.store, session)  # a stopped process would keep tmux's hang-up pending
    provider.stop(session)
    engine.release_limits(session)
    faults.point("pause", "stopped")
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
    faults.point("pause", "recorded")
    engine.nudge_supervisor()
    return {"session": name, "notes": notes, **info}


def _pause_worktree(engine: Engine, session: Session, provider: IsolationProvider, conversation: str | None,
                    teardown: Teardown | None, notes: list[str]) -> dict[str, Any]:
    """Save the worktree's work (even a clean one: resume restores the index exactly) and remove it,
    or finish an interrupted pause or kill that already saved it."""
    stamp = teardown.stamp if teardown else recovery.stamp()
    ref = f"refs/trails/paused/{session.name}/{stamp}"

    def record(saved: SavedWork | None) -> None:
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
    from trails.core import outputlog

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
        session.conversation_id = current_conversation(engine, session, caller.env)
    else:
        raise SessionStateError(f"session {name!r} is {session.status.value}, not paused",
                                hint="resume restarts paused, failed (error) and completed sessions")
    provider = engine.provider(session.mode)
    # Noted before anything is made: a resume that dies from here is recorded or undone (recover_resume).
    session.extra[recovery.RESUMING] = {"worktree_removed": bool(info.get("worktree_removed")),
                                        "ref": info.get("ref"), "commit": info.get("commit")}
    engine.store.update_session(session.id, extra=session.extra)
    faults.point("resume", "noted")
    notes += _bring_back_worktree(provider, session, info)
    argv = resume_argv(engine, session, caller.env)
    engine.tmux.kill_session(session.tmux_session)
    outputlog.start_new(engine.home, session.tmux_session)  # the screen starts afresh; `output` reads both
    engine.launch_agent(provider, session, argv, caller.env)
    faults.point("resume", "launched")
    session.paused = session.last_output = None
    session.extra.pop(recovery.TEARDOWN, None)
    session.extra.pop(recovery.RESUMING, None)
    session.extra.pop(IDLE_PAUSED_KEY, None)
    session.extra["started_at"] = time.time()
    engine.store.update_session(session.id, status=engine.starting_status(), status_reason="resumed",
                                extra=session.extra, limits=session.limits, command=argv,
                                container_id=session.container_id, conversation_id=session.conversation_id,
                                paused=None, last_output=None)
    engine.store.audit("session_resumed", name, command=argv, notes=notes, conversation_id=session.conversation_id,
                       caller=caller.label)
    faults.point("resume", "recorded")
    engine.nudge_supervisor()
    return {"session": name, "command": argv, "notes": notes, "conversation_id": session.conversation_id}


def recover_resume(engine: Engine, session: Session) -> None:
    """Settle a resume whose process died (the caller holds the session's lock): recorded when its
    agent already runs, else undone: the worktree it re-added is removed (its work is in the ref it
    was restored from; anything else found there is saved first) and the session is as it was."""
    from trails.core import workstate
    from trails.infra.git import Git
    from trails.isolation.worktree import remove_worktree, worktree_git

    note = dict(session.extra.pop(recovery.RESUMING))
    pane = engine.tmux.list_panes().get(session.tmux_session)
    if pane is not None and not pane.dead:
        session.paused = session.last_output = None
        session.extra.pop(recovery.TEARDOWN, None)
        session.extra["started_at"] = time.time()
        status, reason = engine.starting_status(), "resumed (recorded after the process resuming it ended)"
        engine.store.update_session(session.id, status=status, status_reason=reason, extra=session.extra,
                                    paused=None, last_output=None,
                                    audits=[("session_resumed", session.name, {"notes": [reason]})])
        session.status, session.status_reason = status, reason
        return
    engine.tmux.kill_session(session.tmux_session)
    notes = []
    path = Path(session.worktree_path) if session.worktree_path else None
    if note.get("worktree_removed") and path is not None and session.repo_root and path.exists():
        wt = worktree_git(session) if recovery.worktree_state(session) == "ok" else None
        if wt is not None:
            tree = wt.snapshot_tree()
            expected = {wt.out("rev-parse", f"{c}^{{tree}}") for c in (note.get("commit"), "HEAD") if c}
            if tree not in expected:  # written since the crash: kept before the worktree goes
                ref = f"refs/trails/paused/{session.name}/{recovery.stamp()}-found"
                saved = workstate.save_work(wt, ref, f"trails: found in {path} after a resume of {session.name} died")
                engine.store.add_checkpoint(session, "resume", ref, saved.commit,
                                            "found in the worktree of a resume that died")
                notes.append(f"what was found in {path} is saved at {ref}")
        remove_worktree(Git(session.repo_root), path)
    reason = ("a `trails resume` was interrupted (its process ended) and undone"
              + (f" ({'; '.join(notes)})" if notes else "") + f"; `trails resume {session.name}` resumes it")
    engine.store.update_session(session.id, status_reason=reason, extra=session.extra,
                                audits=[("session_resume_interrupted", session.name, {"notes": notes})])
    session.status_reason = reason


def _restartable(session: Session, notes: list[str]) -> dict[str, Any]:
    """What resuming an `error` or `completed` session starts from: its worktree as it is, or, when
    that was removed, its branch (what was uncommitted there is gone with it)."""
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


def _bring_back_worktree(provider: IsolationProvider, session: Session, info: dict[str, Any]) -> list[str]:
    """Re-create a removed worktree at the session's branch, with the saved work restored exactly."""
    from trails.core import workstate
    from trails.core.locks import file_lock
    from trails.infra.git import Git
    from trails.isolation.worktree import worktree_git

    if not (info.get("worktree_removed") and session.worktree_path and session.repo_root and session.branch):
        return []
    path = Path(session.worktree_path)
    if path.exists():
        raise WorktreeError(f"cannot resume {session.name!r}: {path} exists", hint="move it away, then resume")
    repo = Git(session.repo_root)
    with file_lock(f"worktrees:{repo.common_dir()}"):
        repo.run("worktree", "prune", check=False)  # git may still list the removed one
        provider.readd_worktree(session.name, repo, path, session.branch)
    notes = []
    if info.get("commit"):
        wt = worktree_git(session)
        assert wt is not None  # just made
        workstate.restore_work(wt, str(info["commit"]))
        faults.point("resume", "restored")
        notes.append(f"work restored from {info.get('ref')}")
    notes.append(f"worktree {path} re-created on branch {session.branch}")
    return notes
