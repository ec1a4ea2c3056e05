"""Saving and restoring a working tree's uncommitted state (staged, unstaged, untracked) as commits.

A save is a commit W whose tree is the whole working directory and whose parents are HEAD and a
commit I holding the index, the shape `git stash` uses. Nothing of the user's index or files is
touched by a save; a restore rebuilds files and index exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from trails.infra.git import Git


@dataclass(frozen=True)
class SavedWork:
    commit: str
    ref: str
    changed: bool  # False when there was nothing uncommitted to save


def has_uncommitted_work(git: Git) -> bool:
    return bool(git.status_porcelain())


def save_work(git: Git, ref: str, message: str) -> SavedWork:
    """Record the working state under `ref` (a new ref; existing refs are never overwritten)."""
    head = git.rev_parse("HEAD")
    parents = [head] if head else []
    index_commit = git.commit_tree(git.index_tree(), parents, f"index: {message}")
    work_tree = git.snapshot_tree()
    commit = git.commit_tree(work_tree, [*parents, index_commit], message)
    if git.run("show-ref", "--verify", "--quiet", ref, check=False).ok:
        raise ValueError(f"ref {ref} already exists")
    git.update_ref(ref, commit)
    changed = bool(git.status_porcelain())
    return SavedWork(commit, ref, changed)


def restore_work(git: Git, commit: str) -> None:
    """Make `git`'s checkout hold exactly the saved files, with the saved index on top."""
    parents = git.out("rev-list", "--parents", "-n", "1", commit).split()[1:]
    index_commit = parents[-1]  # saves always put the index commit last
    git.read_tree(f"{commit}^{{tree}}", update_worktree=True)
    git.read_tree(f"{index_commit}^{{tree}}", update_worktree=False)
