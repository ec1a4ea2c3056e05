"""trails' own files failing under it (a damaged state.db, a read-only home, a supervisor that cannot
start): a clear error naming the file and what to do, never a traceback, and nothing replaced."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    db = home / "state.db"
    assert db.stat().st_size > 8192
    return db


@pytest.mark.parametrize("damage", ["junk", "truncated"])
def test_a_damaged_state_db_is_a_clear_error_and_is_never_replaced(
        repo: Path, trails_env: dict[str, Path], damage: str) -> None:
    db = _used_home(repo, trails_env["home"])
    data = db.read_bytes()
    db.write_bytes(b"this is not a database, it was overwritten\n" * 100 if damage == "junk" else data[:len(data) // 2])
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


def test_a_supervisor_that_cannot_start_fails_fast_and_says_why(repo: Path, trails_env: dict[str, Path]) -> None:
    blocker = trails_env["home"] / "events.sock"
    blocker.mkdir()  # where its socket must go: it cannot listen there
    new = ["new", "s1", "sleep 600", "--mode", "direct"]
    for args in (new, [*new, "--json"], ["daemon"], ["daemon", "--json"]):
        started = time.monotonic()
        res = trails(*args, cwd=repo, env=SUPERVISED)
        _fails_with(res, "supervisor_error", "the supervisor could not start", f"cannot listen on {blocker}",
                    "TRAILS_SUPERVISOR=off")
        assert time.monotonic() - started < 5, args  # it used to wait 10 s for an answer that never came
    assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []  # `new` made nothing
    assert trails("daemon", "--status", "--json").json["running"] is False
