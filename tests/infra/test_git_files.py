"""HEAD and the work tree read from git's files agree with git itself, and defer to it when unsure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import git, make_repo
from trails.infra import git as gitinfra


def asked_git(path: Path) -> tuple[Path | None, str | None]:
    import subprocess

    top = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True,
                          text=True)
    return (Path(top.stdout.strip()) if top.returncode == 0 else None,
            head.stdout.strip() if head.returncode == 0 else None)


def test_plain_packed_detached_and_linked_worktrees_match_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a/b/c.txt": "x\n"})
    cases = [repo, repo / "a" / "b"]
    git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    cases.append(tmp_path / "wt")
    for path in cases:
        top = gitinfra.find_toplevel(path)
        assert (top, gitinfra.read_head(top)) == asked_git(path)
    git(repo, "pack-refs", "--all")  # branches now only in packed-refs
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert gitinfra.read_head(repo) == asked_git(repo)[1]
    assert gitinfra.read_head(tmp_path / "wt") == asked_git(tmp_path / "wt")[1]
    git(repo, "checkout", "-q", "--detach")
    assert gitinfra.read_head(repo) == asked_git(repo)[1]


def test_unsure_cases_are_left_to_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    unborn = tmp_path / "unborn"
    git(tmp_path, "init", "-q", "-b", "main", str(unborn))
    assert gitinfra.read_head(unborn) is None and gitinfra.Git(unborn).head_commit() is None
    assert gitinfra.find_toplevel(unborn) == unborn
    assert gitinfra.find_toplevel(unborn / ".git") is None  # inside the git dir: no work tree
    plain = tmp_path / "plain"
    plain.mkdir()
    assert gitinfra.find_toplevel(plain) is None
    # A discovery variable changes what git would find: the files are not read then.
    repo = make_repo(tmp_path / "repo")
    monkeypatch.setenv("GIT_DIR", str(unborn / ".git"))
    assert gitinfra.read_head(repo) is None
    assert gitinfra._toplevel_from_files(repo) is None
