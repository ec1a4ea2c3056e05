"""Remote hosts over SSH: a Channel to another machine's trails server, and the relay that serves it.

The local side runs the user's own OpenSSH client, with argument lists (never a local shell):

    ssh -T -o BatchMode=yes -o ControlPath=… [-o OPTION…] TARGET -- 'env TRAILS_HOME=… trails server --stdio'

One master connection per host (ControlMaster, started with `-f -N`, persisting 10 minutes) carries
every command's channel, so a request costs a channel, not a handshake. The remote command is a
string the remote shell parses: every word of it is `shlex.quote`d. BatchMode means ssh never asks
for a password or a passphrase: a key that is refused is a `host_auth_refused` error, an unknown host
key `host_key_unverified` (trails never accepts a key for you), a host ssh cannot reach
`host_unreachable`, a host without trails `host_trails_missing` (its hint says how to install it).

On the remote, `trails server --stdio` (serve_stdio below) relays newline-delimited frames between its
stdin/stdout and that machine's own trails server (started there when none runs, detached: sessions
keep running when the link drops). The caller there is the remote user that ssh logged in: each
request's caller gets the relay's own environment (the remote login's, never the laptop's, which the
local side does not send) and keeps the directory it names (`--repo`; default the remote home).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shlex
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import TypeVar

import msgspec

from trails.api import protocol
from trails.api.caller import Caller, Trust
from trails.api.client import Channel, Client
from trails.core import hosts as hostfile
from trails.core import ownsock, paths
from trails.core.errors import (
    HostAuthRefused,
    HostError,
    HostKeyUnknown,
    HostUnreachable,
    ServerError,
    TrailsError,
    TrailsMissing,
)

CONNECT_TIMEOUT = 10
PERSIST = "600"  # seconds the master connection outlives its last channel
_MAX_CONTROL_PATH = 80  # ssh appends ".XXXXXXXXXXXXXXXX" while it binds; Unix paths end at 108 bytes
INSTALL_HINT = ("install trails on {name} (e.g. `pipx install trails` there), or tell trails where it is: "
                "`trails host add {name} {target} --command '/path/to/python -m trails'`")


Reply = TypeVar("Reply", bound=msgspec.Struct)


def on_host(reply: Reply, host: str) -> Reply:
    """A host's reply as this machine shows it: the session in it says which host it is on (the host's
    own server leaves that out: there it is local)."""
    from trails.api.types import SessionInfo

    session = getattr(reply, "session", None)
    if isinstance(session, SessionInfo):
        session.host = host
    return reply


def control_path(name: str, home: Path | None = None) -> Path:
    """The host's master socket: under the trails home, or a private /tmp directory when that is too long."""
    home = home or paths.trails_home()
    digest = hashlib.sha1(name.encode()).hexdigest()[:12]
    here = home / "ssh"
    if len(str(here / digest)) <= _MAX_CONTROL_PATH:
        return paths.private_dir(here) / digest
    tmp = Path(os.environ.get("TMPDIR") or "/tmp")
    where = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:12]
    return ownsock.owned_dir(tmp / f"trails-{os.getuid()}") / f"ssh-{where}-{digest}"


def ssh_argv(name: str, host: hostfile.Host, *, master: bool = False) -> list[str]:
    """ssh's arguments up to and including the target (the remote command goes after `--`)."""
    cpath = str(control_path(name)).replace("%", "%%")
    argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o", f"ControlPath={cpath}"]
    if master:
        # ServerAlive: a link that went silent (a laptop that slept, a dropped route) ends within 45 s, and
        # the channels over it with it, so a follower of the host's events reconnects.
        argv += ["-o", "ControlMaster=yes", "-o", f"ControlPersist={PERSIST}", "-o", "ServerAliveInterval=15",
                 "-o", "ServerAliveCountMax=3", "-f", "-N"]
    else:
        argv += ["-o", "ControlMaster=no"]
    for option in host.ssh_options:
        argv += ["-o", option]
    return [*argv, host.target]


def remote_command(host: hostfile.Host, *args: str) -> str:
    """The command line the remote shell runs: every word quoted, TRAILS_HOME set when the host names one."""
    words = ["env", f"TRAILS_HOME={host.home}"] if host.home else []
    return " ".join(shlex.quote(w) for w in [*words, *host.command, *args])


def ensure_master(name: str, host: hostfile.Host) -> None:
    """The host's master connection, opened when none answers; ssh's refusal as a HostError of its kind."""
    check = subprocess.run([*ssh_argv(name, host)[:-1], "-O", "check", host.target], capture_output=True,
                           stdin=subprocess.DEVNULL, check=False)
    if check.returncode == 0:
        return
    errors = control_path(name).with_suffix(".err")
    paths.private_file(errors)
    with open(errors, "wb") as err:
        # -f: ssh forks once it has logged in; the master keeps nothing of ours open but this file.
        code = subprocess.run(ssh_argv(name, host, master=True), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err, check=False).returncode
    if code != 0:
        raise ssh_error(name, host, errors.read_text(errors="replace"))


def close_master(name: str, host: hostfile.Host) -> None:
    """End the host's master connection, if one runs (`trails host rm`)."""
    subprocess.run([*ssh_argv(name, host)[:-1], "-O", "exit", host.target], capture_output=True,
                   stdin=subprocess.DEVNULL, check=False, timeout=CONNECT_TIMEOUT)


