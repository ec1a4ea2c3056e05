"""Moving a session between isolation modes (upgrade / export) without losing work.

A move is a list of named steps, each with an undo. The steps run in order; when one fails, the
undos of those that ran are applied in reverse, so a failed move leaves the session as it was and
the error says at which step it stopped. Steps are looked up by name in this module at run time
(tests replace one with a failing stand-in to prove the rollback).

direct → worktree: stop the agent; save the main checkout's state (a commit under refs/trails/moves/);
make the session's branch and worktree at HEAD; restore that state into the worktree (verified);
put the main checkout back to its snapshot from before the session (refs/trails/start/<name>,
verified); start the agent in the worktree; record. worktree → container keeps the worktree and
starts the agent in a container; container → worktree stops the container and starts it on the host.

Before each step the move notes in the row what it has done and made so far (`moving` in extra; see
core/recovery.py): a move whose process dies is undone from that note on the next read or operation
(its agent is left stopped: the session is an `error` that `trails resume` restarts), or recorded
when the new agent was already running.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core import faults, outputlog, recovery, workstate
from trails.core.errors import InvalidInput, ModeUnavailable, MoveFailed, RuleViolation, SessionStateError
from trails.core.models import Mode, Session, Status
from trails.core.recovery import MOVING
from trails.infra.git import Git
from trails.infra.proc import pid_alive

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine

_BEFORE_CONTAINER = ["stop_agent", "save_main_work", "make_worktree", "restore_into_worktree", "reset_main_checkout"]
STEPS: dict[tuple[Mode, Mode], list[str]] = {
    (Mode.DIRECT, Mode.WORKTREE): [*_BEFORE_CONTAINER, "start_agent", "record_move"],
    (Mode.DIRECT, Mode.CONTAINER): [*_BEFORE_CONTAINER, "prepare_container", "start_agent", "record_move"],
    (Mode.WORKTREE, Mode.CONTAINER): ["stop_agent", "prepare_container", "start_agent", "record_move"],
    (Mode.CONTAINER, Mode.WORKTREE): ["stop_agent", "stop_container", "start_agent", "record_move",
                                      "remove_container"],
}
UNDO: dict[str, str] = {
    "stop_agent": "restart_original_agent",
    "make_worktree": "remove_new_worktree",
    "reset_main_checkout": "put_back_main_work",
    "prepare_container": "drop_new_container",
    "stop_container": "start_container_again",
    "start_agent": "stop_new_agent",
    "record_move": "restore_row",
}
# Steps after the move is recorded: the session has moved; a failure here is reported, not undone.
AFTER_RECORD = {"remove_container"}

LOST_ISOLATION = {
    (Mode.CONTAINER, Mode.WORKTREE): "the agent will run on the host: it can read and write anything your user can, "
                                     "reach the network, and is no longer held by the container's limits",
    (Mode.WORKTREE, Mode.DIRECT): "the agent will work in your main checkout",
}


@dataclass
class MoveResult:
    session: Session
    from_mode: Mode
    to_mode: Mode
    notes: list[str] = field(default_factory=list)
    restarted_with: str = "fresh"  # resume / continue / fresh

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session.to_dict(), "from": self.from_mode.value, "to": self.to_mode.value,
                "notes": self.notes, "restarted_with": self.restarted_with}


@dataclass
class MoveContext:
    engine: Engine
    original: Session  # the row as it was: what rollback restores
    session: Session  # the row as it becomes
    target: Mode
    options: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # the steps that ran, in order
    running: str | None = None
    # Who asked for the move (None: finishing one whose process died, found by a read).
    caller: Caller | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment the agent restarts in: the caller's."""
        return dict(self.caller.env) if self.caller else {}

    def who(self) -> dict[str, str]:
        """The audit's caller field."""
        return {"caller": self.caller.label} if self.caller else {}


# --- entry point ---------------------------------------------------------------------------------


def move(engine: Engine, name: str, target: Mode, *, downgrade: bool, force: bool,
         options: dict[str, Any] | None = None, caller: Caller) -> MoveResult:
    """Move session `name` to `target`; raises before changing anything when the move is not allowed."""
    from trails.core.locks import file_lock

    with file_lock(f"session:{name}"):
        original = engine.settled(name)
        source = original.mode
        _check_allowed(engine, original, target, downgrade=downgrade, force=force)
        ctx = MoveContext(engine, original, copy.deepcopy(original), target, dict(options or {}), caller=caller)
        if target.isolation_rank < source.isolation_rank:
            ctx.notes.append(f"isolation lost: {LOST_ISOLATION.get((source, target), 'less isolation')}")
        _run(ctx, STEPS[(source, target)])
        return MoveResult(ctx.session, source, target, ctx.notes, ctx.state.get("restarted_with", "fresh"))


