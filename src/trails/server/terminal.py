"""Terminals: a session's tmux pane bridged to a client that is not a terminal (the web page's xterm.js),
or a plain shell of its own opened in the session's worktree.

A bridge is one tmux control-mode client (`tmux -C attach-session`) on trails' own tmux server, run
by the `terminal_open` job: tmux writes each chunk the pane prints as a `%output` line (octal escapes
for control bytes), and takes commands on stdin. On opening, one command line asks for the pane's
id, size and cursor and captures its screen; tmux answers it in order with the pane's output, so
the capture is exactly the screen up to the first `%output` forwarded after it: the client gets a
repaint, then every byte since, nothing twice. Keys go in as `send-keys -H` (the bytes as hex: no
quoting, no key names), a resize as `refresh-client -C`. tmux redraws nothing for a control client
when the window changes size, so each layout change is answered with the size and a repaint again.

A read-only bridge (a read-only caller's, or one asked for so) attaches read-only and ignoring its
size: input and resizes for it are refused here, since tmux runs a control client's commands anyway.
A shell terminal is a tmux session of its own (`_trails-shell-…`: no session's name starts so),
ended when its terminal closes.

A remote host's session (`HOST:NAME`) is bridged the same way, by this server: the host's server says
which control-mode client reaches the pane (`terminal_command`: its tmux socket and session, read-only
when the caller is), and that runs over ssh with its stdin and stdout piped, so the protocol is the
same lines and the terminal's id, input and resizes stay here. A shell in a host's worktree is not
served (`remote_unsupported`): that is a login on the host, not a pane of trails'.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.api import types as t
from trails.api.caller import Caller
from trails.core import freeze, outputlog, paths
from trails.core.errors import InvalidInput, NotPermitted, SessionStateError
from trails.infra.tmux import Tmux

if TYPE_CHECKING:
    from trails.server.jobs import Job
    from trails.server.service import Service

_ESCAPED = re.compile(rb"\\([0-7]{3})")
INPUT_CHUNK = 512  # bytes per send-keys command (a tmux message holds ~16 KB of its text)
MIN_SIZE, MAX_COLS, MAX_ROWS = 2, 1000, 500
SHELL_PREFIX = "_trails-shell-"
HISTORY_LINES = 1000  # of scrollback in a repaint
_PANE_FORMAT = "#{pane_id} #{pane_width} #{pane_height} #{cursor_x} #{cursor_y} #{cursor_flag}"
Handler = Callable[[list[bytes], bool], None]


def unescape(data: bytes) -> bytes:
    """A `%output` line's data as the bytes the pane wrote."""
    return _ESCAPED.sub(lambda m: bytes([int(m.group(1), 8)]), data)


def check_size(cols: int, rows: int) -> None:
    if not (MIN_SIZE <= cols <= MAX_COLS and MIN_SIZE <= rows <= MAX_ROWS):
        raise InvalidInput(f"a terminal is {MIN_SIZE}–{MAX_COLS} columns by {MIN_SIZE}–{MAX_ROWS} rows "
                           f"(got {cols}x{rows})", field="cols")


def repaint(lines: list[bytes], cursor_x: int, cursor_y: int, cursor_shown: bool) -> bytes:
    """What draws a captured pane on a terminal: its screen and scrollback cleared, the history and
    screen lines written (the history scrolls up into the scrollback), the cursor put where it was."""
    body = b"\x1b[0m\r\n".join(lines)
    cursor = b"\x1b[?25h" if cursor_shown else b"\x1b[?25l"
    return (b"\x1b[0m\x1b[H\x1b[2J\x1b[3J" + body + b"\x1b[0m" + f"\x1b[{cursor_y + 1};{cursor_x + 1}H".encode()
            + cursor)


