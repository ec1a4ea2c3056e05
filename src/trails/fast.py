"""The `trails` entry point: hand the command to a warm server when one is up, else run it here.

Python start-up plus trails' imports cost ~200 ms on a slow machine, most of `trails new`. A warm
server (trails.ui.cli.warm) keeps everything imported and forks one child per command; the child
takes over this process's stdin/stdout/stderr, cwd, environment and umask, so the command behaves
exactly as if run here. Anything unusual (no server, stale code, a protocol hiccup) runs the command
locally instead and starts a server for next time. TRAILS_WARM=off never uses the warm path.

This module sits at the package root, not under trails.ui.cli, because importing that package
loads argparse and the CLI framework (~50 ms) — the very cost it avoids. It imports only builtin
modules (_socket, _signal, marshal): even `socket`, `signal` and `json` cost ~10 ms each here.
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing itself costs ~10 ms to import here
    from typing import Any

# Commands that need the controlling terminal (or, `mcp`, hold stdio for as long as their client), so
# they always run in this process.
LOCAL_COMMANDS = frozenset({"attach", "tui", "mcp"})
OFF_VALUES = frozenset({"off", "0", "no", "false"})
FORWARDED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
HANDSHAKE_TIMEOUT = 5.0
_MAX_UNIX_PATH = 100
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def trails_home() -> str:
    """TRAILS_HOME as trails.core.paths resolves it, made absolute (without creating it)."""
    home = os.environ.get("TRAILS_HOME")
    return os.path.abspath(os.path.expanduser(home) if home else os.path.join(os.path.expanduser("~"), ".trails"))


def socket_path(home: str) -> str:
    """Where the warm server listens. Unix socket paths are short, so long homes get a /tmp path."""
    path = os.path.join(home, "cli.sock")
    if len(path) <= _MAX_UNIX_PATH:
        return path
    digest = 0xCBF29CE484222325  # FNV-1a: hashlib would cost more than everything else here
    for byte in os.fsencode(os.path.realpath(home)):
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    tmp = os.environ.get("TMPDIR") or "/tmp"
    return os.path.join(tmp, f"trails-{os.getuid()}", f"cli-{digest:016x}.sock")


def code_stamp() -> tuple[str, str, int, int]:
    """A cheap fingerprint of the installed trails code: interpreter, package dir, .py count, newest mtime."""
    count, newest = 0, 0
    stack = [_PACKAGE_DIR]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    count += 1
                    newest = max(newest, entry.stat().st_mtime_ns)
                elif entry.name != "__pycache__" and entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return sys.executable, _PACKAGE_DIR, count, newest


def compat() -> list[object]:
    """What else shapes a command's behaviour at interpreter start: a server only runs commands for its own."""
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON") or k in {"LANG", "LC_ALL", "LC_CTYPE"})
    return [tuple(sys.flags), env]


def warm_disabled() -> bool:
    return os.environ.get("TRAILS_WARM", "").strip().lower() in OFF_VALUES


