"""An agent's object store is taken into the repository object by object, each checked by its hash."""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from pathlib import Path

from tests.helpers import git, make_repo
from trails.infra.gitobjects import import_objects


def _object_path(objects: Path, sha: str) -> Path:
    return objects / sha[:2] / sha[2:]


def _hash(repo: Path, content: str, *, write: bool = False) -> str:
    args = ["hash-object", *(["-w"] if write else []), "--stdin"]
    return subprocess.run(["git", "-C", str(repo), *args], input=content, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_good_objects_move_in_and_forged_or_odd_ones_never_do(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    objects = repo / ".git" / "objects"
    scratch = make_repo(tmp_path / "scratch")
    store = tmp_path / "store"
    store.mkdir()

    def into_store(sha: str) -> Path:
        target = _object_path(store, sha)
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(_object_path(scratch / ".git" / "objects", sha), target)
        return target

    good = _hash(scratch, "the agent's work\n", write=True)
    into_store(good)
    known = _hash(repo, "hello\n")  # README.md's blob: the repository has it already
    into_store(_hash(scratch, "hello\n", write=True))
    # Valid zlib and header, but named after content the user may write later: must never stand in for it.
    future = _hash(repo, "the user's next file\n")
    forged = _object_path(store, future)
    forged.parent.mkdir(exist_ok=True)
    forged.write_bytes(zlib.compress(b"blob 5\0evil\n"))
    odd = _object_path(store, "ab" + "c" * 38)
    odd.parent.mkdir(exist_ok=True)
    os.mkfifo(odd)  # reading it would block
    linked = _object_path(store, "ab" + "d" * 38)
    linked.symlink_to(_object_path(objects, known))

    assert import_objects(store, repo / ".git") == 2
    assert git(repo, "cat-file", "-p", good) == "the agent's work" and not _object_path(store, good).exists()
    assert not _object_path(store, known).exists()
    assert forged.exists() and not _object_path(objects, future).exists()
    assert odd.exists() and linked.is_symlink()
    # The user's own content gets its own object, not the forged one.
    assert _hash(repo, "the user's next file\n", write=True) == future
    assert git(repo, "cat-file", "-p", future) == "the user's next file"


def test_a_pack_the_agent_made_is_unpacked_by_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    scratch = make_repo(tmp_path / "scratch", {"work.txt": "packed work\n"})
    git(scratch, "repack", "-a", "-d", "-q")
    store = tmp_path / "store"
    shutil.copytree(scratch / ".git" / "objects" / "pack", store / "pack")
    commit = git(scratch, "rev-parse", "HEAD")
    assert import_objects(store, repo / ".git") == 1
    assert git(repo, "show", f"{commit}:work.txt") == "packed work"
    assert list((store / "pack").iterdir()) == []
