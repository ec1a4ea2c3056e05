"""Tiny helpers to drive programs in tmux on a PRIVATE socket (never the user's default server)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def tmux(socket: Path, *args: str, check: bool = True) -> str:
    """Run ``tmux -S socket ARGS...`` and return its stdout."""
    proc = subprocess.run(["tmux", "-S", str(socket), *args], capture_output=True, text=True, check=False, timeout=15)
    if check and proc.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def new_session(
    socket: Path,
    name: str,
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    width: int = 120,
    height: int = 40,
) -> str:
    """Start ``command`` in a detached session; return the target (``name``).

    ``env`` entries are passed with ``-e`` so they reach the command even if a server already runs.
    """
    env_args: list[str] = []
    for key, value in (env or {}).items():
        env_args += ["-e", f"{key}={value}"]
    tmux(
        socket,
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        str(width),
        "-y",
        str(height),
        "-c",
        str(cwd),
        *env_args,
        *command,
    )
    # Keep the pane after the program exits so a crash stays visible in captures.
    tmux(socket, "set-option", "-t", name, "remain-on-exit", "on")
    return name


def capture(socket: Path, target: str) -> str:
    """The visible pane text (``tmux capture-pane -p``)."""
    return tmux(socket, "capture-pane", "-p", "-t", target)


def send_keys(socket: Path, target: str, *keys: str, literal: bool = False) -> None:
    """``tmux send-keys``; with ``literal`` the keys are typed as text (``-l``)."""
    tmux(socket, "send-keys", "-t", target, *(["-l"] if literal else []), *keys)


def type_text(socket: Path, target: str, text: str) -> None:
    """Type ``text`` literally (no Enter)."""
    send_keys(socket, target, text, literal=True)


def submit_text(socket: Path, target: str, text: str, echo: str = "", timeout: float = 30.0) -> None:
    """Type ``text``, wait until it is echoed (regex ``echo`` then its first 40 characters), press Enter."""
    type_text(socket, target, text)
    wait_for_screen(socket, target, echo + re.escape(text[:40]), timeout)
    send_keys(socket, target, "Enter")


def kill_server(socket: Path) -> None:
    """Kill the private tmux server (ignores 'no server running'), and what its panes' programs left
    running (Gemini CLI's relaunched process outlives the hang-up)."""
    from trails.infra.proc import end_processes, process_tree

    if socket.exists():
        panes = tmux(socket, "list-panes", "-a", "-F", "#{pane_pid}", check=False).split()
        trees = [process_tree(int(pid)) for pid in panes if pid.isdigit()]
        tmux(socket, "kill-server", check=False)
        for tree in trees:
            end_processes(tree)


def wait_for_screen(
    socket: Path, target: str, pattern: str | re.Pattern[str], timeout: float = 30.0, interval: float = 0.1
) -> str:
    """Poll ``capture-pane`` every ``interval`` s until ``pattern`` (regex) matches; return the screen.

    Raises ``TimeoutError`` with the last screen on timeout.
    """
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    screen = ""
    while True:
        screen = capture(socket, target)
        if regex.search(screen):
            return screen
        if time.monotonic() >= deadline:
            raise TimeoutError(f"pattern {regex.pattern!r} not on screen after {timeout}s; screen:\n{screen}")
        time.sleep(interval)


def wait_for_screen_gone(
    socket: Path, target: str, pattern: str | re.Pattern[str], timeout: float = 30.0, interval: float = 0.1
) -> str:
    """Poll until ``pattern`` no longer matches the screen; return the screen."""
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    deadline = time.monotonic() + timeout
    while True:
        screen = capture(socket, target)
        if not regex.search(screen):
            return screen
        if time.monotonic() >= deadline:
            raise TimeoutError(f"pattern {regex.pattern!r} still on screen after {timeout}s; screen:\n{screen}")
        time.sleep(interval)


def wait_for_stable(socket: Path, target: str, quiet: float = 0.5, timeout: float = 30.0, interval: float = 0.1) -> str:
    """Poll until the screen has not changed for ``quiet`` seconds; return it.

    TUIs often re-render (and reset menu selections) right after their first frame; waiting for a
    quiet screen before sending keys avoids keystrokes that get lost in that re-render.
    """
    deadline = time.monotonic() + timeout
    screen = capture(socket, target)
    changed = time.monotonic()
    while True:
        time.sleep(interval)
        now = time.monotonic()
        current = capture(socket, target)
        if current != screen:
            screen, changed = current, now
        elif now - changed >= quiet:
            return screen
        if now >= deadline:
            raise TimeoutError(f"screen did not settle within {timeout}s; last screen:\n{screen}")
