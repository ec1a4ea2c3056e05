"""Schema versions: an old database is upgraded in place (copied first), a newer one is refused, and an
upgrade that fails leaves the database as it was and names the copy."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.helpers import trails
from trails.core.errors import StateError
from trails.core.store import MIGRATIONS, SCHEMA_VERSION, Store

# v2: sessions, checkpoints, audit, events; the lifecycle fields in `extra` (upgraded through every later step)
PREVIOUS = 2


def _old_database(path: Path, *, extra: str | None = None) -> None:
    """A database as the previous trails left it, built from the previous schema's own SQL."""
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:PREVIOUS]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {PREVIOUS}")
    conn.execute("PRAGMA journal_mode = WAL")
    columns = ("name, agent, command, mode, status, status_reason, workdir, tmux_session, extra, created_at, "
               "updated_at")
    lifecycle = {
        "scope": ["docs"], "agent_profile": "claude", "needs_user": "guard rm -rf",
        "conflict": {"op": "rebase", "onto": "main", "files": ["README.md"]},
        "pr": {"number": 12, "url": "https://example.com/pr/12", "state": "OPEN"},
        "paused": {"ref": "refs/trails/paused/s1/x", "commit": "abc", "conversation_id": "c1"},
        "last_output": "bye",
    }
    rows = [("s1", json.dumps(lifecycle)), ("s2", extra if extra is not None else json.dumps({"scope": []}))]
    for name, text in rows:
        conn.execute(f"INSERT INTO sessions ({columns}) VALUES (?, 'claude', '[\"claude\"]', 'worktree', 'paused', "
                     "'paused', '/w', ?, ?, 1.0, 2.0)", (name, f"trails-{name}", text))
    conn.execute("INSERT INTO audit (ts, session_name, action, detail) VALUES (1.0, 's1', 'sent', ?)",
                 (json.dumps({"text": "hi", "caller": "agent:s2"}),))
    conn.execute("INSERT INTO audit (ts, session_name, action, detail) VALUES (2.0, 's1', 'session_paused', '{}')")
    conn.execute("INSERT INTO events (ts, session_name, kind, data) VALUES (3.0, 's1', 'status', ?)",
                 (json.dumps({"status": "waiting", "previous": "running", "reason": "?", "needs_user": True}),))
    conn.commit()
    conn.close()


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_an_old_database_is_copied_then_upgraded_with_its_data_moved(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _old_database(db)
    store = Store(db)
    s1 = store.get_session("s1")
    assert _version(db) == SCHEMA_VERSION
    assert s1.extra == {"scope": ["docs"], "agent_profile": "claude"}  # what moved to columns left extra
    assert s1.needs_user == "guard rm -rf" and s1.last_output == "bye"
    assert s1.conflict == {"op": "rebase", "onto": "main", "files": ["README.md"]}
    assert s1.pr is not None and s1.pr["number"] == 12 and s1.paused == {"ref": "refs/trails/paused/s1/x",
                                                                        "commit": "abc", "conversation_id": "c1"}
    s2 = store.get_session("s2")
    assert s2.extra == {"scope": []} and (s2.needs_user, s2.conflict, s2.pr, s2.paused, s2.last_output) == (None,) * 5
    assert (s1.status_source, s2.status_source) == (None, None)  # v4: no agent had said it yet
    assert (s1.coordinator, s1.parent) == (False, None)  # v6: no session was a coordinator's worker before
    # The JSON form still has them where scripts found them.
    assert s1.to_dict()["extra"]["pr"]["number"] == 12 and "pr" not in s2.to_dict()["extra"]
    assert [(a.action, a.caller) for a in store.audit_entries("s1")] == [("sent", "agent:s2"), ("session_paused", None)]
    [old_event] = store.events()
    assert old_event.kind == "status" and old_event.data.needs_user and old_event.caller is None  # type: ignore[union-attr]
    # The copy taken before: owner-only, at the old version, with the old rows as they were.
    backup = tmp_path / f"state.db.bak-v{PREVIOUS}"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert _version(backup) == PREVIOUS
    conn = sqlite3.connect(backup)
    assert json.loads(conn.execute("SELECT extra FROM sessions WHERE name = 's1'").fetchone()[0])["pr"]["number"] == 12
    conn.close()
    # Writes work on the upgraded schema, and a second open does not upgrade (nor copy) again.
    store.update_session(s1.id, pr=None, needs_user=None, audits=[("sent", "s1", {"text": "again"})])
    store.close()
    backup.unlink()
    again = Store(db)
    assert again.get_session("s1").pr is None and not backup.exists()
    again.close()


def test_a_new_database_is_made_at_the_current_version_without_a_copy(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    assert store.list_sessions() == []
    assert _version(tmp_path / "state.db") == SCHEMA_VERSION
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak" in p.name) == []
    store.close()


def test_a_database_from_a_newer_trails_is_refused_and_left_alone(repo: Path, trails_env: dict[str, Path]) -> None:
    db = trails_env["home"] / "state.db"
    _old_database(db)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(StateError) as caught:
        Store(db).list_sessions()
    assert str(db) in caught.value.message and "newer trails" in caught.value.message
    assert "upgrade trails" in (caught.value.hint or "")
    res = trails("ls", "--json", cwd=repo)
    assert res.code != 0 and res.error["code"] == "state_error" and str(db) in res.error["message"]
    assert "upgrade trails" in res.error["hint"]
    assert _version(db) == SCHEMA_VERSION + 1 and db.read_bytes() == before
    assert not any(".bak" in p.name for p in db.parent.iterdir())


def test_a_failed_upgrade_names_the_copy_and_leaves_the_database_at_its_old_version(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _old_database(db, extra="{this is not json")  # the upgrade reads extra as JSON: it fails on this row
    with pytest.raises(StateError) as caught:
        Store(db).list_sessions()
    backup = tmp_path / f"state.db.bak-v{PREVIOUS}"
    message = caught.value.message
    assert str(db) in message and str(backup) in message and f"at v{PREVIOUS}" in message
    assert backup.exists() and _version(backup) == PREVIOUS
    # Usable as the previous trails left it: its version, its columns, its rows.
    assert _version(db) == PREVIOUS
    conn = sqlite3.connect(db)
    assert "needs_user" not in {r[1] for r in conn.execute("PRAGMA table_info(sessions)")}
    assert "caller" not in {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
    extra = json.loads(conn.execute("SELECT extra FROM sessions WHERE name = 's1'").fetchone()[0])
    assert extra["pr"]["number"] == 12 and conn.execute("SELECT count(*) FROM audit").fetchone()[0] == 2
    conn.close()
    # Fixed by hand, the next open upgrades it.
    conn = sqlite3.connect(db)
    conn.execute("UPDATE sessions SET extra = '{}' WHERE name = 's2'")
    conn.commit()
    conn.close()
    store = Store(db)
    assert store.get_session("s1").pr is not None and _version(db) == SCHEMA_VERSION
    store.close()
