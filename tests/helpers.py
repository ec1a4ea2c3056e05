"""Shared test helpers: run the real CLI, wait on conditions, make git repos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, Any]:
        return json.loads(self.stderr)["error"]  # type: ignore[no-any-return]


def trails(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
           timeout: float = 60) -> CliResult:
    """Run the real `trails` CLI in a subprocess (python -m trails)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    cp = subprocess.run(
        [sys.executable, "-m", "trails", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    return CliResult(cp.returncode, cp.stdout, cp.stderr)


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
        time.sleep(interval)
        last = condition()
    return last


def git(repo: Path | str, *args: str) -> str:
    cp = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return cp.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in (files or {"README.md": "hello\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def tmux_capture(socket: Path, target: str) -> str:
    cp = subprocess.run(["tmux", "-S", str(socket), "capture-pane", "-p", "-t", f"={target}:"],
                        capture_output=True, text=True, check=False)
    return cp.stdout
