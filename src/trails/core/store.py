"""SQLite state: sessions, checkpoints, audit log. Versioned schema, migrations from v1 on.

Many trails processes share one database, so every write is a short IMMEDIATE transaction
and readers rely on WAL; a busy timeout absorbs contention instead of failing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trails.core.errors import SessionExists, SessionNotFound, StateError
from trails.core.models import AuditEntry, Checkpoint, Mode, Session, Status

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        agent TEXT NOT NULL,
        command TEXT NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        workdir TEXT NOT NULL,
        repo_root TEXT,
        worktree_path TEXT,
        branch TEXT,
        base_commit TEXT,
        tmux_session TEXT NOT NULL,
        env TEXT NOT NULL DEFAULT '{}',
        auto_yes INTEGER NOT NULL DEFAULT 0,
        conversation_id TEXT,
        container_id TEXT,
        limits TEXT NOT NULL DEFAULT '{}',
        extra TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ended_at REAL
    );
    -- One live session per name; ended sessions keep their rows for `ls --all`.
    CREATE UNIQUE INDEX sessions_live_name ON sessions(name) WHERE ended_at IS NULL;
    CREATE TABLE checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        session_name TEXT,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: live sessions (monitor): status changes, automatic answers and refusals, as events.
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        session_name TEXT,
        kind TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_session ON events(session_name, id);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

_JSON_COLUMNS = ("command", "env", "limits", "extra")
_SESSION_COLUMNS = (
    "name", "agent", "command", "mode", "status", "status_reason", "workdir", "repo_root",
    "worktree_path", "branch", "base_commit", "tmux_session", "env", "auto_yes",
    "conversation_id", "container_id", "limits", "extra",
)


class Store:
    """Typed access to the state database. One instance per process (connections are per thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            from trails.core import paths

            with self.guard():
                try:
                    paths.private_file(self.path)  # SQLite gives its -wal and -shm files the database's mode
                except OSError as exc:
                    raise paths.unusable(exc, "create") from None
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                try:
                    conn.row_factory = sqlite3.Row
                    conn.execute("PRAGMA busy_timeout = 30000")
                    # WAL + NORMAL: durable across application crashes, no fsync on every small commit.
                    conn.execute("PRAGMA synchronous = NORMAL")
                    self._conn = conn
                    self._migrate(conn)
                except BaseException:
                    self._conn = None
                    conn.close()
                    raise
        return self._conn

    @contextmanager
    def guard(self) -> Iterator[None]:
        """SQLite failures (a damaged file, a read-only home) as a StateError naming the database.
        Constraint violations pass through: callers turn those into their own errors."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise _state_error(self.path, exc) from None
        except UnicodeDecodeError as exc:  # a damaged schema page: SQLite hands back text that is not UTF-8
            raise _damaged(self.path, f"text in it is not UTF-8: {exc.reason}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @staticmethod
    def _use_wal(conn: sqlite3.Connection, timeout: float = 30.0) -> None:
        # Switching the journal mode needs the database to itself, and SQLite reports "locked" at once
        # rather than waiting when another process is creating it at the same moment: retry.
        deadline = time.monotonic() + timeout
        while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version >= SCHEMA_VERSION:
            return
        self._use_wal(conn)
        with self.write() as tx:
            # Re-read inside the write lock: a parallel process may have migrated meanwhile.
            version = tx.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version, SCHEMA_VERSION):
                tx.executescript_in_tx(MIGRATIONS[step])
                tx.execute(f"PRAGMA user_version = {step + 1}")

    @contextmanager
    def write(self) -> Iterator[_Tx]:
        conn = self.conn
        with self.guard():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(conn)
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # the error that got here is the one to tell
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- sessions -------------------------------------------------------------------------------

    def insert_session(self, session: Session) -> Session:
        now = time.time()
        values = _session_values(session)
        cols = ", ".join((*_SESSION_COLUMNS, "created_at", "updated_at"))
        marks = ", ".join("?" * (len(_SESSION_COLUMNS) + 2))
        try:
            with self.write() as tx:
                cur = tx.execute(f"INSERT INTO sessions ({cols}) VALUES ({marks})", (*values, now, now))
        except sqlite3.IntegrityError:
            raise SessionExists(
                f"a session named {session.name!r} already exists",
                hint="pick another name, or end it first with `trails kill`",
            ) from None
        session.id = int(cur.lastrowid or 0)
        session.created_at = session.updated_at = now
        return session

    def update_session(self, session_id: int, *, audits: Sequence[tuple[str, str | None, dict[str, Any]]] = (),
                       checkpoints: Sequence[tuple[str, str, str, str]] = (),
                       only_if_status: Status | None = None, **fields: Any) -> bool:
        """Change a session's fields, and append `audits` (action, session name, detail) and `checkpoints`
        (kind, ref, commit, note) in the same commit.

        With `only_if_status`, nothing changes (and False is returned) unless the stored status is still
        that one: a decision made on what was read must not overwrite another process's newer one.
        """
        if not fields and not audits and not checkpoints:
            return True
        with self.write() as tx:
            if fields:
                fields["updated_at"] = time.time()
                sets = ", ".join(f"{k} = ?" for k in fields)
                values = [_encode(k, v) for k, v in fields.items()]
                params: list[object]
                where, params = "id = ?", [session_id]
                if only_if_status is not None:
                    where, params = "id = ? AND status = ?", [*params, only_if_status.value]
                if tx.execute(f"UPDATE sessions SET {sets} WHERE {where}", (*values, *params)).rowcount == 0:
                    return False
            for action, session_name, detail in audits:
                _insert_audit(tx, action, session_name, detail)
            for kind, ref, commit, note in checkpoints:
                _insert_checkpoint(tx, session_id, kind, ref, commit, note)
        return True

    def update_extra(self, session_id: int, changes: dict[str, Any], *,
                     audits: Sequence[tuple[str, str | None, dict[str, Any]]] = ()) -> dict[str, Any]:
        """Set (a value) or drop (None) some keys of a session's `extra`, read and written in one
        transaction so that another writer's keys survive; the new `extra`."""
        with self.write() as tx:
            row = tx.execute("SELECT extra FROM sessions WHERE id = ?", (session_id,)).fetchone()
            extra: dict[str, Any] = json.loads(row[0]) if row is not None else {}
            for key, value in changes.items():
                if value is None:
                    extra.pop(key, None)
                else:
                    extra[key] = value
            tx.execute("UPDATE sessions SET extra = ?, updated_at = ? WHERE id = ?",
                       (json.dumps(extra), time.time(), session_id))
            for action, session_name, detail in audits:
                _insert_audit(tx, action, session_name, detail)
        return extra

    def delete_session(self, session_id: int) -> None:
        with self.write() as tx:
            tx.execute("DELETE FROM checkpoints WHERE session_id = ?", (session_id,))
            tx.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def get_session(self, name: str) -> Session:
        row = self._one("SELECT * FROM sessions WHERE name = ? AND ended_at IS NULL", (name,))
        if row is None:
            raise SessionNotFound(f"no session named {name!r}", hint="`trails ls` lists the sessions")
        return _row_to_session(row)

    def session_by_id(self, session_id: int) -> Session | None:
        """A session row by id, ended or not (None when it was deleted)."""
        row = self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _row_to_session(row) if row is not None else None

    def list_sessions(self, *, include_ended: bool = False) -> list[Session]:
        sql = "SELECT * FROM sessions"
        if not include_ended:
            sql += " WHERE ended_at IS NULL"
        sql += " ORDER BY created_at, id"
        return [_row_to_session(r) for r in self.rows(sql)]

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row a query returns, read inside the guard (a damaged page shows while stepping)."""
        conn = self.conn
        with self.guard():
            return conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[Any]) -> sqlite3.Row | None:
        conn = self.conn
        with self.guard():
            row: sqlite3.Row | None = conn.execute(sql, args).fetchone()
            return row

    # --- checkpoints ----------------------------------------------------------------------------

    def add_checkpoint(self, session: Session, kind: str, ref: str, commit: str, note: str = "") -> None:
        with self.write() as tx:
            _insert_checkpoint(tx, session.id, kind, ref, commit, note)

    def checkpoints(self, session: Session) -> list[Checkpoint]:
        rows = self.rows(
            "SELECT c.*, s.name AS session_name FROM checkpoints c JOIN sessions s ON s.id = c.session_id"
            " WHERE c.session_id = ? ORDER BY c.id",
            (session.id,),
        )
        return [
            Checkpoint(r["id"], r["session_name"], r["kind"], r["ref"], r["commit_sha"], r["note"],
                       r["created_at"])
            for r in rows
        ]

    # --- audit ----------------------------------------------------------------------------------

    def audit(self, action: str, session_name: str | None = None, **detail: Any) -> None:
        with self.write() as tx:
            _insert_audit(tx, action, session_name, detail)

    def audit_entries(self, session_name: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        sql, args = "SELECT * FROM audit", list[object]()
        if session_name is not None:
            sql += " WHERE session_name = ?"
            args.append(session_name)
        sql += " ORDER BY id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT ?) ORDER BY id"
            args.append(limit)
        return [
            AuditEntry(r["id"], r["ts"], r["session_name"], r["action"], json.loads(r["detail"]))
            for r in self.rows(sql, args)
        ]


class _Tx:
    """The connection inside one IMMEDIATE transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, args)

    def executescript_in_tx(self, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement to stay in the transaction.
        for statement in _split_sql(script):
            self._conn.execute(statement)


def _state_error(path: Path, exc: sqlite3.DatabaseError) -> StateError:
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return _damaged(path, str(exc))
    where = path.parent
    from trails.core import paths

    # A full disk shows as SQLITE_FULL when a write runs out, as an I/O error when even the
    # shared-memory file cannot grow (then every command fails, reads included).
    if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and paths.out_of_space(where)):
        return paths.no_space(path, "use the state database")
    if code in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR) \
            and not os.access(where, os.W_OK):
        why = f"{where} is not writable"
    else:
        why = None
    return StateError(
        f"cannot use the state database {path}: {exc}" + (f" ({why})" if why else ""),
        hint=f"trails keeps its state in {where}: make it writable, or set TRAILS_HOME to a directory that is",
    )


