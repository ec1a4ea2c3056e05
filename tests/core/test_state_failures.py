"""trails' own files failing under it (a damaged state.db, a read-only home, a full disk, a server
that cannot start): a clear error naming the file and what to do, never a traceback, and nothing
replaced."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import stop_server
from tests.helpers import CliResult, trails

SUPERVISED = {"TRAILS_SUPERVISOR": "on"}  # conftest turns it off; these commands must start one


def _no_traceback(res: CliResult) -> None:
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr


def _fails_with(res: CliResult, code: str, *words: str) -> str:
    """The human error's message; with --json, the error object's."""
    _no_traceback(res)
    assert res.code != 0
    if res.stderr.startswith("{"):
        error = res.error
        assert error["code"] == code, error
        text = f"{error['message']} {error.get('hint', '')}"
    else:
        assert res.stderr.startswith("trails: error: "), res.stderr
        text = res.stderr
    for word in words:
        assert word in text, text
    return text


def _used_home(repo: Path, home: Path) -> Path:
    """A home with a state database holding one ended session (the database has real pages)."""
    assert trails("new", "s1", "sleep 600", "--mode", "direct", cwd=repo).code == 0
    assert trails("kill", "s1", cwd=repo).code == 0
    # The server lets go of the database (its pages are in state.db then, not its WAL). A server that
    # still ran would serve a read-only view of the home from outside it, as it should.
    assert trails("server", "--stop").code == 0
    db = home / "state.db"
    assert db.stat().st_size > 8192
    return db


def _damage(data: bytes, how: str) -> bytes:
    if how == "junk":
        return b"this is not a database, it was overwritten\n" * 100
    if how == "truncated":
        return data[:len(data) // 2]
    # A flipped byte in the schema's text: SQLite hands back SQL that is not UTF-8.
    at = data.index(b"CREATE TABLE sessions") + 3
    return data[:at] + b"\xff" + data[at + 1:]


@pytest.mark.parametrize("damage", ["junk", "truncated", "schema-text"])
def test_a_damaged_state_db_is_a_clear_error_and_is_never_replaced(
        repo: Path, trails_env: dict[str, Path], damage: str) -> None:
    db = _used_home(repo, trails_env["home"])
    db.write_bytes(_damage(db.read_bytes(), damage))
    for leftover in (db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        leftover.unlink(missing_ok=True)
    damaged = db.read_bytes()
    new = ["new", "s2", "sleep 600", "--mode", "direct"]
    for args in (["ls"], ["ls", "--json"], ["show", "s1", "--json"], ["events", "--json"], new, [*new, "--json"]):
        started = time.monotonic()
        res = trails(*args, cwd=repo, env=SUPERVISED)
        _fails_with(res, "state_error", str(db), "is damaged", "move it aside")
        assert time.monotonic() - started < 5, args  # no wait for a supervisor that cannot read it either
    assert db.read_bytes() == damaged  # never silently replaced by an empty database
    assert trails("ls", "--json", cwd=repo).code != 0  # still refused: nothing was "repaired" meanwhile


def _read_only(home: Path, *args: str, cwd: Path) -> CliResult:
    """`trails ARGS` with `home` mounted read-only (a private mount namespace: real EROFS, even for root)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    env = {**os.environ, **SUPERVISED}
    cp = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(home),
                         sys.executable, "-m", "trails", *args], cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=60, check=False)
    return CliResult(cp.returncode, cp.stdout, cp.stderr)


@pytest.mark.parametrize("used", [True, False])
def test_a_read_only_home_is_a_clear_error(repo: Path, trails_env: dict[str, Path], used: bool) -> None:
    home = trails_env["home"]
    if used:
        _used_home(repo, home)
    before = sorted(p.name for p in home.iterdir())
    for args in (["ls"], ["ls", "--json"], ["new", "s2", "sleep 600", "--mode", "direct"],
                 ["new", "s2", "sleep 600", "--mode", "direct", "--json"], ["daemon", "--json"]):
        started = time.monotonic()
        res = _read_only(home, *args, cwd=repo)
        text = _fails_with(res, "state_error", str(home))
        assert "Read-only file system" in text or "is not writable" in text, text
        assert "TRAILS_HOME" in text or "writable" in text
        assert time.monotonic() - started < 5, args
    assert sorted(p.name for p in home.iterdir()) == before


def test_a_server_that_cannot_start_fails_fast_and_says_why(repo: Path, trails_env: dict[str, Path]) -> None:
    blocker = trails_env["home"] / "server.sock"
    blocker.mkdir()  # where its socket must go: it cannot listen there
    new = ["new", "s1", "sleep 600", "--mode", "direct"]
    for args in (new, [*new, "--json"], ["server"], ["daemon", "--json"]):
        started = time.monotonic()
        res = trails(*args, cwd=repo, env=SUPERVISED)
        _fails_with(res, "server_error", "the trails server could not start", f"cannot listen on {blocker}",
                    "TRAILS_SERVER=off")
        assert time.monotonic() - started < 5, args  # it used to wait 10 s for an answer that never came
    assert trails("ls", "--all", "--json", cwd=repo, env={"TRAILS_SERVER": "off"}).json["sessions"] == []
    assert trails("daemon", "--status", "--json").json["running"] is False


