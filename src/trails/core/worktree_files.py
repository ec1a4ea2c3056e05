"""Worktree-scoped git and files: what a front end may read of a repository's worktrees.

Whoever asks names a worktree by its path, and a file by a path from the worktree's root. Nothing is
read until both are known to be good:
- the worktree must equal one of the paths `git worktree list --porcelain` prints for a repository
  trails knows (its sessions' repositories and the caller's), the listing cached for at most
  CACHE_SECONDS; a path with a `..` segment is refused before any lookup;
- a file path must be relative, hold no `..` segment and, resolved with every symlink followed,
  stay inside the worktree and out of git's own `.git` (whose config may hold credentials); the
  file is then opened without following a link and checked once more where it really is, so a link
  swapped in between the check and the read is caught too.
Anything else is InvalidWorktree or PathOutsideWorktree, and nothing was read. A linked worktree's
git runs through the git directory its repository records for it (infra.git), never its `.git` file.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from trails.api import types as t
from trails.core.errors import GitError, InvalidInput, InvalidWorktree, PathOutsideWorktree
from trails.infra.git import Git, WorktreeEntry

CACHE_SECONDS = 5.0
MAX_FILE_BYTES = 1 << 20
_BINARY_PROBE = 8000
_EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_cache: dict[Path, tuple[float, list[WorktreeEntry]]] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class Worktree:
    path: Path  # as git lists it
    repo: Path  # the repository's primary checkout
    primary: bool
    branch: str | None
    head: str | None

    def git(self) -> Git:
        return Git(self.path) if self.primary else Git.linked_worktree(self.repo, self.path)


def _listed(repo: Path, *, fresher_than: float = CACHE_SECONDS) -> list[WorktreeEntry]:
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(repo)
    if cached is not None and now - cached[0] < fresher_than:
        return cached[1]
    try:
        entries = Git(repo).worktrees()
    except GitError:
        entries = []  # a repository that went away lists nothing
    with _cache_lock:
        _cache[repo] = (now, entries)
    return entries


def _worktrees_of(repo: Path, *, fresher_than: float = CACHE_SECONDS) -> list[Worktree]:
    entries = [e for e in _listed(repo, fresher_than=fresher_than) if not e.bare]
    if not entries:
        return []
    primary = Path(entries[0].path)  # git lists the main worktree first
    return [Worktree(Path(e.path), primary, i == 0, e.branch, e.head) for i, e in enumerate(entries)]


def worktrees(repos: Iterable[Path]) -> list[Worktree]:
    """Every worktree of the repositories (each once, a repository's primary checkout first)."""
    found: dict[Path, Worktree] = {}
    for repo in dict.fromkeys(repos):
        for wt in _worktrees_of(repo):
            found.setdefault(wt.path, wt)
    return list(found.values())


def resolve(value: str | None, repos: Sequence[Path], default: Path | None) -> Worktree:
    """The worktree `value` names (None: `default`'s primary checkout), or InvalidWorktree."""
    if value is None or value == "":
        if default is None:
            raise InvalidWorktree("no worktree given, and no repository to default to",
                                  hint="name one of the paths /api/git/worktrees lists", field="worktree")
        listed = _worktrees_of(default)
        if not listed:
            raise InvalidWorktree(f"not a valid worktree: {default} is not a git repository", field="worktree")
        return listed[0]
    if "\0" in value or ".." in value.split("/") or not value.startswith("/"):
        raise InvalidWorktree(f"not a valid worktree: {value!r}", field="worktree")
    for fresher_than in (CACHE_SECONDS, 0.0):  # one the listing lacks may be new: asked once more
        for repo in dict.fromkeys(repos):
            for wt in _worktrees_of(repo, fresher_than=fresher_than):
                if str(wt.path) == value:
                    if not wt.path.is_dir():
                        raise InvalidWorktree(f"not a valid worktree: {value} is no longer on disk", field="worktree")
                    return wt
    raise InvalidWorktree(f"not a valid worktree: {value!r}",
                          hint="a worktree is one of the paths `git worktree list` prints for a repository "
                               "trails has sessions in", field="worktree")


# --- paths inside a worktree ------------------------------------------------------------------------


def relative(value: str) -> str:
    """`value` in its normal form ('' for the root), or PathOutsideWorktree for what could leave it."""
    if "\0" in value or value.startswith("/"):
        raise PathOutsideWorktree(f"path outside the worktree: {value!r}", field="path")
    parts = [p for p in value.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PathOutsideWorktree(f"path outside the worktree: {value!r} (no '..' segments)", field="path")
    if parts and parts[0] == ".git":
        raise PathOutsideWorktree(f"path outside the worktree: {value!r} is git's own directory", field="path")
    return "/".join(parts)


def _inside(root: Path, target: Path, shown: str) -> None:
    try:
        rel = target.relative_to(root)
    except ValueError:
        raise PathOutsideWorktree(f"path outside the worktree: {shown!r} leads out of it (a symbolic link)",
                                  field="path") from None
    if rel.parts and rel.parts[0] == ".git":
        raise PathOutsideWorktree(f"path outside the worktree: {shown!r} leads into git's own directory",
                                  field="path")


def locate(wt: Worktree, value: str) -> tuple[str, Path]:
    """(the path's normal form, where it really is: every symlink resolved, checked to be inside)."""
    rel = relative(value)
    root = wt.path.resolve()
    target = (root / rel).resolve()
    _inside(root, target, value)
    return rel, target


def _read(root: Path, target: Path, shown: str) -> tuple[bytes, bool] | None:
    """At most MAX_FILE_BYTES of a regular file (and whether it is longer); None when it is absent."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # it became a link after it was checked
            raise PathOutsideWorktree(f"path outside the worktree: {shown!r} is a symbolic link", field="path") \
                from None
        raise InvalidInput(f"cannot read {shown!r}: {exc.strerror}", field="path") from None
    with os.fdopen(fd, "rb") as handle:
        # Where the open file really is: a directory above it swapped for a link since the check shows here.
        _inside(root, Path(os.readlink(f"/proc/self/fd/{fd}")), shown)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInput(f"{shown!r} is not a regular file", field="path")
        data = handle.read(MAX_FILE_BYTES + 1)
    return data[:MAX_FILE_BYTES], len(data) > MAX_FILE_BYTES


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", errors="replace")


# --- what a front end asks ---------------------------------------------------------------------------


def status(wt: Worktree) -> t.GitStatusResult:
    entries = [t.GitStatusEntry(path=path, status=xy, orig_path=source)
               for xy, path, source in wt.git().status_entries()]
    return t.GitStatusResult(worktree=str(wt.path), branch=wt.branch, head=wt.head, entries=entries)


def diff(wt: Worktree, *, stat: bool = False) -> t.GitDiffResult:
    """The work tree as it is (untracked files too, ignored ones not) against HEAD."""
    git = wt.git()
    head = git.head_commit()
    tree = git.snapshot_tree()  # a throw-away index: the worktree's own is never touched
    base = head or _EMPTY_TREE
    ins, dels, files = git.numstat(base, tree)
    return t.GitDiffResult(worktree=str(wt.path), head=head, diff=git.diff(base, tree, stat=stat),
                           stat=t.DiffStat(insertions=ins, deletions=dels, files=files))


def read_file(wt: Worktree, value: str) -> t.GitFileResult:
    rel, target = locate(wt, value)
    if not rel:
        raise InvalidInput("give the path of a file", field="path")
    if target.is_dir():
        raise InvalidInput(f"{value!r} is a directory", hint="list it with /api/files/list", field="path")
    work = _read(wt.path.resolve(), target, value)
    git = wt.git()
    head_commit = git.head_commit()
    head = git.blob(head_commit, rel, MAX_FILE_BYTES) if head_commit else None
    texts = [part[0] for part in (head, work) if part is not None]
    binary = any(b"\0" in data[:_BINARY_PROBE] for data in texts)
    return t.GitFileResult(
        worktree=str(wt.path), path=rel, binary=binary,
        head=None if binary or head is None else _text(head[0]),
        work=None if binary or work is None else _text(work[0]),
        truncated=any(part[1] for part in (head, work) if part is not None))


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    return "file" if entry.is_file(follow_symlinks=False) else "other"


def list_dir(wt: Worktree, value: str) -> t.FileList:
    rel, target = locate(wt, value)
    if not target.is_dir():
        raise InvalidInput(f"{value!r} is not a directory in the worktree", field="path")
    entries: list[t.FileEntry] = []
    with os.scandir(target) as found:
        for entry in found:
            if entry.name == ".git":
                continue  # git's own, never served
            try:
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue  # gone since it was listed
            entries.append(t.FileEntry(name=entry.name, path=f"{rel}/{entry.name}" if rel else entry.name,
                                       kind=_kind(entry), size=size))
    entries.sort(key=lambda e: (e.kind != "dir", e.name))
    return t.FileList(worktree=str(wt.path), path=rel, entries=entries)


def find(wt: Worktree, q: str, limit: int) -> t.FileMatches:
    """Files (tracked, or untracked and not ignored) whose path holds `q`, file-name matches first."""
    if not 1 <= limit <= 5000:
        raise InvalidInput("limit must be between 1 and 5000", field="limit")
    needle = q.lower()
    matches = [p for p in wt.git().files() if needle in p.lower()]
    matches.sort(key=lambda p: (needle not in p.rsplit("/", 1)[-1].lower(), len(p), p))
    return t.FileMatches(worktree=str(wt.path), q=q, paths=matches[:limit], truncated=len(matches) > limit)
