"""core.worktree_files below the API: a link swapped in after a path was checked is still caught
where the file is really opened, and git's listing is what names a worktree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import git
from trails.core import worktree_files as wf
from trails.core.errors import InvalidWorktree, PathOutsideWorktree


def test_a_directory_swapped_for_a_link_after_the_check_is_caught_at_the_open(repo: Path, tmp_path: Path) -> None:
    wt = wf.resolve(None, [repo], repo)
    (repo / "d").mkdir()
    (repo / "d" / "f.txt").write_text("inside\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("s3cret\n")
    _, target = wf.locate(wt, "d/f.txt")  # checked: inside
    (repo / "d" / "f.txt").unlink()
    (repo / "d").rmdir()
    os.symlink(outside, repo / "d")  # ...then the agent swaps the directory
    with pytest.raises(PathOutsideWorktree):
        wf._read(repo.resolve(), target, "d/f.txt")


def test_a_file_swapped_for_a_link_after_the_check_is_not_followed(repo: Path, tmp_path: Path) -> None:
    wt = wf.resolve(None, [repo], repo)
    (repo / "f.txt").write_text("inside\n")
    _, target = wf.locate(wt, "f.txt")
    (repo / "f.txt").unlink()
    os.symlink("/etc/passwd", repo / "f.txt")
    with pytest.raises(PathOutsideWorktree):
        wf._read(repo.resolve(), target, "f.txt")


def test_worktrees_are_what_git_lists(repo: Path) -> None:
    linked = repo.parent / "linked"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    found = wf.worktrees([repo, linked])  # a repository named twice, through either checkout: listed once
    assert [(w.path, w.primary, w.branch) for w in found] == [(repo, True, "main"), (linked, False, "side")]
    assert wf.resolve(str(linked), [repo], None).repo == repo
    with pytest.raises(InvalidWorktree):
        wf.resolve(str(linked), [], None)  # a repository trails does not know
    with pytest.raises(InvalidWorktree):
        wf.resolve(None, [repo], None)  # nothing to default to
    assert wf.read_file(wf.resolve(str(linked), [repo], None), "README.md").work == "hello\n"
