"""A run directory as front ends show it: run.json, each session's result.json, and the few files a
session leaves that a person reads (prompt, diff, transcript, logs). Listing them: runs/status.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from trails.core.errors import InvalidInput, RunError
from trails.core.userfiles import read_json_object
from trails.runs.status import current_status

# What a session directory holds that a front end may show (runs/session.py writes them).
SESSION_FILES = ("prompt.txt", "result.json", "agent_result.json", "agent_stderr.txt", "transcript.jsonl",
                 "transcript.txt", "trajectory.json", "session_diff.patch", "commands.log", "api_captures.jsonl")
MAX_TEXT = 4 << 20


def read_run(run_dir: Path) -> dict[str, Any] | None:
    """The run's run.json, None when the directory holds none that reads."""
    return read_json_object(run_dir / "run.json")


def must_read(run_dir: Path) -> dict[str, Any]:
    """run.json, its status as it is now (a `running` run whose driver is gone is `interrupted`)."""
    state = read_run(run_dir)
    if state is None:
        raise RunError(f"{run_dir} is not a run directory (no readable run.json)")
    status = current_status(run_dir, state)
    return state if status is None else {**state, "status": status}


def session_results(run_dir: Path, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each session's result.json by label (what run.json says of it where that is missing)."""
    out = {}
    for label in state.get("sessions") or {}:
        try:
            out[label] = json.loads((run_dir / label / "result.json").read_text())
        except (OSError, ValueError):
            out[label] = dict(state["sessions"][label], files_changed=[])
    return out


def session_file(run_dir: Path, label: str, name: str) -> tuple[str, bool]:
    """(the start of one of a session's files, whether it is longer): a session run.json names, a file
    of SESSION_FILES, nothing else."""
    state = must_read(run_dir)
    if label not in (state.get("sessions") or {}):
        raise InvalidInput(f"run {run_dir.name} has no session {label!r}", field="session")
    if name not in SESSION_FILES:
        raise InvalidInput(f"{name!r} is not a session file: choose one of {', '.join(SESSION_FILES)}", field="file")
    path = run_dir / label / name
    if path.is_symlink() or not path.is_file():
        raise InvalidInput(f"session {label} has no {name}", field="file")
    with open(path, "rb") as handle:
        data = handle.read(MAX_TEXT + 1)
    return data[:MAX_TEXT].decode("utf-8", errors="replace"), len(data) > MAX_TEXT
