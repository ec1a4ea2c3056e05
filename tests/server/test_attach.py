"""`trails attach`: the server says which tmux command attaches to the session; the CLI runs it in the
user's own terminal (a real pty here) until the user detaches."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.helpers import trails, wait_until
from trails.api import types as t
from trails.api.client import Client


def test_the_server_gives_the_tmux_argv(tmp_path: Path, trails_env: dict[str, Path]) -> None:
    assert trails("new", "a1", "cat", "--mode", "direct", cwd=tmp_path).code == 0
    argv = Client(trails_env["home"], local=False).call(t.AttachCommandRequest(name="a1")).argv
    assert argv[0] == "tmux" and argv[-3:] == ["attach-session", "-t", "=trails-a1"]
    assert str(trails_env["socket"]) in argv
    res = trails("attach", "a1", cwd=tmp_path)  # not a terminal: said so, nothing run
    assert res.code == 2 and "needs a terminal" in res.stderr
    assert trails("kill", "a1", cwd=tmp_path).code == 0
    assert trails("attach", "a1", "--json", cwd=tmp_path).error["code"] == "session_not_found"


def test_attach_runs_tmux_in_the_users_terminal(tmp_path: Path, trails_env: dict[str, Path]) -> None:
    assert trails("new", "a2", "cat", "--mode", "direct", cwd=tmp_path).code == 0
    tmux = ["tmux", "-S", str(trails_env["socket"])]

    def clients() -> list[str]:
        out = subprocess.run([*tmux, "list-clients", "-t", "=trails-a2"], capture_output=True, text=True)
        return out.stdout.splitlines()

    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child: the user's terminal
        os.environ["TERM"] = "xterm"
        os.execv(sys.executable, [sys.executable, "-m", "trails", "attach", "a2"])
    try:
        wait_until(lambda: len(clients()) == 1, timeout=30, message="a tmux client on the session")
        subprocess.run([*tmux, "detach-client", "-s", "=trails-a2"], check=True)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    assert clients() == []
