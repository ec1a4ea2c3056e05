"""A run directory's status as it is now: run.json's, except that a `running` run whose driver is
gone (killed, crashed, its machine rebooted) is `interrupted`.

The driver holds an exclusive flock on `<out>/.run.lock` for as long as it runs the run; the kernel
drops it when the process dies however it dies, so a lock anyone can take means no driver. A run
directory from before the lock existed is judged by the driver's pid and process start time.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from trails.core.locks import held_elsewhere

LOCK_NAME = ".run.lock"
AGENTS_DIR = ".agents"


def current_status(out: Path, state: dict[str, Any]) -> str | None:
    status = state.get("status")
    if status == "running" and driver_gone(out, state):
        return "interrupted"
    return None if status is None else str(status)


def driver_gone(out: Path, state: dict[str, Any]) -> bool:
    """Whether no process runs this run any more (False when that cannot be told, e.g. another machine's)."""
    try:
        handle = open(out / LOCK_NAME)  # noqa: SIM115 - read-only: a shared lock is all a test needs
    except FileNotFoundError:
        return _pid_gone(state.get("driver"))
    except OSError:
        return False
    with handle:
        return not held_elsewhere(handle)


def _pid_gone(driver: Any) -> bool:
    from trails.infra.proc import pid_alive
    from trails.runs.session import process_start

    if not isinstance(driver, dict) or not isinstance(driver.get("pid"), int):
        return False
    if driver.get("host") != socket.gethostname():
        return False
    pid = driver["pid"]
    if not pid_alive(pid):
        return True
    started = process_start(pid)
    return bool(driver.get("process_start") and started and started != driver["process_start"])


def resume_hint(out: Path) -> str:
    return f"trails run --resume-run {out}"


def list_runs(directory: Path) -> list[dict[str, Any]]:
    """The run directories under `directory` (or `directory` itself when it is one), with their status now."""

    candidates = [directory] if (directory / "run.json").exists() else sorted(
        p for p in (directory.iterdir() if directory.is_dir() else []) if p.is_dir())
    rows = []
    for d in candidates:
        try:
            state = json.loads((d / "run.json").read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(state, dict):
            continue
        t = state.get("totals") or {}
        status = current_status(d, state)  # `running` whose driver is gone: `interrupted`
        rows.append({"out": str(d.resolve()), "name": d.name, "status": status,
                     "planned": t.get("planned", 0), "done": t.get("done", 0), "ok": t.get("ok", 0),
                     "failed": t.get("failed", 0), "cost_usd": t.get("cost_usd", 0),
                     "started_at": state.get("started_at"), "tags": state.get("tags") or [],
                     "hypothesis": state.get("hypothesis"), "backend": state.get("backend", "local"),
                     "resume": resume_hint(d.resolve()) if status == "interrupted" else None})
    return rows
