"""The trails home is the owner's alone, no secret reaches a command line, and clients talk only to
servers of their own user (issue: one trails server per home, security fixes)."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_repo, tmux_capture, trails, wait_until

NOBODY = 65534


def _modes(home: Path) -> list[tuple[str, str]]:
    """Every path under home whose mode lets someone else in (the agents' own container homes aside)."""
    loose = []
    for root, dirs, files in os.walk(home):
        if Path(root).parent.name == "container-homes":
            dirs[:] = []
            continue
        for name in [*dirs, *files]:
            path = Path(root, name)
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_mode & 0o077:
                loose.append((str(path.relative_to(home)), stat.filemode(st.st_mode)))
    return loose


def test_home_and_everything_trails_writes_there_is_owner_only(tmp_path: Path,
                                                              trails_env: dict[str, Path]) -> None:
    home = trails_env["home"]
    home.chmod(0o755)  # as an older trails, or the test fixture, left it
    repo = make_repo(tmp_path / "work" / "repo")
    env = {"TRAILS_SUPERVISOR": "on"}
    try:
        assert trails("new", "s1", "bash --norc --noprofile", "--mode", "worktree", cwd=repo, env=env).code == 0
        wait_until(lambda: (home / "monitor.lock").exists(), message="the server's supervisor")
        assert trails("send", "s1", "echo hi", cwd=repo, env=env).code == 0
        assert trails("pause", "s1", cwd=repo, env=env).code == 0
        assert trails("resume", "s1", cwd=repo, env=env).code == 0
        assert trails("ls", "--json", cwd=repo, env=env).code == 0
        wait_until(lambda: any((home / "output").glob("*.log")), message="an output log")
    finally:
        trails("server", "--stop", env=env)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "state.db").exists() and (home / "run").is_dir()
    assert _modes(home) == []


def test_no_secret_on_any_command_line(tmp_path: Path, trails_env: dict[str, Path]) -> None:
    secret = "sk-test-" + os.urandom(8).hex()
    flag_secret = "flag-" + os.urandom(8).hex()
    env = {"ANTHROPIC_API_KEY": secret, "BASH_FUNC_f%%": "() { :; }", "WEIRD": "it's $(not run) `x`\nline2"}
    res = trails("new", "s1", "bash --norc --noprofile", "--mode", "direct", "--env", f"TOKEN={flag_secret}",
                 cwd=tmp_path, env=env)
    assert res.code == 0, res.stderr
    socket_path = trails_env["socket"]
    # The agent has both values and the odd one intact, from its environment...
    res = trails("send", "s1", 'printf "%s|%s|%s\\n" "$ANTHROPIC_API_KEY" "$TOKEN" "$WEIRD" > seen.txt', cwd=tmp_path)
    assert res.code == 0
    wait_until(lambda: (tmp_path / "seen.txt").exists() and (tmp_path / "seen.txt").read_text().count("\n") == 2)
    assert (tmp_path / "seen.txt").read_text() == f"{secret}|{flag_secret}|it's $(not run) `x`\nline2\n"
    assert "seen.txt" in tmux_capture(socket_path, "trails-s1")
    # ...and no process's command line holds either (the tmux server keeps its first client's argv).
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert secret.encode() not in cmdline and flag_secret.encode() not in cmdline, cmdline[:200]
    # The hand-over file is gone once the pane read it.
    assert list((trails_env["home"] / "run").glob("*.env")) == []


def test_the_pane_sees_its_own_directory_not_the_callers(tmp_path: Path, repo: Path) -> None:
    res = trails("new", "w1", "bash --norc --noprofile", "--mode", "worktree", cwd=repo,
                 env={"PWD": str(repo), "OLDPWD": "/"})
    assert res.code == 0, res.stderr
    trails("send", "w1", 'echo "$PWD" > "$HOME/.pwd-seen-w1" ; pwd -P >> "$HOME/.pwd-seen-w1"', cwd=repo)
    seen = Path.home() / ".pwd-seen-w1"
    try:
        wait_until(lambda: seen.exists() and seen.read_text().count("\n") == 2)
        first, second = seen.read_text().splitlines()
        assert first == second and first != str(repo) and first.startswith(str(repo) + "-wt-")
    finally:
        seen.unlink(missing_ok=True)


