"""The warm CLI server: commands run through it behave exactly as when run locally."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import CliResult, trails, wait_until
from trails.fast import socket_path

# Runs argv strictly through the warm path: exit 99 with a marker when it was not available.
WARM_ONLY = (
    "import sys\nfrom trails import fast\ncode = fast.run_warm(sys.argv[1:])\n"
    "if code < 0:\n    sys.stderr.write('NOT-WARM')\n    sys.exit(99)\nsys.exit(code)\n"
)


def _server_pid(home: Path) -> int | None:
    try:
        text = (home / "cli.lock").read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() and _alive(int(text)) else None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _listening(home: Path) -> bool:
    return Path(socket_path(str(home))).exists() and _server_pid(home) is not None


@pytest.fixture
def warm(trails_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A running warm server for this test's home; killed at teardown, with any other it started."""
    home = trails_env["home"]
    monkeypatch.setenv("TRAILS_WARM", "on")
    monkeypatch.setenv("TRAILS_WARM_IDLE", "30")
    server = subprocess.Popen([sys.executable, "-m", "trails.ui.cli.warm", str(home)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening(home), timeout=30, message="the warm server to listen")
        yield home
    finally:
        server.kill()
        server.wait()
        pid = _server_pid(home)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


def warm_only(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    full_env = dict(os.environ, **(env or {}))
    cp = subprocess.run([sys.executable, "-c", WARM_ONLY, *args], cwd=cwd, env=full_env, capture_output=True,
                        text=True, timeout=60, check=False)
    return CliResult(cp.returncode, cp.stdout, cp.stderr)


def local(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    return trails(*args, cwd=cwd, env={**(env or {}), "TRAILS_WARM": "off"})


def same(a: CliResult, b: CliResult) -> None:
    assert (a.code, a.stdout, a.stderr) == (b.code, b.stdout, b.stderr)


def test_commands_behave_as_locally(warm: Path, repo: Path) -> None:
    created = warm_only("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
    assert created.code == 0, created.stderr
    assert created.json["session"]["name"] == "s1"
    for args in (["ls", "--json"], ["ls"], ["show", "s1", "--json"], ["show", "nope"], ["show", "nope", "--json"],
                 ["new", "BAD NAME", "sleep 1", "--json"], ["new", "s1", "sleep 1"], ["frobnicate"],
                 ["show", "--json"], ["--version"], ["doctor", "--json"]):
        warm_result, local_result = warm_only(*args, cwd=repo), local(*args, cwd=repo)
        if args == ["doctor", "--json"]:  # reports versions and timings: compare its shape
            assert warm_result.code == local_result.code == 0
            assert warm_result.json.keys() == local_result.json.keys()
            continue
        if args == ["ls"]:  # the AGE column may tick between the two runs on a loaded machine
            warm_result.stdout, local_result.stdout = (re.sub(r"\b\d+[smhd]$", "AGE", r.stdout, flags=re.M)
                                                       for r in (warm_result, local_result))
        same(warm_result, local_result)
    missing = warm_only("show", "nope", "--json", cwd=repo)
    assert missing.code != 0 and missing.error["code"] == "session_not_found"


def _cpu_state(pid: int) -> tuple[str, int]:
    """Process state (R, S, ...) and CPU time used so far (utime + stime, in ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_a_child_forked_ahead_takes_the_next_command(warm: Path, repo: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import _socket

    from trails import fast

    server = _server_pid(warm)
    assert server is not None
    wait_until(lambda: len(_children(server)) == 1, timeout=10, message="a standby child of the warm server")
    [standby] = _children(server)
    # Ready once it has copied its memory and waits for a request: asleep, its CPU time no longer growing.
    last = [-1]

    def idle() -> bool:
        state, ticks = _cpu_state(standby)
        previous, last[0] = last[0], ticks
        return state == "S" and ticks == previous

    wait_until(idle, timeout=20, interval=0.2, message="the standby to wait for a request")
    out = tmp_path / "out"
    with open(os.devnull) as stdin, out.open("w") as stdout:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.connect(socket_path(str(warm)))
        monkeypatch.chdir(repo)
        fast.send_frame(sock, fast._request(["ls", "--json"]), [stdin.fileno(), stdout.fileno(), stdout.fileno()])
        assert fast.recv_frame(sock) == {"pid": standby}
        assert fast.recv_frame(sock) == {"exit": 0}
        sock.close()
    assert json.loads(out.read_text()) == {"sessions": []}
    # Once it has ended, another is forked for the command after it.
    wait_until(lambda: [p for p in _children(server) if p != standby], timeout=10, message="the next standby")


def test_new_in_both_modes_matches_local(warm: Path, repo: Path) -> None:
    w = warm_only("new", "w1", "sleep 600", "--mode", "worktree", cwd=repo)
    loc = local("new", "w2", "sleep 600", "--mode", "worktree", cwd=repo)
    assert (w.code, loc.code) == (0, 0), (w.stderr, loc.stderr)
    assert w.stdout.replace("w1", "X") == loc.stdout.replace("w2", "X")
    assert Path(str(repo) + "-wt-trails-w1").is_dir()


def test_child_sees_the_clients_cwd_and_env(warm: Path, repo: Path) -> None:
    # No --mode: TRAILS_MODE, set only in this client's environment, decides.
    made = warm_only("new", "e1", "sleep 600", "--json", cwd=repo, env={"TRAILS_MODE": "direct"})
    assert made.code == 0, made.stderr
    session = made.json["session"]
    assert session["mode"] == "direct"
    assert Path(session["workdir"]).resolve() == repo.resolve()
    made = warm_only("new", "e2", "sleep 600", "--json", cwd=repo)
    assert made.json["session"]["mode"] == "worktree"


def test_the_trails_command_exits_with_its_commands_code_and_output(warm: Path, repo: Path) -> None:
    # python -m trails goes through trails.fast.main, which ends its own process without the
    # interpreter's teardown once the server's child has reported.
    for args in (["ls", "--json"], ["show", "nope", "--json"], ["show", "nope"], ["frobnicate"]):
        same(trails(*args, cwd=repo), local(*args, cwd=repo))
    missing = trails("show", "nope", cwd=repo)
    assert missing.code != 0 and "nope" in missing.stderr


def test_python_m_trails_uses_the_server_and_ctrl_c_stops_the_child(warm: Path, repo: Path) -> None:
    loop = "sh -c 'while true; do echo tick; sleep 0.2; done'"
    assert trails("new", "f1", loop, "--mode", "direct", cwd=repo).code == 0
    client = subprocess.Popen([sys.executable, "-m", "trails", "output", "f1", "--follow"], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server = _server_pid(warm)
        assert server is not None
        child = wait_until(lambda: _children(server), timeout=20, message="the command's child")[0]
        assert client.stdout is not None
        assert "tick" in client.stdout.readline()
        client.send_signal(signal.SIGINT)
        assert client.wait(timeout=20) == 130
        assert "interrupted" in (client.stderr.read() if client.stderr else "")
        wait_until(lambda: not _alive(child), message="the child to stop")
    finally:
        client.kill()
        client.wait()


def _cpu_state(pid: int) -> tuple[str, int]:
    """Process state (R, S, ...) and CPU time used so far (utime + stime, in ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return fields[0], int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_a_stale_server_exits_and_the_client_runs_locally(warm: Path, repo: Path) -> None:
    server = _server_pid(warm)
    assert server is not None
    stale = "import trails.fast as f\nreal = f.code_stamp\nf.code_stamp = lambda: (*real()[:3], 0)\n" + WARM_ONLY
    cp = subprocess.run([sys.executable, "-c", stale, "ls", "--json"], cwd=repo, capture_output=True, text=True,
                        timeout=60, check=False)
    assert cp.returncode == 99 and "NOT-WARM" in cp.stderr  # the server ran nothing
    wait_until(lambda: not _alive(server), message="the stale server to exit")
    result = trails("ls", "--json", cwd=repo)  # falls back, and starts a fresh server
    same(result, local("ls", "--json", cwd=repo))
    wait_until(lambda: _listening(warm) and _server_pid(warm) != server, timeout=30, message="a new server")


def test_a_killed_server_means_a_local_run(warm: Path, repo: Path) -> None:
    server = _server_pid(warm)
    assert server is not None
    os.kill(server, signal.SIGKILL)
    wait_until(lambda: not _alive(server), message="the server to die")
    assert Path(socket_path(str(warm))).exists()  # left behind: connecting fails, nothing is printed
    assert warm_only("ls", "--json", cwd=repo).code == 99
    result = trails("ls", "--json", cwd=repo)
    same(result, local("ls", "--json", cwd=repo))
    wait_until(lambda: _listening(warm), timeout=30, message="a new server")


def test_one_server_per_home(warm: Path) -> None:
    first = _server_pid(warm)
    second = subprocess.run([sys.executable, "-m", "trails.ui.cli.warm", str(warm)], timeout=60, check=False)
    assert second.returncode == 0
    assert _server_pid(warm) == first


def test_idle_exit_and_home_removal(trails_env: dict[str, Path], tmp_path: Path) -> None:
    home = trails_env["home"]
    env = dict(os.environ, TRAILS_WARM_IDLE="1")
    idle = subprocess.Popen([sys.executable, "-m", "trails.ui.cli.warm", str(home)], env=env)
    try:
        assert idle.wait(timeout=60) == 0
    finally:
        idle.kill()
    assert not Path(socket_path(str(home))).exists()
    other = tmp_path / "other-home"
    other.mkdir()
    server = subprocess.Popen([sys.executable, "-m", "trails.ui.cli.warm", str(other)])
    try:
        wait_until(lambda: _listening(other), timeout=30, message="the server to listen")
        for child in other.iterdir():
            child.unlink()
        other.rmdir()
        assert server.wait(timeout=20) == 0
    finally:
        server.kill()


def test_off_starts_nothing(trails_env: dict[str, Path], repo: Path) -> None:
    assert trails("ls", cwd=repo).code == 0  # TRAILS_WARM=off from conftest
    assert not (trails_env["home"] / "cli.lock").exists()
