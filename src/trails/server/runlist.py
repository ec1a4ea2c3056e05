"""Run directories for front ends: list them, show one run's summary and results, read a session's file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from trails.api import types as t
from trails.api.caller import Caller
from trails.runs import listing

if TYPE_CHECKING:
    from trails.server.jobs import Job


def _path(caller: Caller, path: str) -> Path:
    return Path(caller.cwd, path)


def ops() -> dict[type[t.Request[Any]], Callable[[Any, Caller, Job], Any]]:
    return {t.ShowRun: show_run, t.ReadRunFile: read_file}


def show_run(req: t.ShowRun, caller: Caller, job: Job) -> t.RunDetail:
    run_dir = _path(caller, req.out)
    state = listing.must_read(run_dir)
    summary = msgspec.convert({**state, "out": str(run_dir.resolve())}, t.RunSummary)
    return t.RunDetail(summary=summary, results=listing.session_results(run_dir, state))


def read_file(req: t.ReadRunFile, caller: Caller, job: Job) -> t.RunFileText:
    run_dir = _path(caller, req.out)
    text, truncated = listing.session_file(run_dir, req.session, req.file)
    return t.RunFileText(out=str(run_dir.resolve()), session=req.session, file=req.file, text=text,
                         truncated=truncated)
