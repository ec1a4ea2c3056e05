"""The server process: one per TRAILS_HOME (held by `server.lock`), a thread per connection.

    python -m trails.server [--foreground]

The client (trails.api.client) starts it on demand, detached (its own session, no terminal, cwd /,
output to `$TRAILS_HOME/server.log`). A second one started for the same home exits 0 at once. It
runs until stopped (`trails server --stop`, SIGTERM), until its home is removed, or until the
installed trails code changes under it: then it exits as soon as no operation is under way (a
subscription or an output being followed does not count: their clients reconnect), and the next
command starts a server of the new code.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import stat
import sys
import threading
import time
from pathlib import Path
from typing import IO

from trails.api import protocol
from trails.api.types import REQUESTS, ApiError
from trails.core import ownsock, paths, watch
from trails.core.errors import ServerError, TrailsError
from trails.core.locks import hold_process_lock
from trails.server.delivery import Deliverer
from trails.server.feed import Feed
from trails.server.hostfeed import HostFeeds
from trails.server.jobs import Job, Jobs
from trails.server.mcpsocket import McpSocket
from trails.server.monitor import Monitor, turned_off
from trails.server.service import Service, api_error

ERROR_PREFIX = protocol.SERVER_ERROR_PREFIX
TICK = 0.5  # how often the accept loop looks whether it should stop (and the feed whether others wrote)
CODE_CHECK_SECONDS = 5.0
DRAIN_SECONDS = 30.0  # what an operation under way gets to finish or undo itself when the server stops
STREAMS = frozenset({"subscribe", "follow_output"})  # jobs that last as long as their client wants


def hold_lock(home: Path) -> IO[str] | None:
    """This home's server lock, with our pid in it; None when another server holds it."""
    try:
        return hold_process_lock(home / protocol.LOCK_NAME)
    except OSError as exc:
        raise paths.unusable(exc, "open the lock") from None


class Connection:
    """One client. Its reader runs here; each long request runs in a thread of its own, so the
    client can cancel it on the same connection."""

    # Operations this connection may ask for (None: all). The hook socket's take only hook reports,
    # and their caller is never the user: it is whichever agent the report's token names.
    only: frozenset[str] | None = None

    def __init__(self, sock: socket.socket, server: Server) -> None:
        self.sock = sock
        self.server = server
        self._send_lock = threading.Lock()
        self._jobs: set[Job] = set()
        self._workers: list[threading.Thread] = []
        self.open = True

    def send(self, data: bytes) -> None:
        with self._send_lock:
            if not self.open:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self.open = False  # the client went away: its jobs stop at their next step

    def serve(self) -> None:
        reader = protocol.FrameReader(self.sock)
        service = self.server.service
        try:
            while True:
                try:
                    line = reader.read()
                except (OSError, ValueError):
                    break
                if line is None:
                    break
                if not line.strip():
                    continue
                try:
                    frame = protocol.decode_request(line)
                except Exception as exc:  # not a frame: say so, and stop reading this client
                    self.send(protocol.reply(0, error=ApiError(code="invalid_input",
                                                                        message=f"not a request frame: {exc}")))
                    break
                kind = REQUESTS.get(frame.op)
                if self.only is not None:
                    if frame.op not in self.only:
                        only = ", ".join(sorted(self.only))
                        self.send(protocol.reply(frame.id, error=ApiError(
                            code="not_permitted", message=f"the hook socket answers only {only}", field="op",
                            exit_code=1)))
                        break
                    service.execute(frame, self.send, trust_user=False, under_way=self._jobs)
                elif kind is not None and kind.long:
                    worker = threading.Thread(target=service.execute, args=(frame, self.send),
                                              kwargs={"under_way": self._jobs}, name=f"trails-job-{frame.op}",
                                              daemon=True)
                    self._workers = [w for w in self._workers if w.is_alive()] + [worker]
                    worker.start()
                else:
                    service.execute(frame, self.send, under_way=self._jobs)
        finally:
            self.open = False
            # A client that hung up takes its jobs with it (an output it followed, a run it waited on).
            for job in list(self._jobs):
                job.cancel()
            for worker in self._workers:
                worker.join(60)
            with contextlib.suppress(OSError):
                self.sock.close()


