"""Container mode on a host, against a real sshd and the real Docker engine: the host's trails (run as
its own user, who may use the engine) starts the container; what its agent writes lands in the host's
worktree; pause saves it and stops the container, resume brings it back in a new one; kill removes
the container."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import trails, wait_until
from tests.remote.conftest import Sshd
from tests.remote.test_commands import remote_repo

pytestmark = pytest.mark.timeout(600)


def _container(container_id: str) -> dict[str, object] | None:
    found = subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True, check=False)
    return json.loads(found.stdout)[0] if found.returncode == 0 else None


def test_a_container_session_on_a_host(sshd: Sshd, repo: Path) -> None:
    # The host's user may use the engine (as a user of a machine with Docker is, by its group); the
    # login below starts the host's trails server, with the group.
    subprocess.run(["usermod", "-aG", "docker", sshd.user], check=True)
    assert trails(*sshd.add_host()).code == 0
    remote_repo(sshd)
    made = trails("new", "c1", "bash --norc --noprofile", "--mode", "container", "--host", "box", "--repo", "repo",
                  "--json", timeout=300)
    assert made.code == 0, made.stderr
    session = made.json["session"]
    assert session["mode"] == "container" and session["host"] == "box", session
    worktree = Path(session["worktree_path"])
    assert sshd.home in worktree.parents  # the host's worktree, made by the host's trails
    inspected = _container(session["container_id"])
    assert inspected is not None and inspected["State"]["Running"], inspected  # type: ignore[index]
    uid = sshd.run_as("id", "-u").strip()
    assert inspected["Config"]["User"].split(":")[0] == uid  # type: ignore[index]  # the host user, not root
    binds = {m["Destination"]: m["Source"] for m in inspected["Mounts"]}  # type: ignore[index, union-attr]
    assert binds["/workspace"] == str(worktree)

    assert trails("send", "box:c1", "echo inside > made-in-container.txt", timeout=60).code == 0
    wait_until(lambda: (worktree / "made-in-container.txt").exists(), timeout=30,
               message="the containered agent's file in the host's worktree")
    assert (worktree / "made-in-container.txt").stat().st_uid == int(uid)
    listed = trails("ls", "--json", timeout=60).json
    assert [(s["name"], s["mode"]) for s in listed["hosts"]["box"]["sessions"]] == [("c1", "container")], listed

    paused = trails("pause", "box:c1", "--json", timeout=120)
    assert paused.code == 0, paused.stderr
    wait_until(lambda: _container(session["container_id"]) is None
               or not _container(session["container_id"])["State"]["Running"],  # type: ignore[index]
               timeout=60, message="the paused session's container to stop")
    assert not worktree.exists()  # pause saved the work and freed the worktree (resume makes it again)
    resumed = trails("resume", "box:c1", "--json", timeout=300)
    assert resumed.code == 0, resumed.stderr
    assert (worktree / "made-in-container.txt").read_text() == "inside\n"  # the saved work, back
    again = trails("show", "box:c1", "--json", timeout=60).json["session"]
    now = _container(again["container_id"])
    assert now is not None and now["State"]["Running"], now  # type: ignore[index]
    assert trails("send", "box:c1", "cat made-in-container.txt > seen-again.txt", timeout=60).code == 0
    wait_until(lambda: (worktree / "seen-again.txt").exists() and (worktree / "seen-again.txt").read_text()
               == "inside\n", timeout=30, message="the resumed container to see the work")

    killed = trails("kill", "box:c1", "--force", "--json", timeout=120)
    assert killed.code == 0, killed.stderr
    wait_until(lambda: _container(again["container_id"]) is None, timeout=60,
               message="the killed session's container to be removed")
