"""A thin typed wrapper over tmux on one private socket. No policy here."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from trails.core.errors import TmuxError
from trails.infra.proc import Result, run

_SERVER_EXITING = "server exited unexpectedly"
_buffers = itertools.count()
# The pane's program is `sh -c SCRIPT EXIT_FILE ENV_FILE [GATE] ARGV...`: the script is a constant and
# argv reaches it as positional parameters, never as shell text. The environment comes from ENV_FILE
# (owner-only, deleted once read) rather than `-e K=V` arguments: tmux's server keeps the argv of the
# client that started it, so values there (API keys) would be readable in `ps` for its whole life.
_LOAD_ENV = '. "$1" || exit 125; rm -f "$1"; shift; '
_RECORD_EXIT = '"$@"; code=$?; umask 077; [ -z "$0" ] || echo "$code" > "$0"; exit "$code"'
# The same, started only once a line arrives through the gate FIFO: the pane exists, the agent
# waits until trails has finished what must come before it (see release_gate).
_GATED = 'read _ < "$1" || exit 125; shift; '
# The pane's shell sets these for the directory it runs in; the caller's values would lie there.
_PANE_OWN = frozenset({"PWD", "OLDPWD"})
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """`export K='v'` lines for sh to source, owner-only. Names sh cannot set (bash's exported
    functions, `BASH_FUNC_f%%`) are left out: `export` of one would end the pane's shell."""
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()
                    if _ENV_NAME.fullmatch(k) and k not in _PANE_OWN)
    # Python holds bytes of the environment that are not UTF-8 as surrogates: written back as the
    # bytes they were. Encoded before the file exists, so a value that cannot be leaves no file.
    data = lines.encode("utf-8", "surrogateescape")
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def release_gate(gate: Path, timeout: float = 10.0) -> bool:
    """Let a gated pane's program start: one line through its FIFO, once the pane has opened it.

    False when no pane opened it in time (it never started, or died first).
    """
    import errno

    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: no reader yet
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    return False
                time.sleep(0.001)
                continue
            try:
                os.write(fd, b"go\n")
            finally:
                os.close(fd)
            return True
    finally:
        gate.unlink(missing_ok=True)


def read_exit_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class PaneInfo:
    session: str
    pane_id: str
    pid: int
    dead: bool
    dead_status: int | None
    dead_signal: int | None
    current_command: str