class HookConnection(Connection):
    only = frozenset({"hook_event"})


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.jobs = Jobs()
        self.feed = Feed(paths.state_db())
        self.monitor = Monitor(home)
        self.hosts = HostFeeds(paths.state_db())  # remote hosts' events into this home's stream (issue #16)
        self.service = Service(home, feed=self.feed, jobs=self.jobs, monitor=self.monitor, stop=self.stop,
                               hosts=self.hosts)
        self.delivery = Deliverer(self.service)  # agents' messages typed into ready recipients (issue #12)
        self.path = protocol.socket_path(home)
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._hook_listener: socket.socket | None = None
        self._hook_path: Path | None = None
        self._mcp: McpSocket | None = None
        self._inode = 0
        from trails.fast import code_stamp

        self._code_stamp = code_stamp
        self._stamp = code_stamp()
        self._next_code_check = time.monotonic() + CODE_CHECK_SECONDS

    def stop(self) -> None:
        self._stop.set()

    def bind(self) -> None:
        if self.path.parent != self.home:
            ownsock.owned_dir(self.path.parent)  # a /tmp directory must be ours alone
        self._listener = _listen(self.path)
        self._inode = os.stat(self.path).st_ino
        from trails.core import hookwire

        try:
            self._hook_path = hookwire.socket_path(self.home)
            hookwire.install_reporter(self.home)
            self._hook_listener = _listen(self._hook_path)
        except (OSError, TrailsError) as exc:  # agents' hooks then go unheard: their screens still tell
            why = exc.message if isinstance(exc, TrailsError) else str(exc)
            print(f"trails-server: agents' hooks cannot report: {why}", file=sys.stderr, flush=True)
            self._hook_path = None
        from trails.core import mcpwire

        try:
            mcpwire.install_relay(self.home)
            self._mcp = McpSocket(self.home, self.service, _listen(mcpwire.socket_path(self.home)))
        except (OSError, TrailsError) as exc:  # host agents' `trails mcp` still reaches the server
            why = exc.message if isinstance(exc, TrailsError) else str(exc)
            print(f"trails-server: container agents cannot reach trails' MCP server: {why}", file=sys.stderr,
                  flush=True)

    def _serve_hooks(self, listener: socket.socket) -> None:
        # A report is one frame: a client that sends nothing is let go.
        ownsock.serve_own(listener, self._stop, lambda sock: HookConnection(sock, self).serve(), timeout=5.0,
                          name="trails-hook")

    def _still_ours(self) -> bool:
        try:
            return self.home.is_dir() and os.stat(self.path).st_ino == self._inode
        except OSError:
            return False

    def serve(self) -> None:
        assert self._listener is not None
        watch.register(self.home, self.monitor)
        if self._hook_listener is not None:
            threading.Thread(target=self._serve_hooks, args=(self._hook_listener,), name="trails-hooks",
                             daemon=True).start()
        if self._mcp is not None:
            threading.Thread(target=self._mcp.serve, args=(self._stop,), name="trails-mcp-socket", daemon=True).start()
        self.delivery.start()
        self.hosts.sync()
        if not turned_off(os.environ):
            try:
                self.monitor.start()
            except TrailsError as exc:  # the server still serves; requests that need the watch say why
                print(f"{ERROR_PREFIX}{exc.message}", file=sys.stderr, flush=True)
        try:
            while not self._stop.is_set() and self._still_ours():
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    with contextlib.suppress(Exception):
                        self.feed.publish_pending()  # writers in other processes that did not nudge
                        self.hosts.sync()
                    self._maybe_retire()
                    continue
                except OSError:
                    continue
                if ownsock.peer_uid(sock) != os.getuid():
                    sock.close()  # another user's process: it gets nothing, not even an error
                    continue
                sock.settimeout(None)
                threading.Thread(target=Connection(sock, self).serve, name="trails-connection", daemon=True).start()
        finally:
            self.shutdown()

    def _maybe_retire(self) -> None:
        """Exit once idle when the installed trails code is no longer the code this server runs."""
        now = time.monotonic()
        if now < self._next_code_check:
            return
        self._next_code_check = now + CODE_CHECK_SECONDS
        if self._code_stamp() == self._stamp:
            return
        if all(job.op in STREAMS for job in self.jobs.under_way()):
            print("trails-server: the installed trails code changed: exiting for a server of the new code",
                  file=sys.stderr, flush=True)
            self.stop()

    def shutdown(self) -> None:
        watch.unregister(self.home)
        if self._listener is not None:
            if self._still_ours():
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            self._listener.close()
            self._listener = None
        if self._hook_listener is not None:
            hook_listener, self._hook_listener = self._hook_listener, None
            with contextlib.suppress(OSError):
                if self._hook_path is not None:
                    os.unlink(self._hook_path)
            hook_listener.close()
        if self._mcp is not None:
            self._mcp.close()
        self.jobs.cancel_all()
        deadline = time.monotonic() + DRAIN_SECONDS
        while self.jobs.under_way() and time.monotonic() < deadline:
            time.sleep(0.05)  # cancelled at their next step, they undo what they had started
        self.monitor.stop()
        self.delivery.stop()
        self.hosts.close()
        self.service.close()


def _listen(path: Path) -> socket.socket:
    """A listener on `path` only this user may connect to (a socket left there by a server that died
    is replaced: we hold the lock, so it is not live)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # only this user may connect
    try:
        listener.bind(str(path))
    except OSError as exc:
        listener.close()
        raise ServerError(f"cannot listen on {path}: {exc.strerror or exc}",
                          hint=f"remove {path} if it is not trails' socket, or make its directory writable") \
            from None
    finally:
        os.umask(old)
    listener.listen(128)
    listener.settimeout(TICK)
    return listener


def serve(home: Path) -> int:
    lock = hold_lock(home)
    if lock is None:
        return 0  # another server already serves this home
    try:
        server = Server(home)
        server.bind()

        def _stop(signum: int, frame: object) -> None:
            server.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        server.serve()
    finally:
        lock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trails-server")
    parser.add_argument("--foreground", action="store_true", help="accepted for symmetry; this process never forks")
    parser.parse_args(argv)
    try:
        return serve(paths.trails_home())
    except TrailsError as exc:
        # One line for whoever started it (the client raises the same error from it), not a traceback.
        print(protocol.stop_line(api_error(exc)), file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(protocol.stop_line(api_error(paths.unusable(exc))), file=sys.stderr, flush=True)
        return 1