def _check_allowed(engine: Engine, session: Session, target: Mode, *, downgrade: bool, force: bool) -> None:
    source = session.mode
    if source is target:
        raise InvalidInput(f"session {session.name!r} is already in {target.value} mode")
    lower = target.isolation_rank < source.isolation_rank
    if lower and not downgrade:
        raise InvalidInput(f"{source.value} → {target.value} is a downgrade",
                           hint=f"use `trails export-session {session.name} --to {target.value} --force`")
    if not lower and downgrade:
        raise InvalidInput(f"{source.value} → {target.value} is an upgrade",
                           hint=f"use `trails upgrade-session {session.name} --to {target.value}`")
    if (source, target) not in STEPS:
        raise InvalidInput(f"moving a session from {source.value} to {target.value} is not supported")
    if lower and not force:
        raise SessionStateError(
            f"moving {session.name!r} from {source.value} to {target.value} loses isolation: "
            f"{LOST_ISOLATION.get((source, target), 'less isolation')}",
            hint="pass --force to move anyway",
        )
    if session.repo_root is None:
        raise InvalidInput(f"session {session.name!r} is not in a git repository: it cannot get a worktree")
    why = engine.mode_unavailable(target, Path(session.repo_root), Path(session.repo_root))
    if why is not None:
        raise ModeUnavailable(f"{target.value} mode cannot run here: {why}")
    _check_rules(session, target)


def _check_rules(session: Session, target: Mode) -> None:
    from trails.core import config as config_mod
    from trails.core.models import parse_mode
    from trails.core.modes import applicable_rules, honoured_rules

    assert session.repo_root is not None
    config = config_mod.load(Path(session.repo_root))
    rules = applicable_rules(config.project_rules, session.extra.get("scope", []),
                             lambda: Git(session.repo_root or ".").ls_files())
    rules, _ = honoured_rules(rules, config, target)  # a repository's rule may not hold isolation down
    for rule in rules:
        why = f" ({rule.reason})" if rule.reason else ""
        if rule.required_mode and parse_mode(rule.required_mode) is not target:
            raise RuleViolation(f"rule {rule.pattern!r}{why} requires {rule.required_mode} mode")
        if rule.allowed_modes and target not in {parse_mode(m) for m in rule.allowed_modes}:
            raise RuleViolation(f"rule {rule.pattern!r}{why} allows only {', '.join(rule.allowed_modes)}")


def _run(ctx: MoveContext, steps: list[str]) -> None:
    module = sys.modules[__name__]
    done = ctx.done
    audit = ctx.engine.store.audit
    for step in steps:
        func: Callable[[MoveContext], None] = getattr(module, step)
        ctx.running = step
        if step not in AFTER_RECORD:
            _note_progress(ctx)
        faults.point("move", step)
        try:
            func(ctx)
        except BaseException as exc:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            if step in AFTER_RECORD:
                ctx.notes.append(f"after the move, {step.replace('_', ' ')} failed: {message}")
                continue
            # The failed step's own undo runs too: it may have done part of its work.
            problems = _rollback(ctx, [*done, step])
            _clear_progress(ctx)
            audit("session_move_failed", ctx.original.name, source=ctx.original.mode.value,
                  target=ctx.target.value, step=step, error=message, rollback_problems=problems, **ctx.who())
            text = (f"moving {ctx.original.name!r} from {ctx.original.mode.value} to {ctx.target.value} failed at "
                    f"step {step!r}: {message}; ")
            if problems:
                text += "rollback was incomplete: " + "; ".join(problems)
            else:
                text += "everything was put back as it was"
            raise MoveFailed(text, hint=_saved_hint(ctx)) from exc
        done.append(step)
    faults.point("move", "done")


def _note_progress(ctx: MoveContext) -> None:
    """What the move has done and made so far, in the row (before each step, and inside a step before
    it changes something of the user's): a move whose process dies is undone from this by `recover`,
    or recorded once its new agent runs."""
    state = {k: v for k, v in ctx.state.items() if k != "placement"}
    progress = {"to": ctx.target.value, "done": list(ctx.done), "running": ctx.running, "state": state,
                "session": ctx.session.to_dict()}
    ctx.engine.store.update_session(ctx.original.id, extra={**ctx.original.extra, MOVING: progress})