@pytest.fixture
def small_home(trails_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """TRAILS_HOME on a 4 MiB tmpfs of its own, a disk the test can fill; unmounted afterwards."""
    home = tmp_path / "small-home"
    home.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(home)], check=True)
    monkeypatch.setenv("TRAILS_HOME", str(home))
    try:
        yield home
    finally:
        # The trails server and the tmux server first: nothing of this home may be in use when it goes.
        stop_server(home)
        subprocess.run(["tmux", "-S", str(trails_env["socket"]), "kill-server"], capture_output=True, check=False)
        subprocess.run(["umount", str(home)], check=True)


def _fill(home: Path, leave: int = 0) -> Path:
    """Fill the file system under `home` until about `leave` bytes are free (none: to the last block)."""
    filler = home / "filler"
    st = os.statvfs(home)
    todo = max(st.f_bavail * st.f_frsize - leave, 0)
    with filler.open("ab", buffering=0) as out:
        try:
            while todo > 0 or not leave:
                todo -= out.write(b"\0" * min(max(todo, 4096), 1 << 20))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def _full_disk_error(res: CliResult, db: Path) -> None:
    text = _fails_with(res, "state_error", str(db), "is full", "free some space", "trails has changed nothing")
    assert "make it writable" not in text  # the old advice, which was wrong here


def test_a_full_disk_is_a_clear_error_and_nothing_is_lost(repo: Path, small_home: Path) -> None:
    assert trails("new", "s1", "sleep 600", "--mode", "direct", cwd=repo).code == 0
    db = small_home / "state.db"
    filler = _fill(small_home)
    before = db.read_bytes()
    new = ["new", "s2", "sleep 600", "--mode", "direct"]
    for args in (["ls"], ["ls", "--json"], ["show", "s1", "--json"], ["events", "--json"], new, [*new, "--json"],
                 ["send", "s1", "hi", "--json"], ["kill", "s1", "--json"]):
        started = time.monotonic()
        _full_disk_error(trails(*args, cwd=repo), db)
        assert time.monotonic() - started < 5, args
    assert db.read_bytes() == before
    filler.unlink()  # space again: everything is as it was, and works
    sessions = trails("ls", "--json", cwd=repo).json["sessions"]
    assert [(s["name"], s["status"]) for s in sessions] == [("s1", "running")]
    assert trails(*new, cwd=repo).code == 0
    assert trails("kill", "s1", cwd=repo).code == 0


def test_a_disk_that_fills_part_way_through_a_create_leaves_no_half_made_session(
        repo: Path, small_home: Path, trails_env: dict[str, Path]) -> None:
    """With less and less room, each `new` either makes its session or fails with the clear error and
    leaves none of it (no row, no tmux session) — whichever write the disk runs out on."""
    assert trails("new", "s1", "sleep 600", "--mode", "direct", cwd=repo).code == 0
    db = small_home / "state.db"
    for leave in range(0, 256 * 1024, 8 * 1024):
        filler = _fill(small_home, leave)
        res = trails("new", "s2", "sleep 600", "--mode", "direct", "--json", cwd=repo)
        filler.unlink()
        if res.code == 0:
            break
        _full_disk_error(res, db)
        assert [s["name"] for s in trails("ls", "--all", "--json", cwd=repo).json["sessions"]] == ["s1"]
        panes = subprocess.run(["tmux", "-S", str(trails_env["socket"]), "ls", "-F", "#{session_name}"],
                               capture_output=True, text=True, check=False).stdout.split()
        assert panes == ["trails-s1"], (leave, panes)
    else:
        pytest.fail("`trails new` never succeeded, even with 256 KiB free")
    assert leave > 0  # it did fail for want of space first
    assert sorted(s["name"] for s in trails("ls", "--json", cwd=repo).json["sessions"]) == ["s1", "s2"]


@pytest.mark.parametrize(("column", "value"), [
    ("status", "bogus"), ("mode", "sideways"), ("extra", "{"), ("extra", "[1]"), ("command", "not json"),
])
def test_a_session_row_trails_cannot_read_is_a_clear_error(
        repo: Path, trails_env: dict[str, Path], column: str, value: str) -> None:
    import sqlite3

    db = _used_home(repo, trails_env["home"])
    assert trails("new", "s2", "sleep 600", "--mode", "direct", cwd=repo).code == 0  # a live one, for `show`
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(f"UPDATE sessions SET {column} = ?", (value,))
    for args in (["ls", "--all", "--json"], ["show", "s2", "--json"], ["ls", "--all"]):
        _fails_with(trails(*args, cwd=repo), "state_error", str(db))


def test_a_state_db_cut_to_one_byte_is_damaged_not_new(repo: Path, trails_env: dict[str, Path]) -> None:
    db = _used_home(repo, trails_env["home"])
    db.write_bytes(db.read_bytes()[:1])
    for leftover in (db.with_name("state.db-wal"), db.with_name("state.db-shm")):
        leftover.unlink(missing_ok=True)
    _fails_with(trails("ls", "--all", "--json", cwd=repo), "state_error", str(db), "is damaged")
    assert db.read_bytes() == b"S"