class Tmux:
    """tmux commands against one socket (`tmux -S SOCKET ...`)."""

    def __init__(self, socket: Path, config: Path | None = None) -> None:
        self.socket = socket
        # Read only when this call starts the server; trails keeps its server options there.
        self.config = config

    @staticmethod
    def available() -> bool:
        return shutil.which("tmux") is not None

    @staticmethod
    def version() -> str | None:
        res = run(["tmux", "-V"], timeout=5)
        return res.stdout.strip() if res.ok else None

    def _argv(self, *args: str) -> list[str]:
        conf = ["-f", str(self.config)] if self.config else []
        return ["tmux", *conf, "-S", str(self.socket), *args]

    def _run(self, *args: str, check: bool = True, input: str | None = None) -> Result:
        res = run(self._argv(*args), input=input, timeout=30)
        # The server exits when its last session is killed; a command that reached it in that moment
        # fails with this message although nothing was done, and the next one starts a fresh server.
        for pause in (0.01, 0.05, 0.2):
            if res.ok or _SERVER_EXITING not in res.stderr:
                break
            time.sleep(pause)
            res = run(self._argv(*args), input=input, timeout=30)
        if check and not res.ok:
            raise TmuxError(f"tmux {args[0]} failed: {res.stderr.strip() or res.stdout.strip()}")
        return res

    def new_session(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        width: int = 200,
        height: int = 50,
        exit_file: Path | None = None,
        gate: Path | None = None,
    ) -> None:
        """Start a detached session running argv (never parsed by a shell).

        With `exit_file`, the agent's exit status is also written there: tmux loses it now and
        then when several panes die at once, and "completed" must not be a guess. With `gate` (a
        FIFO made here; needs `exit_file`), argv starts only after `release_gate(gate)`.
        """
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        args = ["new-session", "-d", "-s", name, "-c", cwd, "-x", str(width), "-y", str(height)]
        # Without an exit file, the env file goes beside the socket (trails' own directory).
        env_file = (exit_file or self.socket.parent / f"{name}.exit").with_suffix(".env")
        write_env_file(env_file, env)
        script, params = _LOAD_ENV + _RECORD_EXIT, [str(exit_file or ""), str(env_file)]
        if gate is not None:
            if exit_file is None:
                raise ValueError("a gated start needs an exit file")
            exit_file.unlink(missing_ok=True)
            gate.unlink(missing_ok=True)
            os.mkfifo(gate, 0o600)
            script, params = _LOAD_ENV + _GATED + _RECORD_EXIT, [*params, str(gate)]
        elif exit_file is not None:
            exit_file.unlink(missing_ok=True)
        args += ["--", "sh", "-c", script, *params, *argv]
        self._run(*args)

    def has_session(self, name: str) -> bool:
        return self._run("has-session", "-t", f"={name}", check=False).ok

    def kill_session(self, name: str) -> None:
        self._run("kill-session", "-t", f"={name}", check=False)

    def list_panes(self) -> dict[str, PaneInfo]:
        """Every session's first pane, in one tmux call."""
        fmt = "\t".join(("#{session_name}", "#{pane_id}", "#{pane_pid}", "#{pane_dead}", "#{pane_dead_status}",
                         "#{pane_dead_signal}", "#{pane_current_command}"))
        res = self._run("list-panes", "-a", "-F", fmt, check=False)
        if not res.ok:  # no server running: no sessions
            return {}
        panes: dict[str, PaneInfo] = {}
        for line in res.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) != 7 or parts[0] in panes:
                continue
            panes[parts[0]] = PaneInfo(
                parts[0], parts[1], int(parts[2] or 0), parts[3] == "1", _int(parts[4]), _int(parts[5]), parts[6]
            )
        return panes

    def capture(self, name: str, *, history: int = 0, ansi: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", f"={name}:"]
        if history:
            args += ["-S", f"-{history}"]
        if ansi:
            args.append("-e")
        return self._run(*args).stdout

    def send_text(self, name: str, text: str, *, enter: bool = True) -> None:
        """Type text literally (-l: no key-name interpretation), then Enter as its own key."""
        target = f"={name}:"
        if text:
            self._run("send-keys", "-t", target, "-l", "--", text)
        if enter:
            self._run("send-keys", "-t", target, "Enter")

    def paste_text(self, name: str, text: str) -> None:
        """Paste text into the pane through a tmux buffer: no length limit (a send-keys command must fit
        in one tmux message, ~16 KB), and bracketed (-p) when the program in the pane asked for that."""
        buffer = f"trails-send-{os.getpid()}-{next(_buffers)}"  # its own buffer: pastes run in parallel
        self._run("load-buffer", "-b", buffer, "-", input=text)
        try:
            self._run("paste-buffer", "-d", "-p", "-b", buffer, "-t", f"={name}:")
        except TmuxError:
            self._run("delete-buffer", "-b", buffer, check=False)
            raise

    def send_keys(self, name: str, *keys: str) -> None:
        self._run("send-keys", "-t", f"={name}:", *keys)

    def pipe_pane(self, name: str, shell_command: str, *, replace: bool = False) -> None:
        """Pipe the pane's output into shell_command; without `replace`, only if no pipe is open yet."""
        self._run("pipe-pane", *([] if replace else ["-o"]), "-t", f"={name}:", shell_command, check=False)

    def pane_fields(self, *fields: str) -> list[list[str]]:
        """Chosen format fields (e.g. "session_name", "pane_width") of every pane, in one call."""
        res = self._run("list-panes", "-a", "-F", "\t".join(f"#{{{f}}}" for f in fields), check=False)
        rows = [line.split("\t") for line in res.stdout.splitlines()] if res.ok else []
        return [row for row in rows if len(row) == len(fields)]

    def client_fields(self, *fields: str) -> list[list[str]]:
        """Chosen format fields (e.g. "client_tty") of every attached client, in one call."""
        res = self._run("list-clients", "-F", "\t".join(f"#{{{f}}}" for f in fields), check=False)
        rows = [line.split("\t") for line in res.stdout.splitlines()] if res.ok else []
        return [row for row in rows if len(row) == len(fields)]

    def display_message(self, client: str, text: str, milliseconds: int = 5000) -> None:
        """A line of text shown on one client (`-l`: as it is, no format expansion)."""
        self._run("display-message", "-c", client, "-d", str(milliseconds), "-l", text, check=False)

    def set_global_hook(self, hook: str, command: str) -> None:
        self._run("set-hook", "-g", hook, command, check=False)

    def attach_argv(self, name: str) -> list[str]:
        return self._argv("attach-session", "-t", f"={name}")

    def control_argv(self, name: str, *, read_only: bool = False) -> list[str]:
        """A control-mode client of the session (`tmux -C`: commands on stdin, `%output` lines out).
        `read_only` attaches it read-only and ignoring its size, so a viewer never resizes the agent's
        window; its commands still run (keeping a viewer from typing is the caller's business)."""
        flags = ["-r", "-f", "ignore-size"] if read_only else []
        return self._argv("-C", "attach-session", *flags, "-t", f"={name}")

    def set_window_option(self, name: str, option: str, value: str) -> None:
        """A window option (e.g. remain-on-exit) of the session's window."""
        self._run("set-option", "-w", "-t", f"={name}:", option, value)


def _int(text: str) -> int | None:
    return int(text) if text.strip().lstrip("-").isdigit() else None