def _clear_progress(ctx: MoveContext) -> None:
    ctx.engine.store.update_session(ctx.original.id, extra=ctx.original.extra)


def recover(engine: Engine, session: Session) -> None:
    """Settle a move whose process died (the caller holds the session's lock): recorded when its new
    agent was already running, else undone step by step. The agent is not restarted by a read: the
    session is then an `error` that `trails resume` restarts where it was."""
    from trails.core.models import parse_mode

    progress = session.extra.pop(MOVING)
    data = dict(progress["session"])
    data["extra"].pop(MOVING, None)
    data.update(mode=parse_mode(data["mode"]), status=Status(data["status"]))
    ctx = MoveContext(engine, session, Session.from_dict(data), parse_mode(progress["to"]), {},
                      state=dict(progress["state"]))
    done, running = list(progress["done"]), progress["running"]
    ctx.done = done
    if "start_agent" in done:
        ctx.notes.append("recorded after the process moving it ended")
        record_move(ctx)
        for step in STEPS.get((session.mode, ctx.target), []):
            if step in AFTER_RECORD:
                try:
                    getattr(sys.modules[__name__], step)(ctx)
                except Exception as exc:
                    ctx.notes.append(f"after the move, {step.replace('_', ' ')} failed: {exc}")
        session.__dict__.update(copy.deepcopy(ctx.session).__dict__)
        return
    pane = engine.tmux.list_panes().get(session.tmux_session)
    if not done and pane is not None and not pane.dead:
        # It died before it stopped the agent: nothing was changed, the session goes on as it was.
        engine.store.update_session(session.id, extra=session.extra, audits=[(
            "session_move_failed", session.name, {"source": session.mode.value, "target": ctx.target.value,
                                                  "step": running, "error": "interrupted before any change"})])
        return
    problems = _rollback(ctx, [*done, running], skip={"restart_original_agent", "restore_row"})
    reason = (f"a move to {ctx.target.value} was interrupted (its process ended) and undone"
              + (f", incompletely: {'; '.join(problems)}" if problems else "")
              + f"; `trails resume {session.name}` restarts the agent")
    if ctx.state.get("work_ref"):
        reason += f"; the working state is also saved at {ctx.state['work_ref']}"
    reason += "".join(f"; {note}" for note in ctx.notes)
    engine.store.update_session(session.id, status=Status.ERROR, status_reason=reason, extra=session.extra,
                                audits=[("session_move_failed", session.name,
                                         {"source": session.mode.value, "target": ctx.target.value, "step": running,
                                          "error": "interrupted", "rollback_problems": problems,
                                          "notes": ctx.notes})])
    session.status, session.status_reason = Status.ERROR, reason


def _rollback(ctx: MoveContext, done: list[str], skip: frozenset[str] | set[str] = frozenset()) -> list[str]:
    module = sys.modules[__name__]
    problems = []
    for step in reversed(done):
        undo = UNDO.get(step)
        if undo is None or undo in skip:
            continue
        try:
            getattr(module, undo)(ctx)
        except Exception as exc:
            problems.append(f"{undo}: {getattr(exc, 'message', None) or exc}")
    return problems


def _saved_hint(ctx: MoveContext) -> str | None:
    ref = ctx.state.get("work_ref")
    return f"the working state is also saved at {ref}" if ref else None


# --- the steps -----------------------------------------------------------------------------------


