"""Saving and restoring a working tree's uncommitted state (staged, unstaged, untracked) as commits.

A save is a commit W whose tree is the whole working directory and whose parents are HEAD and a
commit I holding the index, the shape `git stash` uses. Nothing of the user's index or files is
touched by a save; a restore rebuilds files and index exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trails.core.errors import GitError
from trails.infra.git import Git


@dataclass(frozen=True)
class SavedWork:
    commit: str
    ref: str
    head: str | None
    changed: bool  # False when there was nothing uncommitted to save


def has_uncommitted_work(git: Git) -> bool:
    return bool(git.status_porcelain())


def save_work(git: Git, ref: str, message: str, *, replace: bool = False) -> SavedWork:
    """Record the working state under `ref`; an existing ref is only overwritten with `replace`."""
    saved = snapshot_work(git, ref, message)
    write_ref(git, ref, saved.commit, replace=replace)
    return saved


def snapshot_work(git: Git, ref: str, message: str) -> SavedWork:
    """The commit save_work would record under `ref`, made but not yet pointed to by any ref: a caller
    can note where it will be before the ref exists (so a crash in between loses no trace of it)."""
    head = git.rev_parse("HEAD")
    parents = [head] if head else []
    index_tree = git.index_tree()
    work_tree = git.snapshot_tree()
    index_commit = git.commit_tree(index_tree, parents, f"index: {message}")
    commit = git.commit_tree(work_tree, [*parents, index_commit], message)
    head_tree = git.out("rev-parse", f"{head}^{{tree}}") if head else None
    return SavedWork(commit, ref, head, changed=not (index_tree == work_tree == head_tree))


def write_ref(git: Git, ref: str, commit: str, *, replace: bool = False) -> None:
    # An empty old value makes update-ref refuse to overwrite: one call instead of check-then-write.
    res = git.run("update-ref", ref, commit, *([] if replace else [""]), check=False)
    if not res.ok:
        raise GitError(f"could not record {ref}: {res.stderr.strip()}")


def restore_work(git: Git, commit: str) -> None:
    """Make `git`'s checkout hold exactly the saved files, with the saved index on top."""
    parents = git.out("rev-list", "--parents", "-n", "1", commit).split()[1:]
    index_commit = parents[-1]  # saves always put the index commit last
    git.read_tree(f"{commit}^{{tree}}", update_worktree=True)
    git.read_tree(f"{index_commit}^{{tree}}", update_worktree=False)


def record_start(repo: Git, name: str, *, head: str | None, dirty: bool | None = None) -> dict[str, Any]:
    """The main checkout's state (HEAD, index, files) before a direct session, to put it back after
    a move (core/moves.py).

    `head` is HEAD as the caller just read it, `dirty` what its `git status` said (None: ask). A clean
    checkout is just its HEAD; only a dirty one is committed, under refs/trails/start/<name>.
    """
    if not (has_uncommitted_work(repo) if dirty is None else dirty):
        return {"ref": None, "commit": None, "head": head, "clean": True}
    # A name reused after `kill` takes the ref over.
    saved = save_work(repo, f"refs/trails/start/{name}", f"trails: before session {name}", replace=True)
    return {"ref": saved.ref, "commit": saved.commit, "head": saved.head}