# --- clients talk only to their own user's servers -------------------------------------------------


class _Listener:
    """A socket at `path` listened on as `uid` (bound as us, then the listening process drops to it:
    the peer credentials a client sees are the listener's at listen())."""

    def __init__(self, path: Path, uid: int) -> None:
        self.path, self.uid = path, uid
        self.received = bytearray()
        self.read_fd, write_fd = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child
            try:
                os.close(self.read_fd)
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.bind(str(path))
                os.chmod(path, 0o777)
                os.setgid(uid)
                os.setuid(uid)
                sock.listen(8)
                os.write(write_fd, b"L")
                while True:
                    conn, _ = sock.accept()
                    conn.settimeout(2)
                    try:
                        while data := conn.recv(65536):
                            os.write(write_fd, data)
                    except OSError:
                        pass
                    conn.close()
            finally:
                os._exit(0)
        os.close(write_fd)
        assert os.read(self.read_fd, 1) == b"L"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := os.read(self.read_fd, 65536):
            self.received += chunk

    def close(self) -> None:
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        self._reader.join(timeout=5)


@pytest.fixture
def foreign_listener() -> Iterator[type[_Listener]]:
    made: list[_Listener] = []

    class Tracked(_Listener):
        def __init__(self, path: Path, uid: int) -> None:
            super().__init__(path, uid)
            made.append(self)

    yield Tracked
    for listener in made:
        listener.close()


def test_cli_gives_nothing_to_a_warm_server_socket_of_another_user(
        tmp_path: Path, trails_env: dict[str, Path], foreign_listener: type[_Listener]) -> None:
    home = trails_env["home"]
    home.chmod(0o700)
    listener = foreign_listener(home / "cli.sock", NOBODY)
    res = trails("ls", "--json", cwd=tmp_path, env={"TRAILS_WARM": "on", "SECRET_FOR_NOBODY": "zzz-secret"})
    assert res.code == 0 and res.json == {"sessions": []}, res.stderr  # ran here instead
    assert "not this user's own server" in res.stderr
    assert bytes(listener.received) == b""


def test_cli_refuses_a_socket_directory_others_can_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, foreign_listener: type[_Listener]) -> None:
    # A home too long for a socket path sends the warm socket to $TMPDIR/trails-<uid>/, which
    # someone else may have made first: here it is ours, but world-writable.
    from trails.fast import socket_path

    long_home = tmp_path / ("h" * 100)
    tmpdir = tmp_path / "tmp"
    shared = tmpdir / f"trails-{os.getuid()}"
    shared.mkdir(parents=True)
    shared.chmod(0o777)
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    path = Path(socket_path(str(long_home)))
    assert path.parent == shared
    listener = foreign_listener(path, os.getuid())
    res = trails("ls", "--json", cwd=tmp_path, env={"TRAILS_HOME": str(long_home), "TRAILS_WARM": "on"})
    # Run here instead, it does not talk to a trails server in that directory either (the long home's
    # server socket would be there too): a clear error, and the listener got nothing.
    assert "not this user's own server; running here instead" in res.stderr
    assert res.code == 1 and json.loads(res.stderr.splitlines()[-1])["error"]["code"] == "unsafe_socket"
    assert bytes(listener.received) == b""


def test_server_clients_check_the_directory_and_the_listener(
        tmp_path: Path, foreign_listener: type[_Listener]) -> None:
    from trails.core import ownsock
    from trails.core.errors import UnsafeSocket

    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(UnsafeSocket, match="not a private directory"):
        ownsock.owned_dir(open_dir)
    private = ownsock.owned_dir(tmp_path / "private")
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    listener = foreign_listener(private / "server.sock", NOBODY)
    with pytest.raises(PermissionError, match="not this user"):
        ownsock.connect(private / "server.sock", 2.0)
    assert bytes(listener.received) == b""