def stop_agent(ctx: MoveContext) -> None:
    """Stop the agent (only its terminal: a container stays up) and wait until its process is gone."""
    from trails.core import freeze

    tmux = ctx.engine.tmux
    freeze.thaw(ctx.engine.store, ctx.original)  # a frozen agent would not hear tmux hang up
    pane = tmux.list_panes().get(ctx.original.tmux_session)
    tmux.kill_session(ctx.original.tmux_session)
    if pane is not None and pane.pid and not pane.dead:
        deadline = time.monotonic() + 5
        while pid_alive(pane.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    ctx.engine.release_limits(ctx.original)


def restart_original_agent(ctx: MoveContext) -> None:
    session = copy.deepcopy(ctx.original)
    pane = ctx.engine.tmux.list_panes().get(session.tmux_session)
    if pane is not None and not pane.dead:
        return  # never stopped
    ctx.engine.tmux.kill_session(session.tmux_session)
    argv, _ = continuation_argv(session, cwd_changed=False)
    provider = ctx.engine.provider(session.mode)
    outputlog.start_new(ctx.engine.home, session.tmux_session)
    ctx.engine.launch_agent(provider, session, argv, ctx.env)
    ctx.engine.store.update_session(session.id, limits=session.limits, container_id=session.container_id)


def save_main_work(ctx: MoveContext) -> None:
    """Everything uncommitted in the main checkout, as one commit (and a ref, so it cannot be lost)."""
    assert ctx.original.repo_root is not None
    repo = Git(ctx.original.repo_root)
    busy = repo.operation_in_progress()
    if busy:
        raise SessionStateError(f"a {busy} is in progress in {ctx.original.repo_root}; finish or abort it first")
    start = ctx.original.extra.get("start")
    head = repo.rev_parse("HEAD")
    if not start and not ctx.options.get("force"):
        raise SessionStateError("this session has no snapshot of the main checkout from before it started; "
                                "pass --force to leave the main checkout at HEAD with its changes moved")
    if start and start.get("head") != head:
        raise SessionStateError(
            f"HEAD of {ctx.original.repo_root} moved since the session started ({str(start.get('head'))[:12]} → "
            f"{str(head)[:12]}); the main checkout cannot be put back as it was",
        )
    stamp = recovery.stamp()
    ref = f"refs/trails/moves/{ctx.original.name}/{stamp}"
    saved = workstate.save_work(repo, ref, f"trails: work of session {ctx.original.name} moved to a worktree")
    ctx.state["work"], ctx.state["work_ref"] = saved.commit, ref


def make_worktree(ctx: MoveContext) -> None:
    from trails.core import config as config_mod
    from trails.isolation.base import CreateRequest

    assert ctx.original.repo_root is not None
    root = Path(ctx.original.repo_root)
    provider = ctx.engine.provider(Mode.WORKTREE)

    def will_make(made: dict[str, Any]) -> None:  # noted before git makes it: a crash leaves it findable
        ctx.state["made"] = made
        _note_progress(ctx)

    placement = provider.prepare(CreateRequest(
        name=ctx.original.name, cwd=root, repo_root=root, config=config_mod.load(root),
        branch=ctx.options.get("branch"), base="HEAD", will_make=will_make, env=ctx.env,
    ))
    ctx.state["placement"] = placement
    s = ctx.session
    s.mode, s.workdir = Mode.WORKTREE, str(placement.workdir)
    s.worktree_path, s.branch = str(placement.worktree_path), placement.branch
    s.base_commit = ctx.original.base_commit or placement.base_commit


def remove_new_worktree(ctx: MoveContext) -> None:
    # From what was noted before git made it: also a worktree whose `git worktree add` was cut short.
    if "made" in ctx.state:  # its work is in the moves ref
        ctx.engine.provider(Mode.WORKTREE).discard_made(ctx.original, ctx.state["made"], save_dirty=False)


def restore_into_worktree(ctx: MoveContext) -> None:
    work = ctx.state["work"]
    placement = ctx.state["placement"]
    wt = Git.linked_worktree(placement.repo_root, placement.worktree_path)  # new, of a worktree-mode session
    workstate.restore_work(wt, work)
    if wt.snapshot_tree() != Git(ctx.original.repo_root or ".").out("rev-parse", f"{work}^{{tree}}"):
        raise MoveFailed("the worktree does not hold exactly the saved changes after restoring them")
    ctx.notes.append("uncommitted changes (staged, unstaged, untracked) moved into the worktree")


def reset_main_checkout(ctx: MoveContext) -> None:
    """Put the main checkout back to its snapshot from before the session; the agent's changes are in
    the worktree now (and under the moves ref)."""
    assert ctx.original.repo_root is not None
    repo = Git(ctx.original.repo_root)
    start = ctx.original.extra.get("start") or {}
    target = start.get("commit")
    if target is None:  # clean at the start, or no snapshot (forced): HEAD with a clean index
        head = repo.rev_parse("HEAD")
        assert head is not None
        target = repo.commit_tree(f"{head}^{{tree}}", [head, head], "trails: clean checkout")
    work = ctx.state["work"]
    ctx.state["main_touched"], ctx.state["main_target"] = True, target
    _note_progress(ctx)
    stale = _paths(repo, work) - _paths(repo, target)
    workstate.restore_work(repo, target)
    faults.point("move", "resetting_main")  # its files put back, those the session added not yet removed
    for rel in sorted(stale, reverse=True):
        path = Path(repo.root) / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
        _prune_empty_dirs(path.parent, Path(repo.root))
    if repo.snapshot_tree() != repo.out("rev-parse", f"{target}^{{tree}}"):
        raise MoveFailed("the main checkout does not match its snapshot from before the session")
    ctx.state["main_reset"] = True  # from here, anything else found in it on an undo is someone's new work
    ctx.notes.append(f"the main checkout {repo.root} is back as it was before the session")


def _paths(repo: Git, commit: str) -> set[str]:
    out = repo.run("ls-tree", "-r", "-z", "--name-only", commit).stdout
    return {p for p in out.split("\0") if p}


def _prune_empty_dirs(directory: Path, root: Path) -> None:
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent


def put_back_main_work(ctx: MoveContext) -> None:
    assert ctx.original.repo_root is not None
    if "work" not in ctx.state:
        return
    repo = Git(ctx.original.repo_root)
    work, target = ctx.state["work"], ctx.state.get("main_target")
    if ctx.state.get("main_reset") and target and repo.snapshot_tree() != repo.out("rev-parse", f"{target}^{{tree}}"):
        # Changed since the reset finished (by the user, after a crash left the move half done): kept
        # beside the moves ref before the checkout is put back.
        ref = f"{ctx.state.get('work_ref') or f'refs/trails/moves/{ctx.original.name}/unknown'}-found"
        workstate.save_work(repo, ref, f"trails: main checkout found while undoing a move of {ctx.original.name}",
                            replace=True)
        ctx.notes.append(f"the main checkout held changes made since; they are saved at {ref}")
    workstate.restore_work(repo, work)


def prepare_container(ctx: MoveContext) -> None:
    from trails.core import config as config_mod
    from trails.core import limits as limits_mod

    s = ctx.session
    assert s.repo_root is not None
    config = config_mod.load(Path(s.repo_root))
    provider = ctx.engine.provider(Mode.CONTAINER)
    before = s.extra.get("ignored_settings")
    ctx.notes += provider.configure_session(s, config, {"network": ctx.options.get("network"),
                                                        "progress": ctx.options.get("progress"),
                                                        "image": ctx.options.get("image")})
    if s.extra.get("ignored_settings") is not before:  # left out of this move: audited once it is recorded
        ctx.state["ignored_settings"] = s.extra["ignored_settings"]
    explicit = {k: v for k, v in s.limits.items() if k in ("cpus", "memory", "pids_limit")
                and s.limits.get("sources", {}).get(k) == "flag"}
    limits = limits_mod.resolve(config, cpus=ctx.options.get("cpus", explicit.get("cpus")),
                                memory=ctx.options.get("memory", explicit.get("memory")),
                                pids_limit=ctx.options.get("pids_limit", explicit.get("pids_limit")), container=True)
    s.mode, s.limits = Mode.CONTAINER, limits.to_dict()
    ctx.state["new_container"] = True
    provider.enter_worktree(s)


def drop_new_container(ctx: MoveContext) -> None:
    provider = ctx.engine.provider(Mode.CONTAINER)
    provider.remove_sandbox(ctx.session)
    provider.leave_worktree(ctx.session)


def stop_container(ctx: MoveContext) -> None:
    provider = ctx.engine.provider(ctx.original.mode)
    provider.stop_sandbox(ctx.original)
    provider.leave_worktree(ctx.original)  # the agent's commits on its branch
    s = ctx.session
    s.mode, s.container_id = Mode.WORKTREE, None
    s.extra.pop("container", None)
    s.extra.pop("container_name", None)
    # Container defaults (cpus, memory, pids) are the container's; on the host only asked-for limits apply.
    sources = s.limits.get("sources", {})
    s.limits = {k: v for k, v in s.limits.items()
                if k in ("cpus", "memory", "pids_limit") and sources.get(k) != "default"}
    if s.limits:
        s.limits["sources"] = {k: sources[k] for k in s.limits if k in sources}


def start_container_again(ctx: MoveContext) -> None:
    provider = ctx.engine.provider(ctx.original.mode)
    provider.enter_worktree(ctx.original)
    provider.start_sandbox(ctx.original)


def start_agent(ctx: MoveContext) -> None:
    s = ctx.session
    cwd_changed = (s.worktree_path or s.workdir) != (ctx.original.worktree_path or ctx.original.workdir) or \
        Mode.CONTAINER in (s.mode, ctx.original.mode)
    argv, how = continuation_argv(s, cwd_changed=cwd_changed)
    ctx.state["restarted_with"] = how
    provider = ctx.engine.provider(s.mode)
    if ctx.original.mode is not s.mode:
        # A conversation kept in the old mode's place (a container's home) follows the agent to the host.
        exported = copy.copy(ctx.original)
        exported.workdir = s.workdir
        ctx.engine.provider(ctx.original.mode).export_conversation(exported, {**ctx.env, **s.env})
    outputlog.start_new(ctx.engine.home, s.tmux_session)  # a new agent: a new screen
    ctx.notes += ctx.engine.launch_agent(provider, s, argv, ctx.env)
    # As after create and resume: "loading" until its screen says otherwise (when a supervisor watches).
    s.status = ctx.engine.starting_status()
    s.status_reason = None
    if how == "fresh":
        ctx.notes.append("the agent was restarted afresh (its profile cannot continue a conversation)")
    else:
        ctx.notes.append(f"the agent was restarted in its new place, continuing its conversation ({how})")


def stop_new_agent(ctx: MoveContext) -> None:
    ctx.engine.tmux.kill_session(ctx.session.tmux_session)
    ctx.engine.release_limits(ctx.session)
    if ctx.session.mode is not ctx.original.mode and ctx.session.container_id != ctx.original.container_id:
        ctx.engine.provider(ctx.session.mode).remove_sandbox(ctx.session)  # the new container


def record_move(ctx: MoveContext) -> None:
    s = ctx.session
    history = list(s.extra.get("moves", []))
    history.append({"from": ctx.original.mode.value, "to": s.mode.value, "at": time.time(),
                    "work_ref": ctx.state.get("work_ref")})
    s.extra["moves"] = history
    if ctx.original.mode is Mode.DIRECT:
        s.extra.pop("start", None)  # the main checkout is the user's again
    ctx.engine.store.update_session(
        s.id, mode=s.mode, status=s.status, status_reason=s.status_reason, workdir=s.workdir,
        worktree_path=s.worktree_path, branch=s.branch, base_commit=s.base_commit, container_id=s.container_id,
        limits=s.limits, extra=s.extra,
    )
    ctx.engine.store.audit("session_moved", s.name, source=ctx.original.mode.value, target=s.mode.value,
                           workdir=s.workdir, branch=s.branch, container_id=s.container_id,
                           work_ref=ctx.state.get("work_ref"), restarted_with=ctx.state.get("restarted_with"),
                           notes=ctx.notes, **ctx.who())
    if ctx.state.get("ignored_settings"):  # as `trails new` does: what the repository asked for and did not get
        ctx.engine.store.audit("settings_ignored", s.name, settings=ctx.state["ignored_settings"], **ctx.who())


def restore_row(ctx: MoveContext) -> None:
    o = ctx.original
    ctx.engine.store.update_session(
        o.id, mode=o.mode, status=o.status, status_reason=o.status_reason, workdir=o.workdir,
        worktree_path=o.worktree_path, branch=o.branch, base_commit=o.base_commit, container_id=o.container_id,
        limits=o.limits, extra=o.extra,
    )


def remove_container(ctx: MoveContext) -> None:
    removed = ctx.engine.provider(ctx.original.mode).remove_sandbox(ctx.original)
    if removed:
        ctx.notes.append(f"container {', '.join(c[:12] for c in removed)} stopped and removed; "
                         "the worktree keeps every change")


# --- restarting the agent ------------------------------------------------------------------------


def continuation_argv(session: Session, *, cwd_changed: bool) -> tuple[list[str], str]:
    """argv that restarts the session's agent continuing its conversation where the profile can.

    Claude's --continue picks the last conversation *of the working directory*, so after a change of
    directory a known conversation id (--resume ID) is the reliable way back; else --continue.
    """
    from trails.agents import registry

    base = list(session.extra.get("base_argv") or session.command)
    profile = registry.profile_of(session)
    if profile.resume_flag and session.conversation_id and (cwd_changed or not profile.continue_flag):
        return [*base, profile.resume_flag, session.conversation_id], "resume"
    if profile.continue_flag:
        return [*base, profile.continue_flag], "continue"
    return base, "fresh"