def ssh_error(name: str, host: hostfile.Host, stderr: str) -> HostError:
    said = " ".join(line.strip() for line in stderr.splitlines() if line.strip())[-400:] or "no message"
    lower = said.lower()
    if "permission denied" in lower:
        return HostAuthRefused(f"{name} ({host.target}) refused every key ssh offered: {said}",
                               hint=f"check `ssh {host.target}` logs in without a password (BatchMode: trails "
                                    "never asks for one); an agent or IdentityFile in ~/.ssh/config is used")
    if "host key verification failed" in lower or ("host key" in lower and "changed" in lower):
        return HostKeyUnknown(f"ssh cannot verify the host key of {name} ({host.target}): {said}",
                              hint=f"run `ssh {host.target}` once yourself to check and accept its key")
    return HostUnreachable(f"cannot reach {name} ({host.target}) over ssh: {said}",
                           hint=f"`ssh {host.target}` should log in; `trails host doctor {name}` checks")


class SshChannel:
    """One `trails server --stdio` on the host, over the master connection: frames on its stdin/stdout."""

    def __init__(self, name: str, host: hostfile.Host) -> None:
        self.name, self.host = name, host
        ensure_master(name, host)
        self.proc = subprocess.Popen([*ssh_argv(name, host), "--", remote_command(host, "server", "--stdio")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.stderr = b""
        threading.Thread(target=self._pump, daemon=True, name=f"trails-ssh-{name}").start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip(b"\n"))
        self.lines.put(None)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()[-4000:]

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read that follows says why (the remote command ended)

    def read(self, timeout: float | None) -> bytes | None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if line is None:
            self._why_it_ended()
        return line

    def _why_it_ended(self) -> None:
        try:
            code = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return
        text = self.stderr.decode(errors="replace")
        if code == 127 or ("not found" in text.lower() and "trails" in text.lower()):
            raise TrailsMissing(f"{self.name} ({self.host.target}) has no {' '.join(self.host.command)!r}: "
                                f"{text.strip()[-300:]}",
                                hint=INSTALL_HINT.format(name=self.name, target=self.host.target))
        if code == 255:
            raise ssh_error(self.name, self.host, text)
        if text.strip():
            raise ServerError(f"trails on {self.name} ended (exit status {code}): {text.strip()[-400:]}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class RemoteClient(Client):
    """A Client whose requests go to `name`'s trails server over ssh. The caller it sends holds no
    environment (the remote user's own is used there) and the remote directory `cwd` (default: home)."""

    def __init__(self, name: str, host: hostfile.Host | None = None, *, cwd: str = "") -> None:
        super().__init__(caller=Caller(trust=Trust.USER, cwd=cwd, env={}), local=False)
        self.host_name = name
        self.host = host or hostfile.get(name)

    def _open(self, start: bool, local: bool | None = None) -> Channel:
        return SshChannel(self.host_name, self.host)


# --- the remote side: `trails server --stdio` ------------------------------------------------------------


def serve_stdio() -> int:
    """Relay frames between stdin/stdout and this home's server until stdin ends (see the module docstring)."""
    sock = Client(local=False).connect(start=True)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    env = {k: v for k, v in os.environ.items() if protocol.encodable(k) and protocol.encodable(v)}
    home_dir = str(Path.home())

    def upstream() -> None:
        try:
            for line in stdin:
                if line.strip():
                    sock.sendall(_as_remote_caller(line.rstrip(b"\n"), env, home_dir))
        except (OSError, ValueError):
            pass
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)  # the server sees the hang-up: this client's jobs stop

    threading.Thread(target=upstream, daemon=True, name="trails-stdio-in").start()
    try:
        while chunk := sock.recv(1 << 16):
            stdout.write(chunk)
            stdout.flush()
    except (OSError, ValueError):
        pass
    finally:
        sock.close()
    return 0


def _as_remote_caller(line: bytes, env: dict[str, str], home_dir: str) -> bytes:
    try:
        frame = protocol.decode_request(line)
    except Exception:
        return line + b"\n"  # the server answers a bad frame itself
    sent = frame.caller or Caller()
    frame.caller = Caller(trust=sent.trust, cwd=os.path.join(home_dir, sent.cwd), env=env, session=sent.session,
                          read_only=sent.read_only)
    return protocol.encode(frame) + b"\n"


def attach_argv(name: str, tmux_argv: list[str]) -> list[str]:
    """`ssh -t TARGET -- TMUX…`: the remote server's attach command, run in the host's terminal."""
    host = hostfile.get(name)
    ensure_master(name, host)
    argv = ssh_argv(name, host)
    argv[1] = "-t"  # a terminal for tmux, where every other channel has none
    return [*argv, "--", " ".join(shlex.quote(w) for w in tmux_argv)]


def control_argv(name: str, host: hostfile.Host, tmux_argv: list[str]) -> list[str]:
    """`ssh -T TARGET -- TMUX -C…`: the host's control-mode client of a pane, its stdin and stdout piped
    here over the master connection (no terminal: the protocol is lines, as with a local one)."""
    ensure_master(name, host)
    return [*ssh_argv(name, host), "--", " ".join(shlex.quote(w) for w in tmux_argv)]


def client_for(name: str) -> tuple[Client, str]:
    """The client that serves session `name` (`HOST:NAME` names one on a host; git refs hold no ':'),
    and the session's name there."""
    host, sep, session = name.partition(":")
    if not sep:
        return Client(), name
    if host == "local":
        return Client(), session
    return RemoteClient(host), session


def describe(exc: TrailsError) -> str:
    return f"{exc.code}: {exc.message}"