def wants_local(argv: list[str]) -> bool:
    """No arguments (the dashboard or help) and terminal-bound commands always run here."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return not argv or first in LOCAL_COMMANDS


# --- framing: a 4-byte length, then a marshal payload (both ends are the same interpreter) ---------

def send_frame(sock: Any, obj: Any, fds: list[int] | None = None) -> None:
    payload = marshal.dumps(obj)
    data = len(payload).to_bytes(4, "big") + payload
    if fds:
        import _socket

        # The C ints of SCM_RIGHTS, packed by hand: `array` would import collections.abc (~5 ms).
        packed = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
        sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, packed)])
        data = data[sent:]
    if data:
        sock.sendall(data)


def recv_exact(sock: Any, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(left)
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: Any) -> Any:
    size = int.from_bytes(recv_exact(sock, 4), "big")
    return marshal.loads(recv_exact(sock, size))


# --- the client -------------------------------------------------------------------------------

def _request(argv: list[str]) -> dict[str, Any]:
    umask = os.umask(0o22)
    os.umask(umask)
    return {"argv": argv, "argv0": sys.argv[0], "cwd": os.getcwd(), "env": dict(os.environ),
            "umask": umask, "stamp": code_stamp(), "compat": compat()}


class _Forwarder:
    """Signals that would stop a local command go to the child's process group instead."""

    def __init__(self) -> None:
        self.pgid = 0
        self.received: list[int] = []

    def __call__(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        self._send(signum)

    def _send(self, signum: int) -> None:
        if self.pgid:
            try:  # noqa: SIM105 - contextlib is one import more on the hot path
                os.killpg(self.pgid, signum)
            except OSError:
                pass

    def attach(self, pgid: int) -> None:
        self.pgid = pgid
        for signum in self.received:
            self._send(signum)


NO_SERVER, BUSY_ELSEWHERE, NOT_OURS = -1000, -1001, -1002


def _owned(sock: Any, path: str) -> bool:
    """The socket's directory is ours and closed to others, and the listener runs as us: only then
    may it have our command, environment and terminal (trails.core.ownsock, without its imports)."""
    import _socket

    st = os.lstat(os.path.dirname(path))
    uid = os.getuid()
    if st.st_uid != uid or st.st_mode & 0o022 or (st.st_mode & 0o170000) != 0o040000:
        return False
    cred = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    return int.from_bytes(cred[4:8], sys.byteorder) == uid


def run_warm(argv: list[str]) -> int:
    """Run argv in a warm server's child and return its exit code, or NO_SERVER (none answered, or
    a stale one), BUSY_ELSEWHERE (a server for another interpreter set-up) or NOT_OURS (another user's
    listener, or a directory others control): then nothing ran."""
    import _signal
    import _socket

    path = socket_path(trails_home())
    forward = _Forwarder()
    previous = {}
    try:
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.settimeout(HANDSHAKE_TIMEOUT)
        sock.connect(path)
        if not _owned(sock, path):
            sock.close()
            sys.stderr.write(f"trails: warning: {path} is not this user's own server; running here instead\n")
            return NOT_OURS
        for name in FORWARDED_SIGNALS:
            signum = getattr(_signal, name)
            previous[signum] = _signal.signal(signum, forward)
        send_frame(sock, _request(argv), [0, 1, 2])
        reply = recv_frame(sock)
        pid = reply.get("pid") if isinstance(reply, dict) else None
        if not isinstance(pid, int):
            _restore(_signal, previous)
            return BUSY_ELSEWHERE if isinstance(reply, dict) and reply.get("mismatch") else NO_SERVER
    except Exception:
        _restore(_signal, previous)
        return NO_SERVER
    # From here on the command is running: never run it a second time.
    forward.attach(pid)
    sock.settimeout(None)
    try:
        reply = recv_frame(sock)
        code = reply["exit"]
    except Exception:
        code = None
    _restore(_signal, previous)
    if not isinstance(code, int):
        # The child died without reporting, killed by a signal: when it was one we forwarded, die of
        # it too, as the command would have here.
        for signum in forward.received[-1:]:
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        sys.stderr.write("trails: error: the command's process ended without an exit status\n")
        return 1
    return code


def _restore(_signal: Any, previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        _signal.signal(signum, handler)


def start_server() -> None:
    """Start a warm server in the background, detached from this terminal; it exits when idle."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            os.posix_spawn(sys.executable, [sys.executable, "-m", "trails.ui.cli.warm", trails_home()],
                           os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                                     (os.POSIX_SPAWN_DUP2, devnull, 1),
                                                     (os.POSIX_SPAWN_DUP2, devnull, 2)], setsid=True)
        finally:
            os.close(devnull)
    except OSError:
        pass


def run_local(argv: list[str]) -> Any:
    from trails.ui.cli import main as cli_main

    return cli_main(argv)


def main() -> None:
    argv = sys.argv[1:]
    if warm_disabled() or wants_local(argv):
        sys.exit(run_local(argv))
    code = run_warm(argv)
    if code >= 0:
        # The command ran in the server's child; this process holds nothing to finalize, and
        # skipping the interpreter's teardown saves ~2 ms of every command.
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105 - contextlib is one import more on the hot path
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    if code == NO_SERVER:
        start_server()
    sys.exit(run_local(argv))
