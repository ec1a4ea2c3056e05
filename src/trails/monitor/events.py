"""Events: what happened to live sessions, persisted in SQLite and streamed to subscribers.

An event is one JSON object; over the socket, one per line (newline-delimited JSON):

    {"id": 41, "ts": 1763750000.12, "session": "s1", "kind": "status",
     "data": {"status": "waiting", "previous": "running", "reason": "Do you want to create a.txt?",
              "needs_user": false}}

`id` grows by one per event (a subscriber resumes with `since`); `ts` is Unix time; `session` is
the session name (null for supervisor-wide events). Kinds and their `data`:

- `status`      — `status` (loading|running|ready|waiting|paused|error|completed|killed), `previous`,
                  `reason`, `needs_user` (true when a prompt waits for a person, e.g. a guard refused it)
- `auto_yes`    — an automatic answer: `prompt_kind`, `prompt` (the dialog's text), `keys`
- `refused`     — auto-yes would not answer: `prompt_kind`, `prompt`, `guard`, `reason`
- `trust`       — the agent's trust-this-folder prompt was answered: `prompt`
- `paused`, `resumed` — `ref`, `commit`, `conversation_id` where known
- `supervisor`  — `state` (started|stopping), `pid`

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
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trails.core import ownsock
from trails.core.store import Store

_MAX_UNIX_PATH = 100


@dataclass
class Event:
    kind: str
    session: str | None
    data: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_line(self) -> bytes:
        return (json.dumps(self.to_dict(), default=str) + "\n").encode()


def socket_path(home: Path) -> Path:
    """Where the supervisor listens. Unix socket paths are short, so long homes get a /tmp path."""
    path = home / "events.sock"
    if len(str(path)) <= _MAX_UNIX_PATH:
        return path
    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]
    return ownsock.owned_dir(Path(tempfile.gettempdir()) / f"trails-{os.getuid()}") / f"{digest}.sock"


def persist(store: Store, event: Event) -> Event:
    event.ts = event.ts or time.time()
    with store.write() as tx:
        cur = tx.execute(
            "INSERT INTO events (ts, session_name, kind, data) VALUES (?, ?, ?, ?)",
            (event.ts, event.session, event.kind, json.dumps(event.data, default=str)),
        )
    event.id = int(cur.lastrowid or 0)
    return event


def stored(store: Store, *, session: str | None = None, since: int | None = None,
           limit: int | None = None) -> list[Event]:
    sql, args = "SELECT * FROM events WHERE id > ?", list[object]([since or 0])
    if session is not None:
        sql += " AND session_name = ?"
        args.append(session)
    sql += " ORDER BY id"
    if limit is not None:
        sql = f"SELECT * FROM ({sql.replace('ORDER BY id', 'ORDER BY id DESC')} LIMIT ?) ORDER BY id"
        args.append(limit)
    return [
        Event(r["kind"], r["session_name"], json.loads(r["data"]), r["id"], r["ts"])
        for r in store.rows(sql, args)
    ]


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
