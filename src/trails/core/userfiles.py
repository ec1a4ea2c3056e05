"""The paths and files a user or a repository hands trails (settings, run files, prompt files): `~`
expanded or refused, and files read whole, but bounded.

Such a file may be a symbolic link to anything (git stores links, so a cloned repository can ship
one): a FIFO or a terminal would block the read and a device (/dev/zero) would never end it. Only
a regular file is read, and only up to a size no real one reaches, so a bad file is an error at
once instead of a hang or a process that eats the machine's memory.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from trails.core.errors import InvalidInput

MiB = 1 << 20


def expand_user(value: str) -> Path:
    """`value` with a leading `~` or `~user` expanded; InvalidInput when that names no home directory
    (pathlib raises a bare RuntimeError there)."""
    if "\0" in value:
        raise InvalidInput(f"{value!r} contains a NUL character, which no path can hold")
    expanded = os.path.expanduser(value)
    if expanded.startswith("~"):
        raise InvalidInput(f"{value!r}: {value.split('/', 1)[0]} is no user's home directory on this machine",
                           hint="give the path without ~, or with the name of a user who exists")
    return Path(expanded)


class UnreadableFile(Exception):
    """Why a file cannot be used; callers put it into their own error, which names the file."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them.

    FileNotFoundError passes through (a missing settings file is no error); every other problem is
    an UnreadableFile saying what is wrong.
    """
    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise UnreadableFile(_strerror(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UnreadableFile(f"it is not a regular file (it is {_kind(mode)})")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(_strerror(exc)) from None
    if len(data) > limit:
        raise UnreadableFile(f"it is larger than {_size(limit)}, more than such a file can sensibly be")
    return data


def decode_text(data: bytes) -> str:
    """UTF-8 text, whatever the locale; UnreadableFile naming the first bad byte otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"it is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})") from None


def _strerror(exc: OSError | ValueError) -> str:
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object a state file (a run's, a node cache's) holds; None when it is missing, unreadable
    or not an object (a run killed mid-write, a cache another version left)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
