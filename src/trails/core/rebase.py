"""Bringing a session's branch up to date: `git rebase` in the session's worktree, aborted on conflict.

A clean rebase changes nothing but the branch (its old tip is kept under refs/trails/pre-rebase/…).
A conflicting one is aborted, which puts HEAD, the branch, the index and the files back as they
were; the session keeps running and is flagged with the conflict (`session.conflict`, shown by ls
and show) rather than given a new status, because its agent is still alive and its status still
says what the agent does. With `to_agent`, the agent is asked to rebase and resolve the files itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trails.core import faults, recovery
from trails.core.errors import GitError, InvalidInput, RepoBusy, SessionStateError, TrailsError, UncommittedWork
from trails.core.merge import session_worktree
from trails.core.models import Mode
from trails.infra.git import Git

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine
    from trails.core.models import Session


class RebaseConflict(GitError):
    """The rebase stopped on conflicts; it was aborted and nothing changed."""

    code = "rebase_conflict"

    def __init__(self, message: str, files: list[str], *, onto: str, sent_to_agent: bool,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files, self.onto, self.sent_to_agent = files, onto, sent_to_agent

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(super().to_dict())
        out.update(files=self.files, onto=self.onto, sent_to_agent=self.sent_to_agent)
        return out


@dataclass
class RebaseResult:
    session: str
    branch: str
    onto: str
    before: str
    after: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "branch": self.branch, "onto": self.onto, "before": self.before,
                "after": self.after, "notes": self.notes}


def agent_message(branch: str, onto: str, files: list[str]) -> str:
    """What --to-agent asks of the agent (it works in its own worktree, so it can do the rebase)."""
    return (f"trails: rebasing your branch {branch} onto {onto} conflicts in {', '.join(files)}. Please run "
            f"`git rebase {onto}` in your working directory, resolve the conflicts in those files, `git add` "
            "them and `git rebase --continue` until it is done, then say so.")


def rebase_session(engine: Engine, name: str, *, onto: str | None = None, to_agent: bool = False,
                   caller: Caller) -> RebaseResult:
    """Rebase the session's branch onto `onto` (default: its base branch's tip); abort on conflict."""
    session = engine.get_session(name, caller=caller)
    if not session.branch or not session.repo_root:
        raise InvalidInput(f"session {name!r} has no branch of its own ({session.mode.value} mode): nothing to rebase")
    target = onto or session.extra.get("base_branch")
    if not target:
        raise InvalidInput(f"session {name!r} did not start from a branch", hint="name one with --onto REF")
    repo = Git(session.repo_root)
    onto_commit = repo.rev_parse(target)
    if onto_commit is None:
        raise InvalidInput(f"--onto {target!r} does not name a commit in {session.repo_root}")
    wt = _checked_worktree(session)
    before = wt.out("rev-parse", "HEAD")
    result = RebaseResult(name, session.branch, target, before, before)
    if repo.is_ancestor(onto_commit, before):
        result.notes.append(f"{session.branch} already contains {target}")
        engine.store.update_session(session.id, conflict=None)
        return result
    # The old tip is kept (and recorded, so `show` names it) before the rebase moves the branch: a
    # process that dies half way loses no commit.
    kept = f"refs/trails/pre-rebase/{name}/{recovery.stamp()}"
    repo.update_ref(kept, before)
    engine.store.add_checkpoint(session, "rebase", kept, before, f"the tip of {session.branch} before a rebase")
    faults.point("rebase", "kept")
    res = wt.rebase(onto_commit)
    if res.ok:
        faults.point("rebase", "rebased")
        result.after = wt.out("rev-parse", "HEAD")
        result.notes.append(f"the branch's old tip is kept at {kept}")
        engine.store.update_session(session.id, conflict=None, audits=[(
            "session_rebased", name, {"onto": target, "before": before, "after": result.after, "kept": kept,
                                      "caller": caller.label})])
        return result
    files = wt.unmerged_files()
    if wt.operation_in_progress() == "rebase":
        wt.rebase_abort()
    _check_restored(wt, session, before)
    if not files:
        raise GitError(f"git rebase of {session.branch} onto {target} failed: {(res.stderr or res.stdout).strip()}")
    conflict = {"op": "rebase", "onto": target, "onto_commit": onto_commit, "files": files, "at": time.time()}
    engine.store.update_session(session.id, conflict=conflict, audits=[(
        "rebase_conflict", name, {"onto": target, "files": files, "caller": caller.label})])
    sent, why = False, ""
    if to_agent:
        try:
            engine.send(name, agent_message(session.branch, target, files), caller=caller)
            sent = True
        except TrailsError as exc:
            why = f"; it could not be sent to the agent: {exc.message}"
    shown = ", ".join(files)
    raise RebaseConflict(
        f"rebasing {session.branch} onto {target} conflicts in {shown}; the rebase was aborted and nothing "
        f"changed{why}", files, onto=target, sent_to_agent=sent,
        hint="the agent was asked to rebase and resolve them" if sent
        else f"`trails rebase {name} --to-agent` asks the agent to resolve them in its worktree",
    )


def _checked_worktree(session: Session) -> Git:
    """The session's worktree, on its branch, with no operation and no tracked changes in the way."""
    if session.mode is Mode.CONTAINER:
        # Its agent commits on a detached HEAD in a git dir of its own; trails moves the branch.
        raise SessionStateError(f"session {session.name!r} runs in a container: trails does not rebase its worktree",
                                hint=f"ask its agent to rebase (`trails send {session.name} ...`), or "
                                     f"`trails export-session {session.name} --to worktree` first")
    wt = session_worktree(session)
    if wt is None:
        raise SessionStateError(f"session {session.name!r} has no worktree on disk ({session.status.value})",
                                hint="resume it first")
    busy = wt.operation_in_progress()
    if busy:
        raise RepoBusy(f"a {busy} is in progress in {wt.root}", hint="finish or abort it there first")
    if wt.head_branch() != session.branch:
        raise SessionStateError(f"the worktree {wt.root} is not on the session's branch {session.branch!r}")
    changed = [line for line in wt.run("status", "--porcelain=v1", "--untracked-files=no").stdout.splitlines()
               if line.strip()]
    if changed:
        raise UncommittedWork(f"session {session.name!r} has uncommitted changes in {wt.root}",
                              hint="let the agent commit them first (a rebase only moves commits)")
    return wt


def _check_restored(wt: Git, session: Session, before: str) -> None:
    # An abort that did not put things back must not pass as "nothing changed".
    if wt.out("rev-parse", "HEAD") != before or wt.head_branch() != session.branch:
        raise GitError(f"the aborted rebase left {wt.root} on {wt.head_branch() or 'a detached HEAD'}; "
                       f"the branch's tip was {before}", hint=f"`git -C {wt.root} reflog` shows where it was")