class Bridge:
    """One control-mode client of a tmux session. `run` reads it (in the job's thread) until tmux
    ends it or `close` is called; `type` and `resize` may come from any thread."""

    def __init__(self, argv: list[str], target: str, *, read_only: bool, on_output: Callable[[bytes], None],
                 on_size: Callable[[int, int], None]) -> None:
        self.argv = argv
        self.target = target
        self.read_only = read_only
        self._on_output = on_output
        self._on_size = on_size
        self._handlers: collections.deque[Handler | None] = collections.deque()
        self._write_lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._closed = threading.Event()
        self.pane: bytes | None = None  # the pane's id (%N), once known
        self.size: tuple[int, int] | None = None
        self._seeded = False
        self._cursor = (0, 0, True)

    # --- commands ---

    def _send(self, line: str, *handlers: Handler | None) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise SessionStateError("the terminal is closed")
        with self._write_lock:
            self._handlers.extend(handlers)
            try:
                proc.stdin.write(line.encode() + b"\n")
                proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                raise SessionStateError("the terminal is closed") from None

    def type(self, data: bytes) -> None:
        if self.read_only:
            raise NotPermitted("this terminal is read-only: it shows the pane's output and takes no input")
        target = self._pane_target()
        for start in range(0, len(data), INPUT_CHUNK):
            chunk = data[start:start + INPUT_CHUNK]
            self._send(f"send-keys -t {target} -H {chunk.hex(' ')}", None)

    def resize(self, cols: int, rows: int) -> None:
        if self.read_only:
            raise NotPermitted("this terminal is read-only: it cannot resize the agent's window")
        check_size(cols, rows)
        self._send(f"refresh-client -C {cols}x{rows}", None)

    def _pane_target(self) -> str:
        return f"'={self.target}:'"  # the session's active pane: its only one

    def _repaint(self) -> None:
        # One line: tmux runs both commands before it reads the pane again (see the module docstring).
        target = self._pane_target()
        self._send(f"display-message -p -t {target} '{_PANE_FORMAT}' ; "
                   f"capture-pane -p -e -S -{HISTORY_LINES} -t {target}",
                   self._pane_info, self._capture)

    # --- the reading side ---

    def start(self) -> None:
        """Start the client: keys sent from now on reach the pane (tmux reads them once attached)."""
        self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)

    def run(self, cols: int | None = None, rows: int | None = None) -> str:
        """Attach, repaint, forward output until tmux ends the client; returns why it ended."""
        if self._proc is None:
            self.start()
        try:
            return self._read(cols, rows)
        finally:
            self.close()

    def _attached(self, cols: int | None, rows: int | None) -> None:
        # Only now: a size set before tmux has attached the client is not applied.
        if cols is not None and rows is not None and not self.read_only:
            self.resize(cols, rows)
        self._repaint()

    def _read(self, cols: int | None, rows: int | None) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        stdout = self._proc.stdout
        block: list[bytes] | None = None
        attached = False
        while True:
            line = stdout.readline()
            if not line:
                if self._closed.is_set():
                    return "closed"
                err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
                return err or "the terminal's tmux client ended"
            line = line.rstrip(b"\n")
            if block is not None:
                if line.startswith((b"%end ", b"%error ")) and self._ours(line):
                    self._answer(block, line.startswith(b"%error"))
                    block = None
                elif line.startswith((b"%end ", b"%error ")):
                    block = None
                else:
                    block.append(line)
                continue
            if line.startswith(b"%begin "):
                block = [] if self._ours(line) else None
                if block is None:  # the attach's own answer: skip to its end
                    while (rest := stdout.readline()) and not rest.startswith((b"%end ", b"%error ")):
                        pass
                    if not attached:
                        attached = True
                        self._attached(cols, rows)
            elif line.startswith(b"%output "):
                self._output(line)
            elif line.startswith(b"%exit"):
                if self._closed.is_set():
                    return "closed"
                reason = line[len(b"%exit"):].strip().decode(errors="replace")
                return reason or "the session ended"
            elif line.startswith((b"%layout-change", b"%window-pane-changed")):
                self._repaint()  # a new size: tmux redraws nothing for a control client, so repaint

    @staticmethod
    def _ours(line: bytes) -> bool:
        parts = line.split()
        return len(parts) >= 4 and parts[3] == b"1"  # flags 1: a command this client sent

    def _answer(self, lines: list[bytes], error: bool) -> None:
        handler = self._handlers.popleft() if self._handlers else None
        if handler is not None:
            handler(lines, error)

    def _output(self, line: bytes) -> None:
        _, pane, data = [*line.split(b" ", 2), b""][:3]
        if self._seeded and pane == self.pane:
            self._on_output(unescape(data))
        # Before the repaint, output is part of the screen it draws.

    def _pane_info(self, lines: list[bytes], error: bool) -> None:
        fields = lines[0].split() if lines and not error else []
        if len(fields) != 6:
            raise SessionStateError(f"tmux could not describe the pane: {b' '.join(lines).decode(errors='replace')}")
        self.pane = fields[0]
        self._cursor = (int(fields[3]), int(fields[4]), fields[5] == b"1")
        size = (int(fields[1]), int(fields[2]))
        if size != self.size:
            self.size = size
            self._on_size(*size)

    def _capture(self, lines: list[bytes], error: bool) -> None:
        if error:
            raise SessionStateError(f"tmux could not capture the pane: {b' '.join(lines).decode(errors='replace')}")
        self._on_output(repaint(lines, *self._cursor))
        self._seeded = True

    def close(self) -> None:
        self._closed.set()
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if proc.stdin is not None:
                proc.stdin.close()
        if proc.poll() is None:
            proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


