"""Merging a session's branch into its base branch, in the main checkout, never forcing anything.

The target is the branch checked out in the main checkout (the repository the session was made from).
A dirty main checkout (tracked changes), an operation in progress or a detached HEAD refuse the merge.
Three strategies (`merge_strategy` setting, default no-ff):

* no-ff: `git merge --no-ff`, one merge commit; on conflict the merge is aborted, so the main
  checkout is left exactly as it was, and the conflicting files are reported.
* squash: the merged tree is computed with `git merge-tree` (no checkout is touched), committed as one
  commit on the base branch, which then fast-forwards to it; a conflict changes nothing.
* rebase: the session's branch is rebased onto the base branch in the session's worktree
  (core/rebase.py; a conflict aborts it), then the base branch fast-forwards to it.

`--cleanup` then ends the session and removes its worktree and branch; the branch's tip is kept
under refs/trails/merged/NAME/<time>.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trails.core import faults, recovery
from trails.core.errors import GitError, InvalidInput, RepoBusy, SessionStateError, UncommittedWork
from trails.core.models import Session
from trails.infra.git import Git

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine


class MergeConflict(GitError):
    """The merge stopped on conflicts; it was aborted and nothing changed."""

    code = "merge_conflict"

    def __init__(self, message: str, files: list[str], *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files = files

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(super().to_dict())
        out["files"] = self.files
        return out


Strategy = Literal["no-ff", "squash", "rebase"]
STRATEGIES: tuple[Strategy, ...] = ("no-ff", "squash", "rebase")


def session_worktree(session: Session) -> Git | None:
    """The git checkout the session's agent works in (None when it is not on disk, e.g. paused).

    Every git command run in a session's worktree takes its Git object from here: through the git
    directory trails knows for it (isolation.worktree.worktree_git), never the worktree's own `.git`.
    """
    from trails.isolation.worktree import worktree_git

    return worktree_git(session)


@dataclass
class MergeResult:
    session: str
    branch: str
    into: str
    commit: str | None  # the base branch's new tip; None when there was nothing to merge
    notes: list[str] = field(default_factory=list)
    strategy: str = "no-ff"
    cleaned_up: bool = False
    kept_ref: str | None = None  # with cleanup: where the branch's tip is kept

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "branch": self.branch, "into": self.into, "commit": self.commit,
                "notes": self.notes, "strategy": self.strategy, "cleaned_up": self.cleaned_up,
                "kept_ref": self.kept_ref}


def _current_branch(repo: Git) -> str | None:
    res = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return res.stdout.strip() if res.ok else None


def _tracked_changes(repo: Git) -> list[str]:
    res = repo.run("status", "--porcelain=v1", "--untracked-files=no")
    return [line[3:] for line in res.stdout.splitlines() if line.strip()]


def merge_session(engine: Engine, name: str, *, strategy: str | None = None, message: str | None = None,
                  cleanup: bool = False, caller: Caller) -> MergeResult:
    """Merge the session's branch into the branch it started from (checked out in the main checkout)
    with the given strategy (default: the `merge_strategy` setting, else no-ff); conflicts change nothing."""
    from trails.core import config as config_mod
    from trails.core.locks import file_lock

    session = engine.get_session(name, caller=caller)
    if not session.branch or not session.repo_root:
        raise InvalidInput(f"session {name!r} has no branch of its own ({session.mode.value} mode): nothing to merge")
    chosen = strategy or config_mod.load(Path(session.repo_root)).merge_strategy
    if chosen not in STRATEGIES:
        raise InvalidInput(f"unknown merge strategy {chosen!r}: choose one of {', '.join(STRATEGIES)}")
    if message is not None and not message.strip():
        raise InvalidInput("--message is empty")
    if message is not None and chosen == "rebase":
        raise InvalidInput("--message does not apply to --rebase: the session's own commits land as they are")
    repo = Git(session.repo_root)
    into = _check_main_checkout(repo, session)
    engine.provider(session.mode).catch_up(session)  # a container agent's commits onto its branch
    wt = session_worktree(session)
    notes: list[str] = []
    if cleanup:
        _check_cleanup(session, wt)
    elif wt is not None and wt.status_porcelain():
        notes.append(f"uncommitted work in {wt.root} is not part of the merge (only commits on {session.branch})")
    with file_lock(f"merge:{session.repo_root}"):
        faults.point("merge", "locked")
        tip = repo.rev_parse(f"refs/heads/{session.branch}")
        if tip is None:
            raise InvalidInput(f"branch {session.branch!r} of session {name!r} does not exist")
        result = MergeResult(name, session.branch, into, None, notes, chosen)
        if repo.is_ancestor(tip, "HEAD"):
            notes.append(f"{session.branch} is already merged into {into}")
        else:
            text = message if message is not None else commit_message(session, into, chosen)
            if chosen == "no-ff":
                result.commit = _merge_no_ff(engine, repo, session, into, text, caller)
            elif chosen == "squash":
                result.commit = _merge_squash(engine, repo, session, tip, into, text, caller)
            else:
                result.commit = _merge_rebased(engine, repo, session, into, caller)
            if result.commit is None:
                notes.append(f"{session.branch} adds nothing to {into} (squashed before?)")
            faults.point("merge", "merged")
            engine.store.update_session(session.id, conflict=None, audits=[(
                "session_merged", name, {"branch": session.branch, "into": into, "commit": result.commit,
                                         "strategy": chosen, "caller": caller.label})])
        faults.point("merge", "recorded")
    if cleanup:
        _cleanup(engine, repo, session, into, result, caller)
    return result


def _check_main_checkout(repo: Git, session: Session) -> str:
    """The branch to merge into, after checking the main checkout can take a merge."""
    busy = repo.operation_in_progress()
    if busy:
        raise RepoBusy(f"a {busy} is in progress in {session.repo_root}", hint="finish or abort it first")
    into = _current_branch(repo)
    if into is None:
        raise InvalidInput(f"the main checkout {session.repo_root} is on a detached HEAD",
                           hint="check out the branch to merge into")
    if into == session.branch:
        raise InvalidInput(f"the main checkout is on the session's own branch {into!r}")
    base_branch = session.extra.get("base_branch")
    if base_branch and base_branch != into:
        raise InvalidInput(
            f"session {session.name!r} branched from {base_branch!r}, but the main checkout is on {into!r}",
            hint=f"check out {base_branch} in {session.repo_root} to merge the session back into it",
        )
    dirty = _tracked_changes(repo)
    if dirty:
        shown = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
        raise UncommittedWork(f"the main checkout {session.repo_root} has uncommitted changes ({shown})",
                              hint="commit or stash them, then merge")
    return into


def commit_message(session: Session, into: str, strategy: str) -> str:
    """The default message: what the session was (name, agent, prompt), so the history says it."""
    prompt = str(session.extra.get("prompt") or "").strip()
    first = prompt.splitlines()[0].strip() if prompt else ""
    if strategy == "squash" and first:
        subject = first if len(first) <= 72 else first[:71] + "…"
    elif strategy == "squash":
        subject = f"Session {session.name} ({session.branch})"
    else:
        subject = f"Merge session {session.name} ({session.branch}) into {into}"
    lines = [subject, "", f"Session: {session.name}", f"Agent: {session.agent}", f"Branch: {session.branch}"]
    if prompt:
        lines += ["", "Prompt:", *(f"  {line}" for line in prompt.splitlines())]
    return "\n".join(lines) + "\n"


def _merge_no_ff(engine: Engine, repo: Git, session: Session, into: str, message: str, caller: Caller) -> str:
    assert session.branch is not None
    res = repo.run("merge", "--no-ff", "--no-edit", "-m", message, session.branch, check=False)
    if not res.ok:
        error = _failed(repo, session.branch, into, (res.stderr or res.stdout).strip())
        if isinstance(error, MergeConflict):
            engine.store.audit("merge_conflict", session.name, branch=session.branch, into=into, files=error.files,
                               caller=caller.label)
        raise error
    return repo.out("rev-parse", "HEAD")


def _merge_squash(engine: Engine, repo: Git, session: Session, tip: str, into: str, message: str,
                  caller: Caller) -> str | None:
    head = repo.out("rev-parse", "HEAD")
    tree, conflicts = repo.merge_tree(head, tip)
    if tree is None:
        engine.store.audit("merge_conflict", session.name, branch=session.branch, into=into, files=conflicts,
                           strategy="squash", caller=caller.label)
        raise MergeConflict(
            f"squashing {session.branch} into {into} conflicts in {', '.join(conflicts)}; nothing was changed",
            conflicts, hint=f"`trails rebase {session.name}` brings the branch up to date (or lets the agent do it)",
        )
    if tree == repo.out("rev-parse", "HEAD^{tree}"):
        return None  # squashed before: the branch adds nothing
    commit = repo.commit_tree_as_user(tree, [head], message)
    _fast_forward(repo, commit, into)
    return commit


def _merge_rebased(engine: Engine, repo: Git, session: Session, into: str, caller: Caller) -> str:
    from trails.core.rebase import rebase_session

    assert session.branch is not None
    rebase_session(engine, session.name, onto=into, caller=caller)
    tip = repo.rev_parse(f"refs/heads/{session.branch}")
    assert tip is not None
    _fast_forward(repo, tip, into)
    return tip


def _fast_forward(repo: Git, commit: str, into: str) -> None:
    res = repo.merge_ff_only(commit)
    if not res.ok:
        # Only an untracked file of the user's in the way gets here: the checkout is as it was.
        raise GitError(f"could not bring {into} to {commit[:12]}: {(res.stderr or res.stdout).strip()}",
                       hint="move the files git names out of the way, then merge again")


def _check_cleanup(session: Session, wt: Git | None) -> None:
    """Cleanup must lose nothing: refuse it (before merging) while the worktree has uncommitted work."""
    if wt is not None and wt.status_porcelain():
        raise UncommittedWork(
            f"session {session.name!r} has uncommitted work in {wt.root}: --cleanup would remove it unmerged",
            hint="let the agent commit it (or commit it yourself), or merge without --cleanup",
        )


def _cleanup(engine: Engine, repo: Git, session: Session, into: str, result: MergeResult, caller: Caller) -> None:
    """End the session, remove its worktree and its branch; keep the branch's tip under refs/trails/merged/."""
    assert session.branch is not None
    tip = repo.rev_parse(f"refs/heads/{session.branch}")
    if tip is None:
        raise SessionStateError(f"branch {session.branch!r} is gone")
    merged = repo.is_ancestor(tip, "HEAD") or _adds_nothing(repo, tip)
    stamp = recovery.stamp()
    ref = f"refs/trails/merged/{session.name}/{stamp}"
    repo.update_ref(ref, tip)
    engine.store.add_checkpoint(session, "merge", ref, tip, f"the tip of {session.branch}, kept at merge --cleanup")
    result.kept_ref = ref
    faults.point("merge", "kept")
    killed = engine.kill(session.name, force=False, delete_branch=False,  # refuses if work appeared meanwhile
                         caller=caller)
    result.notes += killed.notes
    faults.point("merge", "cleaned")
    if merged:
        repo.delete_branch(session.branch)
        faults.point("merge", "branch_deleted")
        result.notes.append(f"branch {session.branch} deleted (its tip is kept at {ref})")
    else:
        result.notes.append(f"branch {session.branch} kept: it has commits made after the merge (tip also at {ref})")
    result.cleaned_up = True
    engine.store.audit("session_cleaned_up", session.name, branch=session.branch, kept_ref=ref,
                       branch_deleted=merged, caller=caller.label)


def _adds_nothing(repo: Git, tip: str) -> bool:
    """Merging `tip` into HEAD would change nothing (e.g. after a squash of it)."""
    tree, _ = repo.merge_tree("HEAD", tip)
    return tree is not None and tree == repo.out("rev-parse", "HEAD^{tree}")

def _failed(repo: Git, branch: str, into: str, output: str) -> GitError:
    if not (repo.git_dir() / "MERGE_HEAD").exists():
        return GitError(f"git merge of {branch} into {into} failed: {output}")
    conflicted = repo.run("diff", "--name-only", "--diff-filter=U", "-z").stdout.split("\0")
    files = [f for f in conflicted if f]
    repo.run("merge", "--abort")
    return MergeConflict(
        f"merging {branch} into {into} conflicts in {', '.join(files) or 'some files'}; the merge was aborted",
        files, hint=f"resolve in the session (rebase {branch} onto {into}), then merge again",
    )
