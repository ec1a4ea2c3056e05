"""Every session's terminal output on disk: `$TRAILS_HOME/output/<tmux-session>.log`, bounded and rotated.

tmux itself writes the file: a server hook pipes each new session's pane into logpipe.sh before the
pane's first byte is read, so nothing is missed and the log survives the agent, the supervisor and
trails. logpipe.sh moves a log that reaches `max_bytes()` to `.log.1` (one generation kept) and starts
a new one, so logs stay bounded with or without the supervisor.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

from trails.core.paths import private_dir

MAX_BYTES = 8 * 1024 * 1024


def max_bytes() -> int:
    """The size above which a log is rotated (TRAILS_OUTPUT_MAX_BYTES overrides the 8 MiB default)."""
    value = os.environ.get("TRAILS_OUTPUT_MAX_BYTES", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_BYTES

@functools.cache
def _patterns() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    # Compiled on first use: the engine imports this module on every command, `trails ls` included.
    ansi = re.compile(
        rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
        rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
        rb"|\x1bP[^\x1b]*\x1b\\"  # DCS
        rb"|\x1b[()*+][0-9A-Za-z]"  # charset selection
        rb"|\x1b[@-Z\\-_=>78c]"  # other two-byte escapes (c: reset)
    )
    # Cursor jumps, and a reset (a new agent's screen), become line breaks in text.
    return ansi, re.compile(rb"\x1b\[\d*[ABEFHf]|\x1b\[\d+;\d+[Hf]|\x1bc")


def output_dir(home: Path) -> Path:
    return private_dir(home / "output")


def log_path(home: Path, tmux_session: str) -> Path:
    return output_dir(home) / f"{tmux_session}.log"


LOGPIPE = Path(__file__).with_name("logpipe.sh")
_TMUX_SAFE = re.compile(r"[A-Za-z0-9_./+-]+")


def pipe_command(home: Path, tmux_session: str = "#{session_name}") -> str:
    """The shell command tmux's pipe-pane runs: append the pane's bytes to its log, bounded (logpipe.sh)."""
    log = f"{output_dir(home)}/{tmux_session}.log"
    return f"exec sh {shlex.quote(str(LOGPIPE))} {shlex.quote(log)} {max_bytes()}"


def hook_command(home: Path) -> str | None:
    """The tmux command (for a session-created hook) that starts a new session's log.

    None when a path would need quoting inside tmux's own quoting; the supervisor then starts each
    log itself, a moment later.
    """
    directory = str(output_dir(home))
    if not (_TMUX_SAFE.fullmatch(directory) and _TMUX_SAFE.fullmatch(str(LOGPIPE))):
        return None
    return f'pipe-pane -o "exec sh {LOGPIPE} {directory}/#{{session_name}}.log {max_bytes()}"'


def tmux_conf_lines(home: Path) -> str:
    command = hook_command(home)
    return f"set-hook -g session-created '{command}'\n" if command else ""


# "Reset to initial state": a new agent's log begins with it, so a terminal emulator replaying the
# log (the supervisor's) forgets the previous agent's screen instead of drawing over it.
TERMINAL_RESET = b"\x1bc"


def start_new(home: Path, tmux_session: str) -> None:
    """A new agent in this tmux session starts a fresh log; the previous one is kept as `.log.1`."""
    path = log_path(home, tmux_session)
    if not path.exists():
        return  # no earlier agent to forget (and creating a file is slow on some disks)
    os.replace(path, path.with_name(path.name + ".1"))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, TERMINAL_RESET)
    finally:
        os.close(fd)


def to_text(data: bytes) -> str:
    """Terminal bytes → plain text: escapes dropped, cursor jumps and carriage returns as line breaks."""
    ansi, cursor_moves = _patterns()
    data = cursor_moves.sub(b"\n", data)
    data = ansi.sub(b"", data).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    text = data.decode("utf-8", errors="replace")
    return "".join(ch for ch in text if ch in "\n\t" or ch >= " ")


def read_text(home: Path, tmux_session: str, lines: int | None = None) -> str | None:
    """The log as text (previous generation first), last `lines` non-blank lines; None when there is no log."""
    path = log_path(home, tmux_session)
    chunks = [p.read_bytes() for p in (path.with_name(path.name + ".1"), path) if p.exists()]
    if not chunks:
        return None
    out = [ln.rstrip() for ln in to_text(b"".join(chunks)).split("\n") if ln.strip()]
    return "\n".join(out[-lines:] if lines else out)


def follow(home: Path, tmux_session: str, *, from_start: bool = False, raw: bool = False,
           still_live: object = None, interval: float = 0.1) -> Iterator[str]:
    """New output as it is written (text, or raw bytes decoded when `raw`), across rotations.

    Stops when `still_live()` (a callable) returns False and nothing new arrived for a second.
    """
    path = log_path(home, tmux_session)
    handle = None
    inode = None
    quiet_since = time.monotonic()
    while True:
        if handle is None and path.exists():
            handle = path.open("rb")
            inode = os.fstat(handle.fileno()).st_ino
            if not from_start:
                handle.seek(0, os.SEEK_END)
            from_start = True  # after a rotation, read the new file from its start
        data = handle.read() if handle else b""
        if data:
            quiet_since = time.monotonic()
            yield data.decode("utf-8", errors="replace") if raw else to_text(data)
            continue
        try:
            rotated = handle is not None and os.stat(path).st_ino != inode
        except FileNotFoundError:
            rotated = handle is not None
        if rotated and handle is not None:
            handle.close()
            handle = None
            continue
        if callable(still_live) and time.monotonic() - quiet_since > 1.0 and not still_live():
            return
        time.sleep(interval)
