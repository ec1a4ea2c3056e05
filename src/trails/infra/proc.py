"""Running external programs: argument lists only, never a shell."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    unset: Sequence[str] = (),
    input: str | None = None,
    stdin: IO[bytes] | None = None,
    timeout: float | None = 60,
    inherit: bool = True,
) -> Result:
    """Run argv and capture its output; never raises for a non-zero exit (callers decide).

    `env` is added to this process's environment, after the variables named in `unset` are dropped;
    with `inherit=False`, `env` is the whole environment (someone else's, such as a caller's).
    """
    full_env = _environment(env, unset) if inherit else dict(env or {})
    try:
        cp = subprocess.run(
            list(argv), cwd=cwd, env=full_env, input=input, stdin=stdin, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
    except FileNotFoundError:
        return Result(tuple(argv), 127, "", f"{argv[0]}: command not found")
    return Result(tuple(argv), cp.returncode, cp.stdout, cp.stderr)


def read_output(argv: Sequence[str], *, limit: int, env: Mapping[str, str] | None = None,
                unset: Sequence[str] = (), timeout: float = 60) -> tuple[int, bytes, bool]:
    """Run argv and return (exit status, at most `limit` bytes of its output, whether there was more),
    the bytes as they are: for a file's content, which need not be text nor fit in memory."""
    full_env = _environment(env, unset)
    try:
        popen = subprocess.Popen(list(argv), env=full_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        return 127, b"", False
    assert popen.stdout is not None
    with popen:
        data = popen.stdout.read(limit + 1)
        more = len(data) > limit
        if more:
            popen.kill()  # the rest is not wanted; reading it would only cost time
        try:
            code = popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            code = popen.wait()
    return (0 if more else code), data[:limit], more


class Pending:
    """A program started with `start`, running while the caller does other work."""

    def __init__(self, argv: Sequence[str], popen: subprocess.Popen[str]) -> None:
        self.argv = tuple(argv)
        self._popen = popen
        self._result: Result | None = None

    def wait(self, timeout: float | None = 60) -> Result:
        """The program's Result (waiting for it the first time; later calls return the same)."""
        if self._result is None:
            out, err = self._popen.communicate(timeout=timeout)
            self._result = Result(self.argv, self._popen.returncode, out, err)
        return self._result


def _environment(env: Mapping[str, str] | None, unset: Sequence[str]) -> dict[str, str] | None:
    if env is None and not unset:
        return None
    full_env = {k: v for k, v in os.environ.items() if k not in unset}
    full_env.update(env or {})
    return full_env


def start(argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None,
          env: Mapping[str, str] | None = None, unset: Sequence[str] = ()) -> Pending:
    """Start argv without waiting for it (output captured); `.wait()` gives the Result."""
    full_env = _environment(env, unset)
    popen = subprocess.Popen(list(argv), cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True)
    return Pending(argv, popen)


# --- process trees (Linux /proc) ----------------------------------------------------------------------

def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, parent pid, CPU ticks, start time) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": comm may hold spaces
    return fields[0], int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[19])


def process_tree(root: int) -> dict[int, tuple[str, int, int, int]]:
    """`root` and every descendant, with their /proc stat fields (one scan of /proc)."""
    every: dict[int, tuple[str, int, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := proc_stat(int(entry))) is not None:
            every[int(entry)] = st
    children: dict[int, list[int]] = {}
    for pid, st in every.items():
        children.setdefault(st[1], []).append(pid)
    tree: dict[int, tuple[str, int, int, int]] = {}
    frontier = [root] if root in every else []
    while frontier:
        pid = frontier.pop()
        if pid not in tree:
            tree[pid] = every[pid]
            frontier += children.get(pid, [])
    return tree


def end_processes(tree: Mapping[int, tuple[str, int, int, int]], *, settle: float = 1.0, grace: float = 2.0) -> int:
    """End what is left of `tree` (from process_tree): each process still the same one (its start time)
    gets `settle` seconds to go by itself, then SIGTERM, then SIGKILL after `grace`. The number that
    had to be signalled. A terminal's close (SIGHUP) does not end everything: an agent that relaunched
    itself in the background (Gemini CLI) lived on, an orphan, after its tmux session was gone."""
    def left() -> list[int]:
        return [pid for pid, st in tree.items() if (now := proc_stat(pid)) is not None and now[3] == st[3]
                and now[0] != "Z"]

    signalled = 0
    for sig, wait in ((None, settle), (signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        if sig is not None:
            pids = left()
            signalled = max(signalled, len(pids))
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while left() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not left():
            break
    return signalled
