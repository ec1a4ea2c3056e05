"""A client gives nothing to a listener it cannot prove is its own user's trails server: not the
command, not its environment. And the server's socket is closed to other users."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from tests.helpers import trails
from tests.security.test_private_state import NOBODY, _Listener, foreign_listener  # noqa: F401 - a fixture
from trails.api import protocol


def test_a_listener_of_another_user_at_the_server_socket_gets_nothing(
        tmp_path: Path, trails_env: dict[str, Path], foreign_listener: type[_Listener]) -> None:  # noqa: F811
    home = trails_env["home"]
    home.chmod(0o700)
    listener = foreign_listener(home / protocol.SOCKET_NAME, NOBODY)
    res = trails("ls", "--json", cwd=tmp_path, env={"SECRET_FOR_NOBODY": "zzz-secret"})
    assert res.code != 0 and res.error["code"] == "unsafe_socket", res.stderr
    assert "trails sent it nothing" in res.error["message"]
    assert bytes(listener.received) == b""


def test_a_socket_directory_others_can_write_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, foreign_listener: type[_Listener]) -> None:  # noqa: F811
    # A home too long for a socket path puts the server's socket under $TMPDIR/trails-<uid>/, which
    # someone else may have made first: here it is ours, but world-writable.
    long_home = tmp_path / ("h" * 100)
    tmpdir = tmp_path / "tmp"
    shared = tmpdir / f"trails-{os.getuid()}"
    shared.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    path = protocol.socket_path(long_home)
    assert path.parent == shared
    shared.chmod(0o777)
    listener = foreign_listener(path, os.getuid())
    res = trails("ls", "--json", cwd=tmp_path, env={"TRAILS_HOME": str(long_home)})
    assert res.code != 0 and res.error["code"] == "unsafe_socket", res.stderr
    assert "not a private directory" in res.error["message"]
    assert bytes(listener.received) == b""
    assert not (long_home / protocol.LOCK_NAME).exists() or not protocol.lock_held(long_home / protocol.LOCK_NAME)


def test_a_long_home_gets_a_private_socket_directory_and_works(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    long_home = tmp_path / ("h" * 100)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    try:
        res = trails("ls", "--json", cwd=tmp_path, env={"TRAILS_HOME": str(long_home)})
        assert res.code == 0 and res.json == {"sessions": []}, res.stderr
        path = protocol.socket_path(long_home)
        assert len(str(path)) < 108 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        trails("server", "--stop", env={"TRAILS_HOME": str(long_home)})


def test_the_server_socket_is_closed_to_other_users(tmp_path: Path, trails_env: dict[str, Path]) -> None:
    assert trails("ls", cwd=tmp_path).code == 0  # a server runs now
    path = protocol.socket_path(trails_env["home"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, as another user
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                sock.sendall(b'{"id":1,"op":"list","params":{}}\n')
                sock.settimeout(5)
                answer = sock.recv(100)
                os.write(write_fd, b"answered:" + answer)
            except OSError as exc:
                os.write(write_fd, f"refused:{type(exc).__name__}".encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    said = os.read(read_fd, 200)
    os.close(read_fd)
    # Root may pass the file's mode; then the server's own uid check hangs up before answering.
    assert said.startswith(b"refused:") or said == b"answered:", said
