"""A host's events in the local stream, against a real sshd: with their host, and none lost or doubled
when the ssh connection is killed mid-stream while the remote goes on changing."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.helpers import TrailsServer, trails, wait_until
from tests.remote.conftest import Sshd


class Collector:
    """A local subscriber of the whole stream, in a thread: what it got, in order."""

    def __init__(self, server: TrailsServer) -> None:
        self.got: list[dict[str, Any]] = []
        self._stream = server.subscribe(since=0)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for event in self._stream:
            self.got.append(event)

    def of_host(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in list(self.got) if e.get("host") == "box" and (kind is None or e["kind"] == kind)]

    def host_state(self) -> bool | None:
        states = self.of_host("host")
        return states[-1]["data"]["reachable"] if states else None


def remote_trails(sshd: Sshd, *args: str) -> Any:
    return json.loads(sshd.run_as(*shlex.split(sshd.command), *args, "--json"))


def kill_master(home: Path) -> None:
    from trails.api.remote import ssh_argv
    from trails.core import hosts

    host = hosts.get("box")
    check = subprocess.run([*ssh_argv("box", host)[:-1], "-O", "check", host.target], capture_output=True,
                           text=True, check=False)
    found = re.search(r"pid=(\d+)", check.stderr)
    assert found, check.stderr
    os.kill(int(found.group(1)), signal.SIGKILL)


def test_remote_events_reach_the_local_stream_and_survive_a_dropped_link(sshd: Sshd, tmp_path: Path) -> None:
    assert trails(*sshd.add_host()).code == 0
    remote_repo = sshd.home / "repo"
    sshd.run_as("git", "init", "-q", "-b", "main", str(remote_repo))
    sshd.run_as("sh", "-c", "echo hello > README.md && git add -A && git commit -q -m initial", cwd=remote_repo)
    server = TrailsServer(Path(os.environ["TRAILS_HOME"]))
    server.start()
    seen = Collector(server)
    wait_until(lambda: seen.host_state() is True, timeout=60, message="the host's follower to connect")

    made = trails("new", "s1", "bash --norc --noprofile", "--host", "box", "--repo", "repo", timeout=90)
    assert made.code == 0, made.stderr
    wait_until(lambda: [e for e in seen.of_host("status") if e["session"] == "s1"], timeout=30,
               message="a status change of the remote session, with its host")
    assert not [e for e in seen.got if e.get("host") is None and e["session"] == "s1"]  # never taken for a local one

    # The link drops (its ssh master killed) and stays down (the key refused) while the remote changes.
    keys = sshd.home / ".ssh" / "authorized_keys"
    keys.rename(keys.with_suffix(".off"))
    kill_master(Path(os.environ["TRAILS_HOME"]))
    wait_until(lambda: seen.host_state() is False, timeout=30, message="the host reported unreachable")
    assert seen.of_host("host")[-1]["data"]["code"] == "host_auth_refused"
    before = len(remote_trails(sshd, "events")["events"])
    sshd.run_as(*shlex.split(sshd.command), "send", "s1", "echo while-away")
    sshd.run_as(*shlex.split(sshd.command), "auto-yes", "s1", "on")
    wait_until(lambda: len(remote_trails(sshd, "events")["events"]) >= before + 2, timeout=30,
               message="the remote's own events of the changes")
    keys.with_suffix(".off").rename(keys)

    remote = remote_trails(sshd, "events")["events"]
    last = remote[-1]["id"]
    wait_until(lambda: any(e.get("remote_id") == last for e in seen.of_host()), timeout=60,
               message="the follower to reconnect and catch up")
    assert seen.host_state() is True
    got = [e["remote_id"] for e in seen.of_host() if e["kind"] != "host"]
    assert got == sorted(set(got)), "an event doubled or out of order"
    first = got[0]
    upto = [i for i in got if i <= last]  # the remote may have said more since
    assert upto == [e["id"] for e in remote if first <= e["id"] <= last], "an event lost"
    created = next(e["id"] for e in remote if e["kind"] == "created" and e["session"] == "s1")
    assert first <= created
    away = [e for e in seen.of_host() if e["kind"] in ("sent", "auto_yes_set")]
    assert {e["kind"] for e in away} == {"sent", "auto_yes_set"} and all(e["session"] == "s1" for e in away)

    # The stored stream says the same: `trails events --session box:s1` is the host's session.
    stored = trails("events", "--session", "box:s1", "--json", timeout=30).json
    assert [e["remote_id"] for e in stored["events"] if e["remote_id"] <= last] == [
        e["remote_id"] for e in seen.of_host() if e["session"] == "s1" and e["remote_id"] <= last]


def test_a_removed_host_is_no_longer_followed_and_its_master_ends(sshd: Sshd) -> None:
    from trails.api.remote import ssh_argv
    from trails.core import hosts

    assert trails(*sshd.add_host()).code == 0
    server = TrailsServer(Path(os.environ["TRAILS_HOME"]))
    server.start()
    seen = Collector(server)
    wait_until(lambda: seen.host_state() is True, timeout=60, message="the host's follower to connect")
    host = hosts.get("box")

    def master_runs() -> bool:
        return subprocess.run([*ssh_argv("box", host)[:-1], "-O", "check", host.target], capture_output=True,
                              check=False).returncode == 0

    assert master_runs()
    assert trails("host", "rm", "box").code == 0
    wait_until(lambda: not master_runs(), timeout=15, message="the removed host's master connection to end")
    assert trails("ls", "--json").json.get("hosts") is None
    assert seen.of_host("host")[-1]["data"]["reachable"] is True  # removed, not reported unreachable
