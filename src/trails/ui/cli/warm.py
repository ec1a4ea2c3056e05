"""The warm CLI server: the CLI's modules imported once, one forked child per command.

    python -m trails.ui.cli.warm HOME

A command is a thin client of this home's trails server (trails.server), which does the work; what
is left of a command's time is Python's start-up and the client's imports (argparse, msgspec, the
API types: ~45 ms of a cold `trails new`, against ~25 ms the server spends creating the session).
This server keeps them imported and hands each command to a child forked from it, so a command
costs about what the trails server spends on it (figures in the README).

Started in the background by trails.fast when no server answers. One server per TRAILS_HOME (a
lock file); it exits after TRAILS_WARM_IDLE seconds without a command (default 300), when its home
or socket disappears, or when a client runs newer code than it imported (it answers "stale" and the
client runs the command itself).

A standby child is forked ahead of time, while no command runs, and takes over the next request:
forking this ~40 MB interpreter costs a few ms that would otherwise sit between a request and its
command. Without a ready standby a request gets a fresh fork, as before.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import importlib
import os
import signal
import socket
import stat
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from trails.core import ownsock
from trails.fast import code_stamp, compat, recv_exact, send_frame, socket_path

DEFAULT_IDLE = 300.0
TICK = 0.5
# While a command that started less than STANDBY_AFTER seconds ago runs, how often the server
# looks whether it ended (to fork the next standby).
BUSY_TICK = 0.01
STANDBY_AFTER = 1.0
READY = b"R"
MAX_REQUEST = 16 * 1024 * 1024
# Everything a command imports: the CLI and the client of the trails server (the engine lives there).
# The dashboard (textual) is left out: it always runs locally.
PRELOAD = (
    "trails.ui.cli", "trails.ui.cli.common", "trails.ui.cli.framework", "trails.ui.cli.sessions",
    "trails.ui.cli.system", "trails.ui.cli.live", "trails.ui.cli.runs", "trails.ui.cli.moves",
    "trails.ui.cli.lifecycle", "trails.ui.cli.trust", "trails.api.client", "trails.api.types",
    "trails.api.protocol", "trails.core.marks", "msgspec", "json", "subprocess", "datetime", "hashlib", "tempfile",
)


def idle_timeout() -> float:
    try:
        return float(os.environ.get("TRAILS_WARM_IDLE", "") or DEFAULT_IDLE)
    except ValueError:
        return DEFAULT_IDLE


def preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(Exception):  # an optional dependency missing: that command imports it itself
            importlib.import_module(name)
    # Parsers too: argparse looks up a translation for every help string it registers.
    with contextlib.suppress(Exception):
        from trails.ui.cli import COMMANDS, build_parser

        build_parser(None)
        for name in COMMANDS:
            build_parser(name)


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = socket_path(str(home))
        self.stamp = code_stamp()  # before importing: code changed since then counts as stale
        self.compat = compat()
        self.idle = idle_timeout()
        self.lock_fd = -1
        self.listener: socket.socket | None = None
        self.inode = 0
        self.standby: Standby | None = None
        self.commands: set[int] = set()  # children running a command

    def acquire(self) -> bool:
        """The per-home lock: a second server gives way to the first."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.lock_fd = os.open(self.home / "cli.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.lock_fd)
            return False
        os.ftruncate(self.lock_fd, 0)
        os.write(self.lock_fd, str(os.getpid()).encode())  # who holds it, for people and tests
        return True

    def bind(self) -> None:
        # Our own home, or a short directory under /tmp that must be ours alone (else: no server).
        ownsock.owned_dir(Path(self.path).parent)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # left by a server that died; we hold the lock, so it is not live
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # only this user may connect: a command runs with our rights
        try:
            listener.bind(self.path)
        finally:
            os.umask(old)
        listener.listen(64)
        listener.settimeout(TICK)
        self.listener = listener
        self.inode = os.stat(self.path).st_ino

    def still_ours(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return self.home.is_dir() and st.st_ino == self.inode and stat.S_ISSOCK(st.st_mode)

    def release(self) -> None:
        """Give up the socket and the lock, so a new server can start at once."""
        if self.listener is not None:
            if self.still_ours():
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            self.listener.close()
            self.listener = None
        if self.standby is not None:
            self.standby.channel.close()  # it reads end-of-file and exits
            self.standby = None
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

    def serve(self) -> None:
        assert self.listener is not None
        last = time.monotonic()
        while self.still_ours() and time.monotonic() - last < self.idle:
            self.reap()
            # The next standby is forked once the last command ended, or has run a while: not
            # beside a command that just started, whose time counts.
            quiet = not self.commands or time.monotonic() - last > STANDBY_AFTER
            if self.standby is None and quiet:
                self.standby = fork_standby(self)
            self.listener.settimeout(TICK if quiet else BUSY_TICK)
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            last = time.monotonic()
            with conn:
                if self.handle(conn) == "stale":
                    return

    def handle(self, conn: socket.socket) -> str:
        fds: list[int] = []
        try:
            conn.settimeout(5)
            if ownsock.peer_uid(conn) != os.getuid():
                return "refused"
            fds, request = _receive(conn)
            if request.get("stamp") != self.stamp:
                self.release()
                send_frame(conn, {"stale": True})
                return "stale"
            if request.get("compat") != self.compat:
                send_frame(conn, {"mismatch": True})
                return "mismatch"
            if len(fds) != 3:
                return "bad request"
            if self.hand_to_standby(conn, fds, request):
                return "handed over"
            pid = os.fork()
            if pid == 0:
                _child(conn, fds, request, self)
            self.commands.add(pid)
            return "forked"
        except Exception:
            return "bad request"
        finally:
            for fd in fds:
                os.close(fd)


    def hand_to_standby(self, conn: socket.socket, fds: list[int], request: dict[str, Any]) -> bool:
        """Give the request, its connection and the client's stdio to the standby; False when there is none."""
        standby = self.standby
        if standby is None or not standby.ready():
            return False
        self.standby = None
        try:
            send_frame(standby.channel, request, [conn.fileno(), *fds])
        except OSError:
            with contextlib.suppress(OSError):
                os.kill(standby.pid, signal.SIGKILL)
            return False
        finally:
            standby.channel.close()
        self.commands.add(standby.pid)
        return True

    def reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            while True:
                pid, _ = os.waitpid(-1, os.WNOHANG)
                if not pid:
                    break
                self.commands.discard(pid)
                if self.standby is not None and pid == self.standby.pid:
                    self.standby.channel.close()
                    self.standby = None


class Standby:
    """A forked child waiting on `channel` for the next request (see the module's docstring)."""

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid = pid
        self.channel = channel
        self._ready = False

    def ready(self) -> bool:
        """Whether it has said it is ready (it touches its memory first, see _standby)."""
        if not self._ready:
            with contextlib.suppress(OSError):
                self._ready = self.channel.recv(1, socket.MSG_DONTWAIT) == READY
        return self._ready


def fork_standby(server: Server) -> Standby | None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        ours.close()
        _standby(theirs, server)
    theirs.close()
    return Standby(pid, ours)


def _standby(channel: socket.socket, server: Server) -> None:
    """In the standby: wait for a request, then run it as a freshly forked child would."""
    try:
        _leave_server(server)
        # A command's first writes to memory it shares with the server copy pages (measured: ~3 ms
        # of `ls`); a collection over every object makes most of those copies now, off the clock.
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        channel.sendall(READY)
        fds, request = _receive(channel, max_fds=4)
        channel.close()
        if len(fds) != 4:
            os._exit(1)
    except BaseException:
        os._exit(0)  # the server went away (end of file) or handed over nothing usable
    conn = socket.socket(fileno=fds[0])
    conn.settimeout(5)  # as the server had it
    _child(conn, fds[1:], request, server)


def _leave_server(server: Server) -> None:
    """Close what only the server may hold: a long command must not keep the next server from starting."""
    if server.listener is not None:
        server.listener.close()
        server.listener = None
    if server.standby is not None:
        server.standby.channel.close()
        server.standby = None
    if server.lock_fd >= 0:
        os.close(server.lock_fd)
        server.lock_fd = -1


def _receive(conn: socket.socket, max_fds: int = 3) -> tuple[list[int], dict[str, Any]]:
    head, fds, _, _ = socket.recv_fds(conn, 4, max_fds)
    head += _recv_exact(conn, 4 - len(head))
    size = int.from_bytes(head, "big")
    if size > MAX_REQUEST:
        raise ValueError("request too large")
    import marshal

    request = marshal.loads(_recv_exact(conn, size))
    if not isinstance(request, dict):
        raise ValueError("bad request")
    return fds, request


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    return recv_exact(conn, size) if size else b""


def _child(conn: socket.socket, fds: list[int], request: dict[str, Any], server: Server) -> None:
    """In the forked child: become the client's process, run the command, report its exit code."""
    code = 1
    try:
        _leave_server(server)
        _become_client(fds, request)
        send_frame(conn, {"pid": os.getpid()})
    except BaseException:
        os._exit(1)
    try:
        code = _run(request["argv"])
    finally:
        with contextlib.suppress(BaseException):
            send_frame(conn, {"exit": code})
        with contextlib.suppress(BaseException):
            conn.close()
            # Let go of the client's stdio: whoever reads its output (a pipe) sees the end now.
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
        os._exit(code)


def _become_client(fds: list[int], request: dict[str, Any]) -> None:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    fds.clear()
    os.setpgid(0, 0)  # the client forwards Ctrl-C to this group: the command and what it started
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    time.tzset()
    sys.argv = [request.get("argv0") or "trails", *request["argv"]]
    # stdout was /dev/null when the server started; on a terminal it is line-buffered, as locally.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.reconfigure(line_buffering=stream.isatty() or stream is sys.stderr)  # type: ignore[union-attr]


def _run(argv: list[str]) -> int:
    """The command, ended the way the interpreter would end it: exit code, threads, atexit, flush."""
    try:
        from trails.ui.cli import main

        code = _exit_code(main(argv))
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    threading = sys.modules.get("threading")
    with contextlib.suppress(BaseException):
        if threading is not None:
            threading._shutdown()
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    with contextlib.suppress(BaseException):
        sys.stderr.write(f"{value}\n")
    return 1


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit("usage: python -m trails.ui.cli.warm HOME")
    server = Server(Path(args[0]))
    os.chdir("/")  # hold no directory of the user's
    if not server.acquire():
        return
    try:
        preload()
        # What is imported now lives as long as the server: its children's garbage collections
        # then never write to those pages (each write copies a page the child shares with us).
        gc.freeze()
        server.bind()
        server.serve()
    finally:
        server.release()


if __name__ == "__main__":
    main()
