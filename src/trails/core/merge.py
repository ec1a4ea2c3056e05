"""Merging a session's branch into its base branch, in the main checkout, never forcing anything.

The target is the branch checked out in the main checkout (the repository the session was made from).
A dirty main checkout (tracked changes), an operation in progress or a detached HEAD refuse the merge.
`git merge --no-ff` records the session as one merge commit; on conflict the merge is aborted, so the
main checkout is left exactly as it was, and the conflicting files are reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trails.core.errors import GitError, InvalidInput, RepoBusy, UncommittedWork
from trails.infra.git import Git

if TYPE_CHECKING:
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


@dataclass
class MergeResult:
    session: str
    branch: str
    into: str
    commit: str | None  # the merge commit; None when there was nothing to merge
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "branch": self.branch, "into": self.into, "commit": self.commit,
                "notes": self.notes}


def _current_branch(repo: Git) -> str | None:
    res = repo.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return res.stdout.strip() if res.ok else None


def _tracked_changes(repo: Git) -> list[str]:
    res = repo.run("status", "--porcelain=v1", "--untracked-files=no")
    return [line[3:] for line in res.stdout.splitlines() if line.strip()]


def merge_session(engine: Engine, name: str) -> MergeResult:
    """Merge the session's branch into the branch it started from (checked out in the main checkout)
    with --no-ff; abort on conflict."""
    from trails.isolation.worktree import worktree_git

    session = engine.get_session(name)
    if not session.branch or not session.repo_root:
        raise InvalidInput(f"session {name!r} has no branch of its own ({session.mode.value} mode): nothing to merge")
    repo = Git(session.repo_root)
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
            f"session {name!r} branched from {base_branch!r}, but the main checkout is on {into!r}",
            hint=f"check out {base_branch} in {session.repo_root} to merge the session back into it",
        )
    dirty = _tracked_changes(repo)
    if dirty:
        shown = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
        raise UncommittedWork(f"the main checkout {session.repo_root} has uncommitted changes ({shown})",
                              hint="commit or stash them, then merge")
    notes: list[str] = []
    engine.provider(session.mode).catch_up(session)  # a container agent's commits onto its branch
    worktree = worktree_git(session)
    if worktree is not None and worktree.status_porcelain():
        notes.append(f"uncommitted work in {worktree.root} is not part of the merge (only commits on {session.branch})")
    tip = repo.rev_parse(f"refs/heads/{session.branch}")
    if tip is None:
        raise InvalidInput(f"branch {session.branch!r} of session {name!r} does not exist")
    if repo.is_ancestor(tip, "HEAD"):
        notes.append(f"{session.branch} is already merged into {into}")
        return MergeResult(name, session.branch, into, None, notes)
    message = f"Merge session {name} ({session.branch}) into {into}"
    res = repo.run("merge", "--no-ff", "--no-edit", "-m", message, session.branch, check=False)
    if not res.ok:
        error = _failed(repo, session.branch, into, (res.stderr or res.stdout).strip())
        if isinstance(error, MergeConflict):
            engine.store.audit("merge_conflict", name, branch=session.branch, into=into, files=error.files)
        raise error
    commit = repo.out("rev-parse", "HEAD")
    engine.store.audit("session_merged", name, branch=session.branch, into=into, commit=commit)
    return MergeResult(name, session.branch, into, commit, notes)


def _failed(repo: Git, branch: str, into: str, output: str) -> GitError:
    if not (repo.git_dir() / "MERGE_HEAD").exists():
        return GitError(f"git merge of {branch} into {into} failed: {output}")
    conflicted = repo.run("diff", "--name-only", "--no-ext-diff", "--no-textconv", "--diff-filter=U",
                          "-z").stdout.split("\0")
    files = [f for f in conflicted if f]
    repo.run("merge", "--abort")
    return MergeConflict(
        f"merging {branch} into {into} conflicts in {', '.join(files) or 'some files'}; the merge was aborted",
        files, hint=f"resolve in the session (rebase {branch} onto {into}), then merge again",
    )
