"""The process that watches sessions (the supervisor) SIGKILLed while they run: the next command
brings it back, statuses are recomputed from the panes (what changed while nobody watched included),
and the event stream has every status change once: none lost, none repeated."""

from __future__ import annotations

import itertools
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import ok
from tests.helpers import trails, wait_until

ECHO = Path(__file__).resolve().parent.parent / "core" / "echo_agent.py"


def _env() -> dict[str, str]:
    return {}


def _statuses(cwd: Path) -> dict[str, str]:
    return {s["name"]: s["status"] for s in ok(trails("ls", "--all", "--json", cwd=cwd, env=_env()))["sessions"]}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _status_events(cwd: Path) -> list[dict[str, Any]]:
    events = ok(trails("events", "--json", cwd=cwd, env=_env()))["events"]
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids)), "event ids are unique and in order"
    return [e for e in events if e["kind"] == "status"]


def _history(events: list[dict[str, Any]], name: str) -> list[str]:
    return [e["data"]["status"] for e in events if e["session"] == name]


@pytest.fixture
def supervised(monkeypatch: pytest.MonkeyPatch, trails_env: dict[str, Path]) -> Iterator[None]:
    monkeypatch.delenv("TRAILS_SUPERVISOR")  # conftest turns it off; these commands start it
    yield
    trails("daemon", "--stop")  # the one the test's commands brought back outlives the test otherwise


def test_the_supervisor_killed_while_sessions_run(tmp_path: Path, supervised: None) -> None:
    env = _env()
    agent = f"{sys.executable} {ECHO}"
    for name in ("s1", "s2"):
        ok(trails("new", name, agent, "--mode", "direct", "--json", cwd=tmp_path, env=env))
    info = ok(trails("daemon", "--json", cwd=tmp_path, env=env))
    pid = info["pid"]
    wait_until(lambda: _statuses(tmp_path) == {"s1": "ready", "s2": "ready"}, timeout=30,
               message=f"both ready ({_statuses(tmp_path)})")
    before = _status_events(tmp_path)

    os.kill(pid, signal.SIGKILL)  # no clean-up of its own: its lock and socket are left as they are
    wait_until(lambda: not _alive(pid), timeout=10, message="the supervisor to die")
    # While nobody watches: one agent gets work, the other exits.
    ok(trails("send", "s1", "hello", "--json", cwd=tmp_path, env=env))
    ok(trails("send", "s2", "exit", "--json", cwd=tmp_path, env=env))

    # The next command that needs it brings it back (a new one: the dead one's lock went with it).
    ok(trails("new", "s3", agent, "--mode", "direct", "--json", cwd=tmp_path, env=env))
    back = ok(trails("daemon", "--status", "--json", cwd=tmp_path, env=env))
    assert back["running"] and back["pid"] != pid
    wait_until(lambda: _statuses(tmp_path) == {"s1": "ready", "s2": "completed", "s3": "ready"}, timeout=30,
               message="statuses recomputed from the panes")
    wait_until(lambda: _history(_status_events(tmp_path), "s2")[-1:] == ["completed"], timeout=10,
               message="s2's completion in the event stream")

    events = _status_events(tmp_path)
    assert events[:len(before)] == before  # nothing stored before the kill was lost or rewritten
    for name, now in _statuses(tmp_path).items():
        history = _history(events, name)
        assert history and history[-1] == now, (name, history, now)  # the last change is there: none lost
        assert all(a != b for a, b in itertools.pairwise(history)), (name, [
            (e["id"], e["data"]) for e in events if e["session"] == name])  # and none twice
    assert _history(events, "s2")[-1] == "completed"  # it exited while nobody watched: that is told too
