"""The trails server killed in the middle of an operation (kill -9: no cleanup of its own) leaves
state the next server finishes or undoes, as a crashed command did before there was a server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import git, git_stopper, trails, wait_until
from trails.api import protocol


def test_a_server_killed_mid_create_is_cleaned_up_by_the_next(repo: Path, tmp_path: Path,
                                                             trails_env: dict[str, Path]) -> None:
    home = trails_env["home"]
    stopper = git_stopper(tmp_path, "worktree add", after=True)
    # The server takes the environment of the command that starts it: its git is the stopper's.
    assert trails("server", env=stopper.env).code == 0
    server_pid = protocol.server_pid(home)
    assert server_pid is not None
    client = subprocess.Popen([sys.executable, "-m", "trails", "new", "c1", "sleep 600", "--json"], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(stopper.reached.exists, timeout=60, message="the create to reach `git worktree add`")
        os.killpg(server_pid, signal.SIGKILL)  # the server and what it runs (the stopped git) at once
        _, err = client.communicate(timeout=30)
    finally:
        if client.poll() is None:
            client.kill()
    assert client.returncode != 0 and "closed the connection" in err, err
    # The next command starts a new server, which finds the create that died and undoes it.
    listed = trails("ls", "--all", "--json", cwd=repo)
    assert listed.code == 0 and listed.json["sessions"] == [], listed.stderr
    assert protocol.server_pid(home) not in (None, server_pid)
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (repo.parent / "repo-wt-trails-c1").exists()
    assert git(repo, "branch", "--list", "trails/c1") == ""
    again = trails("new", "c1", "sleep 600", "--json", cwd=repo)  # the name is free
    assert again.code == 0, again.stderr
