"""A separate object store for git objects an agent writes, and taking them into the repository's.

A container agent's git writes its new objects into a store of its own (GIT_OBJECT_DIRECTORY) and
reads the repository's through an alternate that it cannot write. Before trails relies on them,
each object moves into the repository's store only once its content hashes to its name, so what
an agent wrote can never stand in for an object the repository has, or will have.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import zlib
from pathlib import Path
from typing import BinaryIO

from trails.core.errors import GitError
from trails.infra.git import Git

# The agent's store: a directory of this name in the git directory its container writes.
STORE = "objects"
_HEX = frozenset("0123456789abcdef")
_TYPES = (b"blob", b"tree", b"commit", b"tag")
_CHUNK = 1 << 16


def import_objects(store: Path, common: Path) -> int:
    """Move every complete object in `store` (loose or packed) into the object directory of the
    repository whose git directory is `common`, verified; objects that do not check out stay where
    they are. Returns how many moved."""
    objects = common / "objects"
    # The repository alone: an object the agent's store has must not count as present.
    repo = Git(common, git_dir=common, work_tree=False)
    moved = 0
    try:
        fanout = [e for e in os.scandir(store) if len(e.name) == 2 and set(e.name) <= _HEX
                  and e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    for directory in fanout:
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory.path):
                if len(entry.name) in (38, 62) and set(entry.name) <= _HEX:
                    moved += _move_loose(Path(entry.path), objects / directory.name / entry.name)
    pack_dir = store / "pack"
    if pack_dir.is_dir() and not pack_dir.is_symlink():
        for pack in sorted(pack_dir.glob("pack-*.pack")):
            moved += _unpack(pack, repo)
    return moved


def _open_regular(path: Path) -> BinaryIO | None:
    """`path` opened for reading when it is a regular file; None for a link, a FIFO, a device or
    anything that cannot be opened (the agent made it: opening must neither follow nor block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _move_loose(source: Path, target: Path) -> int:
    """Copy one loose object into the repository's store if its content hashes to its name (and the
    store lacks it), then remove it from the agent's store. 1 when it is in the repository now."""
    name = source.parent.name + source.name
    src = _open_regular(source)
    if src is None:
        return 0
    with src:
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            tmp_fd, tmp = tempfile.mkstemp(prefix="tmp_obj_trails_", dir=target.parent)
            try:
                with os.fdopen(tmp_fd, "wb") as out:
                    ok = _copy_verified(src, out, name)
                if not ok:
                    return 0
                os.chmod(tmp, 0o444)
                with contextlib.suppress(FileExistsError):  # another writer got there first: same object
                    os.link(tmp, target)
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    with contextlib.suppress(OSError):
        source.unlink()
    return 1


def _copy_verified(src: BinaryIO, out: BinaryIO, name: str) -> bool:
    """Copy a loose object's bytes; True when they inflate to `<type> <size>\\0<content>` hashing to `name`."""
    digest = hashlib.new("sha1" if len(name) == 40 else "sha256")
    inflate = zlib.decompressobj()
    header = b""
    size = -1
    seen = 0
    try:
        while chunk := src.read(_CHUNK):
            out.write(chunk)
            data = inflate.decompress(chunk)
            digest.update(data)
            if size < 0:
                header += data
                if b"\0" not in header:
                    if len(header) > 64:
                        return False
                    continue
                head, _, data = header.partition(b"\0")
                kind, _, length = head.partition(b" ")
                if kind not in _TYPES or not length.isdigit():
                    return False
                size = int(length)
            seen += len(data)
        tail = inflate.flush()
        digest.update(tail)
        seen += len(tail)
    except zlib.error:
        return False
    return size >= 0 and seen == size and inflate.eof and digest.hexdigest() == name


def _unpack(pack: Path, repo: Git) -> int:
    """A pack the agent's git made (`git gc` in the session): unpacked into the repository by git,
    which hashes every object itself and skips those the repository has."""
    src = _open_regular(pack)
    if src is None:
        return 0
    with src:
        res = repo.run("unpack-objects", "-q", stdin=src, check=False)
    if not res.ok:
        raise GitError(f"the objects of {pack} could not be taken into the repository: {res.stderr.strip()}")
    for leftover in (pack, pack.with_suffix(".idx"), pack.with_suffix(".rev"), pack.with_suffix(".keep")):
        with contextlib.suppress(OSError):
            leftover.unlink()
    return 1