class Terminals:
    """The open terminals of one server, by their job's id."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._open: dict[int, Bridge] = {}
        self._lock = threading.Lock()

    def ops(self) -> dict[type[t.Request[Any]], Callable[[Any, Caller, Job], Any]]:
        return {t.OpenTerminal: self.open, t.TerminalCommandRequest: self.command, t.TerminalInput: self.input,
                t.TerminalResize: self.resize}

    def _bridge(self, terminal: int) -> Bridge:
        with self._lock:
            bridge = self._open.get(terminal)
        if bridge is None:
            raise InvalidInput(f"no terminal {terminal} is open", field="terminal")
        return bridge

    def _pane(self, name: str, read_only: bool, caller: Caller) -> str:
        """The tmux session of `name`'s pane, which must be running; an idle agent frozen (core/freeze.py)
        is thawed for a caller that may type, so it hears what is typed."""
        with self.service.engines.engine() as engine:
            session = engine.get_session(name, caller=caller)
            if not read_only:
                freeze.thaw(engine.store, session)
        if not Tmux(paths.tmux_socket()).has_session(session.tmux_session):
            why = f" ({session.status_reason})" if session.status_reason else ""
            raise SessionStateError(f"session {name!r} has no terminal: it is {session.status.value}{why}",
                                    hint="`trails resume` starts its agent again")
        return session.tmux_session

    def command(self, req: t.TerminalCommandRequest, caller: Caller, job: Job) -> t.TerminalCommand:
        read_only = req.read_only or caller.read_only
        target = self._pane(req.name, read_only, caller)
        return t.TerminalCommand(session=req.name, target=target,
                                 argv=Tmux(paths.tmux_socket()).control_argv(target, read_only=read_only))

    def open(self, req: t.OpenTerminal, caller: Caller, job: Job) -> t.TerminalClosed:
        read_only = req.read_only or caller.read_only
        if req.cols is not None or req.rows is not None:
            check_size(req.cols or 0, req.rows or 0)
        tmux = Tmux(paths.tmux_socket())
        if ":" in req.name:
            argv, target = self._remote(req, read_only, caller, job)
        elif req.shell:
            caller.refuse_read_only("opening a shell")
            if req.read_only:
                raise InvalidInput("a shell cannot be read-only: open the session's own terminal to watch it",
                                   field="read_only")
            with self.service.engines.engine() as engine:
                session = engine.get_session(req.name, caller=caller)
            target = self._start_shell(tmux, session.worktree_path or session.workdir, req, caller, job)
            argv = tmux.control_argv(target)
        else:
            target = self._pane(req.name, read_only, caller)
            argv = tmux.control_argv(target, read_only=read_only)
        bridge = Bridge(argv, target, read_only=read_only,
                        on_output=lambda data: job.progress(t.TerminalOutput(data=data)),
                        on_size=lambda cols, rows: job.progress(t.TerminalSize(cols=cols, rows=rows)))
        with self._lock:
            self._open[job.id] = bridge
        job.on_cancel(bridge.close)
        try:
            bridge.start()
            job.started()  # its id names the terminal from now on
            reason = bridge.run(req.cols, req.rows)
            job.check()
            return t.TerminalClosed(session=req.name, reason=reason)
        finally:
            with self._lock:
                self._open.pop(job.id, None)
            bridge.close()
            if req.shell and ":" not in req.name:
                self._end_shell(tmux, target)

    def _remote(self, req: t.OpenTerminal, read_only: bool, caller: Caller, job: Job) -> tuple[list[str], str]:
        """A `HOST:NAME` pane: the host's server names its control-mode client, which runs over ssh from
        here, so the terminal (its id, input and resizes) is this server's like a local one."""
        from trails.api.remote import control_argv
        from trails.core import hosts as hostfile
        from trails.core.errors import RemoteUnsupported

        host, _, bare = req.name.partition(":")
        if req.shell:
            hostfile.get(host)  # an unknown host is that error, not this one
            raise RemoteUnsupported(f"a shell in the worktree of {req.name} is not served from here: the worktree "
                                    f"is on {host}", field="shell",
                                    hint=f"the session's own terminal is; `ssh` to {host} for a shell there")
        there = t.TerminalCommandRequest(name=bare, read_only=read_only)
        command = self.service.ask_host(host, there, caller, job, about=req.name)
        assert isinstance(command, t.TerminalCommand)
        return control_argv(host, hostfile.get(host), command.argv), command.target

    def _start_shell(self, tmux: Tmux, place: str, req: t.OpenTerminal, caller: Caller, job: Job) -> str:
        if not Path(place).is_dir():
            raise SessionStateError(f"session {req.name!r} has no working directory on disk ({place})")
        name = f"{SHELL_PREFIX}{os.getpid()}-{job.id}"
        tmux.kill_session(name)  # one a crashed server left under this name
        shell = caller.env.get("SHELL", "")
        if not (shell.startswith("/") and os.access(shell, os.X_OK)):
            shell = "/bin/sh"
        env = {k: v for k, v in caller.env.items() if k not in ("TMUX", "TMUX_PANE")}
        tmux.new_session(name, [shell], cwd=place, env=env, width=req.cols or 120, height=req.rows or 32)
        tmux.set_window_option(name, "remain-on-exit", "off")  # `exit` ends the terminal
        tmux.pipe_pane(name, "", replace=True)  # no output log: it is nobody's agent
        return name

    def _end_shell(self, tmux: Tmux, name: str) -> None:
        tmux.kill_session(name)
        log = outputlog.log_path(self.service.home, name)
        for path in (log, log.with_name(log.name + ".1")):
            path.unlink(missing_ok=True)

    def input(self, req: t.TerminalInput, caller: Caller, job: Job) -> t.Done:
        self._bridge(req.terminal).type(req.data)
        return t.Done()

    def resize(self, req: t.TerminalResize, caller: Caller, job: Job) -> t.Done:
        self._bridge(req.terminal).resize(req.cols, req.rows)
        return t.Done()
