"""The supervisor's socket: where it streams the event stream (trails.core.events) and takes commands.

Events are stored by the store (trails.core.store) and typed in trails.core.events; over this socket
each is one JSON object per line (newline-delimited JSON), in `Event.to_dict` form:

    {"id": 41, "ts": 1763750000.12, "session": "s1", "kind": "status", "caller": null,
     "data": {"status": "waiting", "previous": "running", "reason": "Do you want to create a.txt?",
              "needs_user": false}}

Socket protocol (`$TRAILS_HOME/events.sock`, or a short path under /tmp when that is too long; see
`socket_path`): the client sends one JSON line, then reads lines.
  {"subscribe": true, "since": 40}   → every stored event with id > 40, then live events, forever
  {"subscribe": true}                → live events only
  {"cmd": "ping"} | {"cmd": "rescan"} | {"cmd": "stop"} → one reply line, e.g. {"ok": true, "pid": 123}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trails.core import ownsock

_MAX_UNIX_PATH = 100


def socket_path(home: Path) -> Path:
    """Where the supervisor listens. Unix socket paths are short, so long homes get a /tmp path."""
    path = home / "events.sock"
    if len(str(path)) <= _MAX_UNIX_PATH:
        return path
    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]
    return ownsock.owned_dir(Path(tempfile.gettempdir()) / f"trails-{os.getuid()}") / f"{digest}.sock"


def request(path: Path, message: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one command to the supervisor and return its reply (raises OSError when it is not there)."""
    with _sent(path, message, timeout) as sock:
        reply = _read_line(sock)
    data: dict[str, Any] = json.loads(reply) if reply else {}
    return data


def notify(path: Path, message: dict[str, Any], timeout: float = 1.0) -> None:
    """Send one command without waiting for its reply (raises OSError when the supervisor is not there)."""
    with _sent(path, message, timeout):
        pass


@contextlib.contextmanager
def _sent(path: Path, message: dict[str, Any], timeout: float) -> Iterator[socket.socket]:
    """A connection to the supervisor's socket with `message` sent on it, closed on exit."""
    with ownsock.connect(path, timeout) as sock:
        sock.sendall((json.dumps(message) + "\n").encode())
        yield sock


def _read_line(sock: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf.strip()


def subscribe(path: Path, since: int | None = None, timeout: float | None = None) -> Iterator[dict[str, Any]]:
    """Events from the supervisor's socket as dicts: stored ones after `since`, then live ones."""
    sock = ownsock.connect(path, None)
    try:
        hello: dict[str, Any] = {"subscribe": True}
        if since is not None:
            hello["since"] = since
        sock.sendall((json.dumps(hello) + "\n").encode())
        sock.settimeout(timeout)
        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    yield json.loads(line)
    finally:
        sock.close()