def _damaged(path: Path, why: str) -> StateError:
    return StateError(
        f"the state database {path} is damaged ({why}); trails has not changed it",
        hint=f"move it aside (with any {path.name}-wal and {path.name}-shm beside it) to start again with no "
             "sessions, or put back a copy of it",
    )


def _insert_audit(tx: _Tx, action: str, session_name: str | None, detail: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO audit (ts, session_name, action, detail) VALUES (?, ?, ?, ?)",
        (time.time(), session_name, action, json.dumps(detail, default=str)),
    )


def _insert_checkpoint(tx: _Tx, session_id: int, kind: str, ref: str, commit: str, note: str) -> None:
    tx.execute(
        "INSERT INTO checkpoints (session_id, kind, ref, commit_sha, note, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (session_id, kind, ref, commit, note, time.time()),
    )


def _split_sql(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _encode(key: str, value: Any) -> Any:
    if key in _JSON_COLUMNS:
        return json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (Mode, Status)):
        return value.value
    return value


def _session_values(s: Session) -> tuple[Any, ...]:
    return tuple(_encode(col, getattr(s, col)) for col in _SESSION_COLUMNS)


def _row_to_session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        name=row["name"],
        agent=row["agent"],
        command=json.loads(row["command"]),
        mode=Mode(row["mode"]),
        status=Status(row["status"]),
        status_reason=row["status_reason"],
        workdir=row["workdir"],
        repo_root=row["repo_root"],
        worktree_path=row["worktree_path"],
        branch=row["branch"],
        base_commit=row["base_commit"],
        tmux_session=row["tmux_session"],
        env=json.loads(row["env"]),
        auto_yes=bool(row["auto_yes"]),
        conversation_id=row["conversation_id"],
        container_id=row["container_id"],
        limits=json.loads(row["limits"]),
        extra=json.loads(row["extra"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        ended_at=row["ended_at"],
    )
