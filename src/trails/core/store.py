"""SQLite state: sessions, checkpoints, the audit log, the event stream, agents' messages, claims and
artifacts. All of trails' SQL is here.

**One writer, readers of their own.** Each process writes through one connection, held under a lock
for one short IMMEDIATE transaction at a time; every thread reads on a connection of its own (WAL:
a reader never waits for the writer and never sees half a change). A lock-held connection rather
than a writer thread fed by a queue, because:
- callers need a write's outcome at once (a new row's id, whether a compare-and-set matched), and a
  read-modify-write must run inside the transaction: with a lock both are plain code, where a queue
  needs closures, futures and a hop to another thread per write;
- most trails processes are short CLI commands that write once or twice: a thread to start and stop
  in each would cost more than the one it saves;
- writers in other processes (a CLI run with TRAILS_SERVER=off beside the server, an older
  supervisor) are serialised by SQLite's own write lock (BEGIN IMMEDIATE, busy timeout) either way.
The connections are per process: a forked child opens its own.

**No lost updates.** A change to a session names the columns it sets, nothing else; what a change is
decided on is read in the same transaction (`update_extra` merges keys into what is stored now,
`set_live_status` and `only_if_status` compare and set). The fields that several writers change
while a session lives (needs_user, conflict, pr, paused, last_output: `models.LIFECYCLE_FIELDS`) are
columns of their own since schema v3, so a whole-`extra` write cannot carry a stale copy of them
(`update_session` refuses an `extra` holding one).

**Events in the same transaction.** Every audited action writes its event (`core.events.from_audit`)
with its audit row, and every status change its `status` event with the change, so what committed
is in the stream and what rolled back is not. After a commit that wrote events the store calls its
commit listeners (an `EventHub` publishes from there).

**Schema versions.** `PRAGMA user_version` is the schema's version; `MIGRATIONS[n]` upgrades n to
n+1 (append, never edit one released). A database of a newer version than this code knows is refused.
Before upgrading a database that holds data, it is copied with SQLite's backup API to
`state.db.bak-v<OLD>` (owner-only); an upgrade that fails is rolled back (the database stays at its
old version, usable by the trails that wrote it) and the error names the copy.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trails.core import events as ev
from trails.core.errors import SessionExists, SessionNotFound, StateError
from trails.core.models import (
    LIFECYCLE_FIELDS,
    LIVE_STATUSES,
    Artifact,
    AuditEntry,
    Checkpoint,
    Claim,
    Message,
    Mode,
    Session,
    Status,
)

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
    # 3: the fields several writers change while a session lives get columns of their own, out of
    # `extra` (a whole-extra write could carry a stale copy of them); who asked, in audit and events.
    """
    ALTER TABLE sessions ADD COLUMN needs_user TEXT;
    ALTER TABLE sessions ADD COLUMN conflict TEXT;
    ALTER TABLE sessions ADD COLUMN pr TEXT;
    ALTER TABLE sessions ADD COLUMN paused TEXT;
    ALTER TABLE sessions ADD COLUMN last_output TEXT;
    UPDATE sessions SET
        needs_user = CASE json_type(extra, '$.needs_user')
            WHEN 'text' THEN json_extract(extra, '$.needs_user') WHEN 'true' THEN 'needs you' END,
        conflict = CASE json_type(extra, '$.conflict') WHEN 'object' THEN json_extract(extra, '$.conflict') END,
        pr = CASE json_type(extra, '$.pr') WHEN 'object' THEN json_extract(extra, '$.pr') END,
        paused = CASE json_type(extra, '$.paused') WHEN 'object' THEN json_extract(extra, '$.paused') END,
        last_output = CASE json_type(extra, '$.last_output') WHEN 'text' THEN json_extract(extra, '$.last_output') END,
        extra = json_remove(extra, '$.needs_user', '$.conflict', '$.pr', '$.paused', '$.last_output');
    ALTER TABLE audit ADD COLUMN caller TEXT;
    UPDATE audit SET caller = json_extract(detail, '$.caller') WHERE json_type(detail, '$.caller') = 'text';
    CREATE INDEX audit_session ON audit(session_name, id);
    ALTER TABLE events ADD COLUMN caller TEXT;
    """,
    # 4: who said a live session's status: its agent's own hooks (hook), its screen (screen), or trails
    # itself (NULL: an exit, a kill, a pause). The supervisor writes it with the status.
    """
    ALTER TABLE sessions ADD COLUMN status_source TEXT;
    """,
    # 5: agents' coordination (issue #12): messages between sessions, advisory claims on paths of a
    # repository, small artifacts shared in one. `repo_root` scopes each (a session's repository, or its
    # workdir outside git); sessions are named as they were when the row was written.
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        repo_root TEXT NOT NULL,
        from_session TEXT NOT NULL,
        to_session TEXT NOT NULL,
        text TEXT NOT NULL,
        delivered_at REAL
    );
    CREATE INDEX messages_to ON messages(to_session, id);
    CREATE INDEX messages_from ON messages(from_session, ts);
    -- One row per recipient (a "*" message has one for each session of the repository but its sender):
    -- delivered when read (how = read) or typed into the recipient's pane while it was ready (typed).
    CREATE TABLE deliveries (
        message_id INTEGER NOT NULL REFERENCES messages(id),
        session_id INTEGER NOT NULL,
        delivered_at REAL,
        how TEXT,
        PRIMARY KEY (message_id, session_id)
    );
    CREATE INDEX deliveries_pending ON deliveries(session_id) WHERE delivered_at IS NULL;
    CREATE TABLE claims (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        session TEXT NOT NULL,
        session_id INTEGER NOT NULL,
        repo_root TEXT NOT NULL,
        pattern TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        expires_at REAL,
        released_at REAL
    );
    CREATE INDEX claims_held ON claims(repo_root, id) WHERE released_at IS NULL;
    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        repo_root TEXT NOT NULL,
        name TEXT NOT NULL,
        session TEXT NOT NULL,
        content BLOB NOT NULL,
        size INTEGER NOT NULL,
        UNIQUE (repo_root, name)
    );
    """,
    # 6: coordinators (issue #12): a session the user made one may run orchestration tools, and a worker
    # it created names it as its parent (by name, as the other tables do).
    """
    ALTER TABLE sessions ADD COLUMN coordinator INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN parent TEXT;
    """,
    # 7: remote hosts' events (issue #16): the local server follows each host's stream and stores what it
    # hears with the host's name and the remote id; the remote id it has stored up to is the host's cursor,
    # written in the transaction that stores the events (resumed from there: nothing lost, nothing twice).
    """
    ALTER TABLE events ADD COLUMN host TEXT;
    ALTER TABLE events ADD COLUMN remote_id INTEGER;
    CREATE TABLE host_cursors (
        host TEXT PRIMARY KEY,
        remote_id INTEGER NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

_JSON_COLUMNS = ("command", "env", "limits", "extra")
_NULLABLE_JSON_COLUMNS = ("conflict", "pr", "paused")
_SESSION_COLUMNS = (
    "name", "agent", "command", "mode", "status", "status_reason", "workdir", "repo_root",
    "worktree_path", "branch", "base_commit", "tmux_session", "env", "auto_yes",
    "conversation_id", "container_id", "limits", "extra", *LIFECYCLE_FIELDS, "status_source",
    "coordinator", "parent",
)
_UPDATABLE = frozenset({*_SESSION_COLUMNS, "ended_at"})
_MIN_PAGE = 512  # SQLite's smallest page: a database that holds anything is at least this long
CACHE_KIB = 512  # SQLite page cache per connection (PRAGMA cache_size): see Store._open

Audit = tuple[str, str | None, dict[str, Any]]  # (action, session name, detail)

# Commit listeners by database file, for the whole process: a commit through any Store of the file
# (the engine's, the supervisor's) reaches every listener (the server's EventHub). A forked child
# starts with none: its parent's listeners are threads and locks it does not have.
_LISTENERS: dict[str, list[Callable[[], None]]] = {}
_LISTENERS_LOCK = threading.Lock()
os.register_at_fork(after_in_child=_LISTENERS.clear)


class Store:
    """Typed access to the state database. One instance per process; safe to share between threads."""

    def __init__(self, path: Path, on_commit: Callable[[], None] | None = None) -> None:
        self.path = path
        self._key = str(path.resolve())
        self._reset()
        if on_commit is not None:
            self.add_commit_listener(on_commit)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._write_lock = threading.Lock()  # the one writer of this process
        self._schema_lock = threading.Lock()
        self._local = threading.local()  # this thread's reading connection; whether it is writing
        self._writer: sqlite3.Connection | None = None
        self._readers: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._readers_lock = threading.Lock()
        self._ready = False  # the schema was checked (and upgraded) by this process

    def _check_process(self) -> None:
        # A forked child must not use its parent's connections (nor locks some other thread held):
        # it forgets them without closing them (closing would release the parent's file locks).
        if self._pid != os.getpid():
            self._reset()

    # --- connections ----------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's reading connection, the database opened (and its schema checked) first."""
        return self._reader()

    def _open(self) -> sqlite3.Connection:
        from trails.core import paths

        _check_header(self.path)
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
                # Each thread keeps its own connection, and SQLite's default cache (2 MB each) fills as
                # the events table grows: a long-running server's memory grew with it for hours. The
                # operating system caches the file too, so a small cache costs a read, not the disk.
                conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            except BaseException:
                conn.close()
                raise
        return conn

    def _reader(self) -> sqlite3.Connection:
        self._check_process()
        held: _ThreadReader | None = getattr(self._local, "reader", None)
        conn = held.conn if held is not None else None
        if conn is None:
            conn = self._open()
            try:
                if not self._ready:
                    self._check_schema(conn)
            except BaseException:
                conn.close()
                raise
            self._local.reader = _ThreadReader(conn)
            with self._readers_lock:
                # Kept for close(); an ended thread's connection was closed as the thread ended (its
                # _ThreadReader went with its thread-local storage), not here: that could race it.
                alive = [(thread, old) for thread, old in self._readers if thread.is_alive()]
                self._readers = [*alive, (threading.current_thread(), conn)]
        return conn

    def guard(self) -> contextlib.AbstractContextManager[None]:
        """SQLite failures (a damaged file, a read-only home) as a StateError naming the database.
        Constraint violations pass through: callers turn those into their own errors."""
        return _guard(self.path)

    def close(self) -> None:
        """Close every connection (call when no other thread uses the store any more)."""
        if self._pid != os.getpid():
            self._reset()
            return
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for _, conn in readers:
            conn.close()
        self._local = threading.local()
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def add_commit_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after each commit that stored events, made through any Store of this
        process on the same database file, in the committing thread."""
        with _LISTENERS_LOCK:
            _LISTENERS.setdefault(self._key, []).append(listener)

    def remove_commit_listener(self, listener: Callable[[], None]) -> None:
        with _LISTENERS_LOCK, contextlib.suppress(ValueError):
            _LISTENERS.get(self._key, []).remove(listener)

    # --- schema ---------------------------------------------------------------------------------

    def _check_schema(self, reader: sqlite3.Connection) -> None:
        with self._schema_lock:
            if self._ready:
                return
            with self.guard():
                version = reader.execute("PRAGMA user_version").fetchone()[0]
            _refuse_newer(self.path, version)
            if version < SCHEMA_VERSION:
                with self._write_lock:
                    self._migrate(self._writing_connection())
                with self.guard():
                    self._use_wal(reader)  # opened before another connection switched it: have it see WAL
            self._ready = True

    def _writing_connection(self) -> sqlite3.Connection:
        """The writer connection (the caller holds the write lock)."""
        if self._writer is None:
            self._writer = self._open()
        return self._writer

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
        with self.guard():
            self._use_wal(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read inside the write lock: a parallel process may have migrated meanwhile.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                _refuse_newer(self.path, version)
                if version < SCHEMA_VERSION:
                    backup = self._backup(version) if version > 0 else None
                    try:
                        for step in range(version, SCHEMA_VERSION):
                            for statement in _split_sql(MIGRATIONS[step]):
                                conn.execute(statement)
                            conn.execute(f"PRAGMA user_version = {step + 1}")
                    except sqlite3.Error as exc:
                        raise _migration_failed(self.path, version, backup, exc) from None
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _backup(self, version: int) -> Path:
        """Copy the database as it is (this connection's write lock keeps it so) to state.db.bak-vN."""
        from trails.core import paths

        target = self.path.with_name(f"{self.path.name}.bak-v{version}")
        try:
            target.unlink(missing_ok=True)  # one from an upgrade that failed before: this copy is newer
            paths.private_file(target)
        except OSError as exc:
            raise paths.unusable(exc, "copy the state database to") from None
        try:
            source = sqlite3.connect(self.path, timeout=30)
            try:
                copy = sqlite3.connect(target)
                try:
                    source.backup(copy)
                finally:
                    copy.close()
            finally:
                source.close()
        except sqlite3.Error as exc:
            raise StateError(
                f"cannot copy the state database {self.path} to {target} before upgrading it: {exc}; "
                "nothing was changed",
                hint=f"make room in {self.path.parent} (the copy is as large as the database), then retry",
            ) from None
        return target

    # --- transactions ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[_Tx]:
        self._reader()  # opened, schema checked: before the write lock, which an upgrade takes too
        if getattr(self._local, "writing", False):
            raise RuntimeError("a store write inside another one (SQLite transactions do not nest)")
        tx: _Tx | None = None
        with self._write_lock:
            self._local.writing = True
            try:
                conn = self._writing_connection()
                with self.guard():
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        tx = _Tx(conn)
                        yield tx
                        conn.execute("COMMIT")
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):  # the error that got here is the one to tell
                            conn.execute("ROLLBACK")
                        raise
            finally:
                self._local.writing = False
        if tx is not None and tx.events:
            self._committed()

    def _committed(self) -> None:
        with _LISTENERS_LOCK:
            listeners = list(_LISTENERS.get(self._key, ()))
        for listener in listeners:
            try:
                listener()
            except Exception:  # the write is done; a subscriber's trouble must not undo the caller's
                traceback.print_exc(file=sys.stderr)

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row a query returns, read inside the guard (a damaged page shows while stepping)."""
        conn = self._reader()
        with self.guard():
            return conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[Any]) -> sqlite3.Row | None:
        conn = self._reader()
        with self.guard():
            row: sqlite3.Row | None = conn.execute(sql, args).fetchone()
            return row

    def data_version(self) -> int:
        """Changes whenever another connection (another thread's or process's) commits."""
        row = self._one("PRAGMA data_version", ())
        assert row is not None
        return int(row[0])

    # --- sessions -------------------------------------------------------------------------------

    def insert_session(self, session: Session) -> Session:
        _check_extra(session.extra)
        now = time.time()
        values = _session_values(session)
        cols = ", ".join((*_SESSION_COLUMNS, "created_at", "updated_at"))
        marks = ", ".join("?" * (len(_SESSION_COLUMNS) + 2))
        try:
            with self._write() as tx:
                cur = tx.execute(f"INSERT INTO sessions ({cols}) VALUES ({marks})", (*values, now, now))
        except sqlite3.IntegrityError:
            raise SessionExists(
                f"a session named {session.name!r} already exists",
                hint="pick another name, or end it first with `trails kill`", field="name",
            ) from None
        session.id = int(cur.lastrowid or 0)
        session.created_at = session.updated_at = now
        return session

    def update_session(self, session_id: int, *, audits: Sequence[Audit] = (),
                       checkpoints: Sequence[tuple[str, str, str, str]] = (),
                       only_if_status: Status | None = None, **fields: Any) -> bool:
        """Change a session's fields (only those named), and append `audits` (action, session name,
        detail) with their events and `checkpoints` (kind, ref, commit, note), in one commit. A
        changed status writes its `status` event too.

        With `only_if_status`, nothing changes (and False is returned) unless the stored status is still
        that one: a decision made on what was read must not overwrite another process's newer one.
        """
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not a session column: {', '.join(sorted(unknown))}")
        if "extra" in fields:
            _check_extra(fields["extra"])
        if not fields and not audits and not checkpoints:
            return True
        with self._write() as tx:
            status_change = None
            if fields:
                row = tx.execute("SELECT name, status, status_reason FROM sessions WHERE id = ?",
                                 (session_id,)).fetchone()
                if row is None or (only_if_status is not None and row["status"] != only_if_status.value):
                    return False
                new_status = fields.get("status")
                if new_status is not None and Status(new_status).value != row["status"]:
                    status_change = (row["name"], row["status"], Status(new_status).value,
                                     fields.get("status_reason", row["status_reason"]))
                    fields.setdefault("status_source", None)  # trails itself changed it, not the agent
                fields["updated_at"] = time.time()
                sets = ", ".join(f"{k} = ?" for k in fields)
                values = [_encode(k, v) for k, v in fields.items()]
                tx.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*values, session_id))
            for action, session_name, detail in audits:
                tx.audit(action, session_name, detail)
            for kind, ref, commit, note in checkpoints:
                _insert_checkpoint(tx, session_id, kind, ref, commit, note)
            if status_change is not None:
                name, previous, status, reason = status_change
                tx.status_event(session_id, name, status, previous, reason, _caller_of(audits))
        return True

    def update_extra(self, session_id: int, changes: dict[str, Any], *,
                     audits: Sequence[Audit] = ()) -> dict[str, Any]:
        """Set (a value) or drop (None) some keys of a session's `extra`, read and written in one
        transaction so that another writer's keys survive; the new `extra`."""
        _check_extra(changes)
        with self._write() as tx:
            row = tx.execute("SELECT id, extra FROM sessions WHERE id = ?", (session_id,)).fetchone()
            extra: dict[str, Any] = _decoded(self.path, "sessions", row, "extra", dict) if row is not None else {}
            for key, value in changes.items():
                if value is None:
                    extra.pop(key, None)
                else:
                    extra[key] = value
            tx.execute("UPDATE sessions SET extra = ?, updated_at = ? WHERE id = ?",
                       (json.dumps(extra), time.time(), session_id))
            for action, session_name, detail in audits:
                tx.audit(action, session_name, detail)
        return extra

    def set_live_status(self, session_id: int, status: Status, reason: str, *, force: bool = False,
                        source: str | None = None) -> bool:
        """The supervisor's status change, said by `source` (hook | screen): only over a live status (an
        engine operation that ended or paused the session meanwhile wins). Writes the `status` event
        when the status changed (or, with `force`, in any case: a prompt that now needs a person, a
        status its agent's hook confirmed). False when it was not live."""
        live = tuple(s.value for s in LIVE_STATUSES)
        with self._write() as tx:
            row = tx.execute("SELECT name, status FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None or row["status"] not in live:
                return False
            tx.execute("UPDATE sessions SET status = ?, status_reason = ?, status_source = ?, updated_at = ?"
                       " WHERE id = ?", (status.value, reason, source, time.time(), session_id))
            if row["status"] != status.value or force:
                tx.status_event(session_id, row["name"], status.value, row["status"], reason, None)
        return True

    def set_needs_user(self, session_id: int, reason: str | None) -> None:
        """Flag (with why) or clear that a waiting prompt needs a person; the supervisor's alone."""
        with self._write() as tx:
            tx.execute("UPDATE sessions SET needs_user = ? WHERE id = ?", (reason, session_id))

    def delete_session(self, session_id: int) -> None:
        with self._write() as tx:
            tx.execute("DELETE FROM checkpoints WHERE session_id = ?", (session_id,))
            tx.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def get_session(self, name: str) -> Session:
        row = self._one("SELECT * FROM sessions WHERE name = ? AND ended_at IS NULL", (name,))
        if row is None:
            raise SessionNotFound(f"no session named {name!r}", hint="`trails ls` lists the sessions")
        return _row_to_session(self.path, row)

    def session_by_id(self, session_id: int) -> Session | None:
        """A session row by id, ended or not (None when it was deleted)."""
        row = self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _row_to_session(self.path, row) if row is not None else None

    def list_sessions(self, *, include_ended: bool = False) -> list[Session]:
        sql = "SELECT * FROM sessions"
        if not include_ended:
            sql += " WHERE ended_at IS NULL"
        sql += " ORDER BY created_at, id"
        return [_row_to_session(self.path, r) for r in self._rows(sql)]

    # --- checkpoints ----------------------------------------------------------------------------

    def add_checkpoint(self, session: Session, kind: str, ref: str, commit: str, note: str = "") -> None:
        with self._write() as tx:
            _insert_checkpoint(tx, session.id, kind, ref, commit, note)

    def checkpoints(self, session: Session) -> list[Checkpoint]:
        rows = self._rows(
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
        """Record an action (and its event, in the same commit). detail["caller"], when given, is who asked."""
        with self._write() as tx:
            tx.audit(action, session_name, detail)

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
            AuditEntry(r["id"], r["ts"], r["session_name"], r["action"],
                       _decoded(self.path, "audit", r, "detail", dict), r["caller"])
            for r in self._rows(sql, args)
        ]

    # --- events ---------------------------------------------------------------------------------

    def append_event(self, payload: ev.Payload, *, session: str | None = None, caller: str | None = None,
                     host: str | None = None) -> ev.Event:
        """Store an event that no audited action tells: the supervisor's own, a job's progress, a host's state."""
        with self._write() as tx:
            event_id, ts = tx.event(ev.kind_of(payload), session, ev.encode_payload(payload), caller, host=host)
        return ev.Event(id=event_id, ts=ts, session=session, kind=ev.kind_of(payload), caller=caller,
                        data=payload, host=host)  # type: ignore[arg-type]

    def events(self, *, session: str | None = None, since: int | None = None,
               limit: int | None = None, host: str | None = None) -> list[ev.Event]:
        """Stored events after `since`, oldest first; with `limit`, only the last `limit` of them.
        With `session`: that session's, on `host` (None: this machine)."""
        sql, args = "SELECT * FROM events WHERE id > ?", list[object]([since or 0])
        if session is not None:
            sql += " AND session_name = ? AND host IS ?"
            args += [session, host]
        if limit is not None:
            sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?) ORDER BY id"
            args.append(limit)
        else:
            sql += " ORDER BY id"
        return [_row_to_event(self.path, r) for r in self._rows(sql, args)]

    def events_after(self, after: int, *, upto: int | None = None, count: int = ev.PAGE) -> list[ev.Event]:
        """The first `count` events with after < id (<= upto), oldest first: a subscriber's next page."""
        sql, args = "SELECT * FROM events WHERE id > ?", list[object]([after])
        if upto is not None:
            sql += " AND id <= ?"
            args.append(upto)
        sql += " ORDER BY id LIMIT ?"
        args.append(count)
        return [_row_to_event(self.path, r) for r in self._rows(sql, args)]

    def host_cursor(self, host: str) -> int | None:
        """The remote id of the last event of `host` stored here (None: the host was never followed)."""
        row = self._one("SELECT remote_id FROM host_cursors WHERE host = ?", (host,))
        return int(row[0]) if row is not None else None

    def set_host_cursor(self, host: str, remote_id: int) -> None:
        with self._write() as tx:
            tx.execute("INSERT INTO host_cursors (host, remote_id) VALUES (?, ?) ON CONFLICT (host) DO UPDATE "
                       "SET remote_id = excluded.remote_id", (host, remote_id))

    def import_remote_events(self, host: str, events: Sequence[ev.Event]) -> int:
        """Store a host's events (their `id` is the remote's) after its cursor, and move the cursor, in one
        transaction: an event at or before the cursor is one already stored and is skipped. How many were."""
        stored = 0
        with self._write() as tx:
            row = tx.execute("SELECT remote_id FROM host_cursors WHERE host = ?", (host,)).fetchone()
            cursor = int(row[0]) if row is not None else 0
            for event in events:
                if event.id <= cursor:
                    continue
                tx.event(event.kind, event.session, ev.encode_payload(event.data), event.caller, ts=event.ts,
                         host=host, remote_id=event.id)
                cursor, stored = event.id, stored + 1
            tx.execute("INSERT INTO host_cursors (host, remote_id) VALUES (?, ?) ON CONFLICT (host) DO UPDATE "
                       "SET remote_id = excluded.remote_id", (host, cursor))
        return stored

    def last_event_id(self) -> int:
        row = self._one("SELECT MAX(id) FROM events", ())
        return int(row[0] or 0) if row is not None else 0

    # --- agents' coordination: messages, claims, artifacts (the rules are core.coordination's) ---------

    def session_by_token(self, key: str, digest: str) -> Session | None:
        """The live session whose extra[key] is `digest` (a credential's SHA-256), if any."""
        row = self._one("SELECT * FROM sessions WHERE ended_at IS NULL AND json_extract(extra, '$.' || ?) = ?",
                        (key, digest))
        return _row_to_session(self.path, row) if row is not None else None

    def add_message(self, repo_root: str, sender: str, to: str, text: str, recipients: Sequence[int], *,
                    window: float, at_most: int, audit: Audit) -> Message | None:
        """Store a message for the sessions `recipients` (ids) and its audit entry, unless `sender`
        already sent `at_most` in the last `window` seconds (then None, and nothing is written):
        counted in the same transaction."""
        now = time.time()
        with self._write() as tx:
            sent = tx.execute("SELECT COUNT(*) FROM messages WHERE from_session = ? AND ts > ?",
                              (sender, now - window)).fetchone()[0]
            if sent >= at_most:
                return None
            cur = tx.execute("INSERT INTO messages (ts, repo_root, from_session, to_session, text)"
                             " VALUES (?, ?, ?, ?, ?)", (now, repo_root, sender, to, text))
            message = Message(int(cur.lastrowid or 0), now, repo_root, sender, to, text)
            for session_id in recipients:
                tx.execute("INSERT OR IGNORE INTO deliveries (message_id, session_id) VALUES (?, ?)",
                           (message.id, session_id))
            action, session_name, detail = audit
            tx.audit(action, session_name, {**detail, "id": message.id})
        return message

    def inbox(self, name: str, repo_root: str, *, since: int, not_before: float, limit: int) -> list[Message]:
        """Messages to `name` (and to "*" in its repository, from others) after id `since` and not
        older than `not_before` (a later session of the same name does not read an earlier one's); the
        last `limit`, oldest first."""
        rows = self._rows(
            "SELECT * FROM (SELECT * FROM messages WHERE id > ? AND ts >= ? AND (to_session = ?"
            " OR (to_session = '*' AND repo_root = ? AND from_session != ?)) ORDER BY id DESC LIMIT ?) ORDER BY id",
            (since, not_before, name, repo_root, name, limit))
        return [_row_to_message(r) for r in rows]

    def mark_delivered(self, session_id: int, ids: Sequence[int], how: str) -> None:
        """Messages that reached a recipient (read, or typed into its pane): its deliveries, and each
        message's `delivered_at` (its first delivery to anyone)."""
        if not ids:
            return
        now, marks = time.time(), ", ".join("?" * len(ids))
        with self._write() as tx:
            tx.execute(f"UPDATE deliveries SET delivered_at = ?, how = ? WHERE session_id = ? AND delivered_at IS NULL"
                       f" AND message_id IN ({marks})", (now, how, session_id, *ids))
            tx.execute(f"UPDATE messages SET delivered_at = ? WHERE delivered_at IS NULL AND id IN ({marks})",
                       (now, *ids))

    def pending_for_ready(self) -> list[tuple[Message, int, str]]:
        """Undelivered messages whose recipient is live and `ready` with nothing waiting for a person
        (never a dialog): (message, recipient id, recipient name), the oldest first."""
        rows = self._rows(
            "SELECT m.*, d.session_id AS recipient_id, s.name AS recipient FROM deliveries d"
            " JOIN messages m ON m.id = d.message_id JOIN sessions s ON s.id = d.session_id"
            " WHERE d.delivered_at IS NULL AND s.ended_at IS NULL AND s.status = ? AND s.needs_user IS NULL"
            " ORDER BY m.id", (Status.READY.value,))
        return [(_row_to_message(r), int(r["recipient_id"]), str(r["recipient"])) for r in rows]

    def last_messages(self, session_ids: Sequence[int]) -> dict[int, Message]:
        """Each session's own last message (by session id; none: absent), in one query: a message is a
        session's if its name sent it while the session lived (names are reused: another session of the
        same name sent the others, as `inbox` reads them)."""
        rows = self._rows(
            "SELECT s.id AS session_id, m.* FROM sessions s JOIN messages m ON m.id = (SELECT MAX(id) FROM messages"
            " WHERE from_session = s.name AND ts >= s.created_at AND (s.ended_at IS NULL OR ts <= s.ended_at))"
            " WHERE s.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(session_ids)),))
        return {int(r["session_id"]): _row_to_message(r) for r in rows}

    def add_claim(self, claim: Claim, conflict: Callable[[list[Claim]], Claim | None], *,
                  audit: Audit) -> tuple[Claim | None, Claim | None]:
        """Store `claim` unless `conflict(held)` names one of the claims still held in its repository
        (expired ones, and those of sessions that ended, are released first, in the same transaction).
        (the stored claim, None) or (None, the conflicting one)."""
        now = time.time()
        with self._write() as tx:
            _release_stale(tx, now)
            rows = tx.execute("SELECT * FROM claims WHERE repo_root = ? AND released_at IS NULL ORDER BY id",
                              (claim.repo_root,)).fetchall()
            found = conflict([_row_to_claim(r) for r in rows])
            if found is not None:
                return None, found
            cur = tx.execute(
                "INSERT INTO claims (ts, session, session_id, repo_root, pattern, reason, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (now, claim.session, claim.session_id, claim.repo_root, claim.pattern, claim.reason, claim.expires_at))
            claim.id, claim.ts = int(cur.lastrowid or 0), now
            action, session_name, detail = audit
            tx.audit(action, session_name, {**detail, "id": claim.id})
        return claim, None

    def release_claims(self, session_id: int, pattern: str | None, *, audit: Audit) -> list[Claim]:
        """Release the session's held claims (of `pattern` only, when given), with one audit entry."""
        now = time.time()
        with self._write() as tx:
            _release_stale(tx, now)
            sql = "SELECT * FROM claims WHERE session_id = ? AND released_at IS NULL"
            args: list[object] = [session_id]
            if pattern is not None:
                sql += " AND pattern = ?"
                args.append(pattern)
            released = [_row_to_claim(r) for r in tx.execute(sql + " ORDER BY id", args).fetchall()]
            if released:
                tx.execute(f"UPDATE claims SET released_at = ? WHERE id IN ({', '.join('?' * len(released))})",
                           (now, *(c.id for c in released)))
                action, session_name, detail = audit
                tx.audit(action, session_name, {**detail, "ids": [c.id for c in released],
                                                "patterns": [c.pattern for c in released]})
        for claim in released:
            claim.released_at = now
        return released

    def held_claims(self, repo_root: str | None = None, session_id: int | None = None) -> list[Claim]:
        """Claims still held: not released, not expired, their session live (read only: nothing released)."""
        sql = ("SELECT c.* FROM claims c JOIN sessions s ON s.id = c.session_id AND s.ended_at IS NULL"
               " WHERE c.released_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > ?)")
        args: list[object] = [time.time()]
        if repo_root is not None:
            sql += " AND c.repo_root = ?"
            args.append(repo_root)
        if session_id is not None:
            sql += " AND c.session_id = ?"
            args.append(session_id)
        return [_row_to_claim(r) for r in self._rows(sql + " ORDER BY c.id", args)]

    def put_artifact(self, repo_root: str, name: str, session: str, content: bytes, *,
                     audit: Audit) -> tuple[Artifact, str | None]:
        """Store (or replace) an artifact, unless another session shared that name: (artifact, None),
        or (the existing one, its sharer) with nothing written."""
        now = time.time()
        with self._write() as tx:
            row = tx.execute("SELECT id, ts, repo_root, name, session, size FROM artifacts WHERE repo_root = ?"
                             " AND name = ?", (repo_root, name)).fetchone()
            if row is not None and row["session"] != session:
                return _row_to_artifact(row), row["session"]
            tx.execute("INSERT INTO artifacts (ts, repo_root, name, session, content, size) VALUES (?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (repo_root, name) DO UPDATE SET ts = excluded.ts, content = excluded.content,"
                       " size = excluded.size",
                       (now, repo_root, name, session, content, len(content)))
            got = tx.execute("SELECT id FROM artifacts WHERE repo_root = ? AND name = ?", (repo_root, name)).fetchone()
            action, session_name, detail = audit
            tx.audit(action, session_name, {**detail, "id": got["id"], "replaced": row is not None})
        return Artifact(int(got["id"]), now, repo_root, name, session, len(content), content), None

    def artifact(self, repo_root: str, name: str) -> Artifact | None:
        row = self._one("SELECT * FROM artifacts WHERE repo_root = ? AND name = ?", (repo_root, name))
        return _row_to_artifact(row, with_content=True) if row is not None else None

    def artifacts(self, repo_root: str) -> list[Artifact]:
        rows = self._rows("SELECT id, ts, repo_root, name, session, size FROM artifacts WHERE repo_root = ?"
                          " ORDER BY name", (repo_root,))
        return [_row_to_artifact(r) for r in rows]


class _ThreadReader:
    """A thread's reading connection, closed when the thread ends: its thread-local storage goes then,
    and with it the last reference to this (the server runs a thread per client and per request, and
    each would otherwise keep a descriptor on the database open until another thread opened one)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn, self.pid = conn, os.getpid()

    def __del__(self) -> None:
        if os.getpid() == self.pid:  # a forked child forgets its parent's connections (see _check_process)
            with contextlib.suppress(Exception):
                self.conn.close()


class _Tx:
    """The connection inside one IMMEDIATE transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.events = 0

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, args)

    def event(self, kind: str, session: str | None, data: dict[str, Any], caller: str | None,
              ts: float | None = None, *, host: str | None = None, remote_id: int | None = None) -> tuple[int, float]:
        ts = ts if ts is not None else time.time()
        cur = self._conn.execute(
            "INSERT INTO events (ts, session_name, kind, caller, data, host, remote_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ts, session, kind, caller, json.dumps(data, default=str), host, remote_id),
        )
        self.events += 1
        return int(cur.lastrowid or 0), ts

    def audit(self, action: str, session_name: str | None, detail: dict[str, Any]) -> None:
        ts = time.time()
        text = json.dumps(detail, default=str)
        caller = detail.get("caller")
        caller = caller if isinstance(caller, str) else None
        self._conn.execute(
            "INSERT INTO audit (ts, session_name, action, caller, detail) VALUES (?, ?, ?, ?, ?)",
            (ts, session_name, action, caller, text),
        )
        told = ev.from_audit(action, json.loads(text))  # as stored: paths and the like are strings
        if told is not None:
            self.event(told[0], session_name, told[1], caller, ts)

    def status_event(self, session_id: int, name: str, status: str, previous: str | None, reason: str | None,
                     caller: str | None) -> None:
        row = self._conn.execute("SELECT needs_user, status_source FROM sessions WHERE id = ?",
                                 (session_id,)).fetchone()
        needs_user = bool(row is not None and row[0])
        source = row[1] if row is not None else None
        payload = ev.StatusChanged(status=status, previous=previous, reason=reason, needs_user=needs_user,
                                   status_source=source)
        self.event("status", name, ev.encode_payload(payload), caller)


@contextmanager
def _guard(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.DatabaseError as exc:
        raise _state_error(path, exc) from None
    except UnicodeDecodeError as exc:  # a damaged schema page: SQLite hands back text that is not UTF-8
        raise _damaged(path, f"text in it is not UTF-8: {exc.reason}") from None


def _check_header(path: Path) -> None:
    """A file shorter than one page (but not empty: a new one) is damaged, not new: SQLite would take
    it for an empty database and write over it. Checked with stat, never by opening the file: closing
    a descriptor on it would drop the locks this process's connections hold on it (POSIX locks)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        from trails.core import paths

        raise paths.unusable(exc, "read") from None
    if 0 < size < _MIN_PAGE:
        raise _damaged(path, f"it is {size} bytes long, shorter than an SQLite database's first page")


def _refuse_newer(path: Path, version: int) -> None:
    if version > SCHEMA_VERSION:
        raise StateError(
            f"the state database {path} was written by a newer trails (schema v{version}; this trails knows "
            f"up to v{SCHEMA_VERSION}): it was not used",
            hint="upgrade trails to use it, or set TRAILS_HOME to another directory",
        )


def _migration_failed(path: Path, version: int, backup: Path | None, exc: sqlite3.Error) -> StateError:
    copy = f"; a copy from before the upgrade is at {backup}" if backup else ""
    return StateError(
        f"upgrading the state database {path} from schema v{version} to v{SCHEMA_VERSION} failed ({exc}): it was "
        f"left as it was, at v{version}{copy}",
        hint="the trails that wrote it can still use it; report this with the copy if you can",
    )


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


def _check_extra(extra: dict[str, Any]) -> None:
    held = [name for name in LIFECYCLE_FIELDS if name in extra]
    if held:
        raise ValueError(f"{', '.join(held)} are session fields of their own now, not keys of extra")


def _caller_of(audits: Sequence[Audit]) -> str | None:
    for _, _, detail in audits:
        caller = detail.get("caller")
        if isinstance(caller, str):
            return caller
    return None


def _damaged(path: Path, why: str) -> StateError:
    return StateError(
        f"the state database {path} is damaged ({why}); trails has not changed it",
        hint=f"move it aside (with any {path.name}-wal and {path.name}-shm beside it) to start again with no "
             "sessions, or put back a copy of it",
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
    if key in _NULLABLE_JSON_COLUMNS:
        return None if value is None else json.dumps(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (Mode, Status)):
        return value.value
    return value


def _session_values(s: Session) -> tuple[Any, ...]:
    return tuple(_encode(col, getattr(s, col)) for col in _SESSION_COLUMNS)


def _decoded(path: Path, table: str, row: sqlite3.Row, column: str, kind: type, *, nullable: bool = False) -> Any:
    """A JSON column's value, of the type trails writes there; anything else is an unreadable row."""
    text = row[column]
    if text is None and nullable:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _unreadable(path, table, row, f"{column} is not JSON: {exc}") from None
    if not isinstance(value, kind):
        raise _unreadable(path, table, row, f"{column} is a JSON {type(value).__name__}, not a {kind.__name__}")
    return value


def _unreadable(path: Path, table: str, row: sqlite3.Row, why: str) -> StateError:
    return StateError(
        f"the state database {path} holds a row trails cannot read ({table} id {row['id']}: {why}); trails has "
        "not changed it",
        hint="it was written by another program, or damaged: put back a copy of the database, or move it aside "
             f"(with any {path.name}-wal and {path.name}-shm beside it) to start again with no sessions",
    )


def _row_to_session(path: Path, row: sqlite3.Row) -> Session:
    try:
        mode, status = Mode(row["mode"]), Status(row["status"])
    except ValueError as exc:
        raise _unreadable(path, "sessions", row, str(exc)) from None
    return Session(
        id=row["id"],
        name=row["name"],
        agent=row["agent"],
        command=_decoded(path, "sessions", row, "command", list),
        mode=mode,
        status=status,
        status_reason=row["status_reason"],
        workdir=row["workdir"],
        repo_root=row["repo_root"],
        worktree_path=row["worktree_path"],
        branch=row["branch"],
        base_commit=row["base_commit"],
        tmux_session=row["tmux_session"],
        env=_decoded(path, "sessions", row, "env", dict),
        auto_yes=bool(row["auto_yes"]),
        conversation_id=row["conversation_id"],
        container_id=row["container_id"],
        limits=_decoded(path, "sessions", row, "limits", dict),
        extra=_decoded(path, "sessions", row, "extra", dict),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        ended_at=row["ended_at"],
        needs_user=row["needs_user"],
        conflict=_decoded(path, "sessions", row, "conflict", dict, nullable=True),
        pr=_decoded(path, "sessions", row, "pr", dict, nullable=True),
        paused=_decoded(path, "sessions", row, "paused", dict, nullable=True),
        last_output=row["last_output"],
        status_source=row["status_source"],
        coordinator=bool(row["coordinator"]),
        parent=row["parent"],
    )


def _row_to_event(path: Path, row: sqlite3.Row) -> ev.Event:
    kind = row["kind"]
    return ev.Event(id=row["id"], ts=row["ts"], session=row["session_name"], kind=kind, caller=row["caller"],
                    data=ev.payload_from(kind, _decoded(path, "events", row, "data", dict)), host=row["host"],
                    remote_id=row["remote_id"])


def _release_stale(tx: _Tx, now: float) -> None:
    """Claims past their TTL, and those of sessions that ended (or were deleted), are released."""
    tx.execute("UPDATE claims SET released_at = ? WHERE released_at IS NULL AND ((expires_at IS NOT NULL AND"
               " expires_at <= ?) OR session_id NOT IN (SELECT id FROM sessions WHERE ended_at IS NULL))", (now, now))


def _row_to_message(row: sqlite3.Row) -> Message:
    return Message(row["id"], row["ts"], row["repo_root"], row["from_session"], row["to_session"], row["text"],
                   row["delivered_at"])


def _row_to_claim(row: sqlite3.Row) -> Claim:
    return Claim(row["id"], row["ts"], row["session"], row["session_id"], row["repo_root"], row["pattern"],
                 row["reason"], row["expires_at"], row["released_at"])


def _row_to_artifact(row: sqlite3.Row, *, with_content: bool = False) -> Artifact:
    content = bytes(row["content"]) if with_content else None
    return Artifact(row["id"], row["ts"], row["repo_root"], row["name"], row["session"], row["size"], content)
