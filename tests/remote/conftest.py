"""A real sshd on a loopback port (its own host key and config, never the system's) logging in, with a
key made for the test, as a second local user whose home holds the "remote" trails."""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import trails
from tests.conftest import stop_server
from tests.helpers import wait_until

REMOTE_USER = "trails-remote"


@dataclass
class Sshd:
    port: int
    key: Path
    known_hosts: Path
    user: str
    home: Path
    command: str  # how the remote user runs this checkout's trails

    def add_host(self, name: str = "box", key: Path | None = None) -> list[str]:
        return ["host", "add", name, f"ssh://{self.user}@127.0.0.1:{self.port}", "--command", self.command,
                "--ssh-option", f"IdentityFile={key or self.key}", "--ssh-option", "IdentitiesOnly=yes",
                "--ssh-option", f"UserKnownHostsFile={self.known_hosts}", "--ssh-option", "StrictHostKeyChecking=yes"]

    def run_as(self, *argv: str, cwd: Path | None = None) -> str:
        """A command as the remote user (arguments, no shell)."""
        return subprocess.run(["runuser", "-u", self.user, "--", *argv], cwd=cwd, capture_output=True, text=True,
                              check=True, env={"HOME": str(self.home), "PATH": os.environ["PATH"]}).stdout


def _interpreter() -> str:
    """A Python the other user may run with this checkout's dependencies: ours unless it sits in a
    directory they cannot enter (a pyenv under /root), then the system's of the same version."""
    ours = os.path.realpath(sys.executable)
    if all(os.stat(p).st_mode & 0o005 == 0o005 for p in _parents(ours)):
        return sys.executable
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    assert os.path.exists(system), f"{ours} is not reachable by another user and there is no {system}"
    return system


def _parents(path: str) -> list[str]:
    parts = Path(path).parents
    return [str(p) for p in parts if str(p) != "/"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: Path, trails_env: dict[str, Path]) -> Iterator[Sshd]:
    with running_sshd(tmp_path, trails_env["home"]) as found:
        yield found


@contextlib.contextmanager
def running_sshd(tmp_path: Path, local_home: Path) -> Iterator[Sshd]:
    """The sshd and its user (made here, removed after), for tests and benchmarks (bench/bench_hosts.py)."""
    conf = Path(tempfile.mkdtemp(prefix="trails-sshd-"))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(conf / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "key")], check=True)
    subprocess.run(["useradd", "-m", "-p", "*", "-s", "/bin/sh", REMOTE_USER], check=True)
    home = Path(pwd.getpwnam(REMOTE_USER).pw_dir)
    proc = None
    try:
        uid, gid = pwd.getpwnam(REMOTE_USER).pw_uid, pwd.getpwnam(REMOTE_USER).pw_gid
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_text((tmp_path / "key.pub").read_text())
        (home / ".gitconfig").write_text("[user]\n\tname = Remote\n\temail = remote@example.com\n"
                                         "[init]\n\tdefaultBranch = main\n")
        for path in (ssh_dir, ssh_dir / "authorized_keys", home / ".gitconfig"):
            os.chown(path, uid, gid)
        port = _free_port()
        (conf / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {conf / 'host_key'}\nPidFile {conf / 'sshd.pid'}\n"
            "AuthorizedKeysFile .ssh/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nAllowUsers " + REMOTE_USER + "\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(conf / "sshd_config")],
                                stdout=subprocess.DEVNULL, stderr=open(conf / "sshd.log", "wb"))  # noqa: SIM115

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_until(listening, timeout=10, message="sshd to listen")
        host_pub = (conf / "host_key.pub").read_text().split()
        known = tmp_path / "known_hosts"
        known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        src = str(Path(trails.__file__).resolve().parents[1])
        pythonpath = ":".join([src, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
        command = f"env PYTHONPATH={pythonpath} TRAILS_WARM=off {_interpreter()} -m trails"
        yield Sshd(port, tmp_path / "key", known, REMOTE_USER, home, command)
    finally:
        # The local server first: its followers of the host's events would log in again as fast as the
        # remote user's processes are ended.
        stop_server(local_home)
        _stop_remote(home)
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        _end_user_processes()
        subprocess.run(["userdel", "-r", REMOTE_USER], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", str(conf)], check=False)


def _stop_remote(home: Path) -> None:
    with contextlib.suppress(Exception):
        subprocess.run(["runuser", "-u", REMOTE_USER, "--", "tmux", "-S", str(home / ".trails" / "tmux.sock"),
                        "kill-server"], capture_output=True, check=False, timeout=10)


def _end_user_processes() -> None:
    """What this fixture's user still runs (its trails server, the ssh sessions' children), by pid."""
    import signal

    listed = subprocess.run(["ps", "-u", REMOTE_USER, "-o", "pid="], capture_output=True, text=True, check=False)
    for pid in (int(p) for p in listed.stdout.split()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not subprocess.run(["ps", "-u", REMOTE_USER, "-o", "pid="], capture_output=True,
                                          text=True, check=False).stdout.split(), timeout=15,
               message="the remote user's processes to end")
