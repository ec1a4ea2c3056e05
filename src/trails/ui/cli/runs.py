"""`trails run`: scripted multi-session runs from a YAML file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from trails.ui.cli.common import echo, emit, engine, json_option, note
from trails.ui.cli.framework import argument, command, existing_dir, flag, option, positive_int


def _progress(event: Any) -> None:
    d = event.detail
    if event.kind == "run_started":
        what = "resuming" if d["resumed"] else "running"
        already = f" ({d['done']} already done)" if d["done"] else ""
        note(f"{what} {d['planned']} session(s) into {d['out']}{already}")
    elif event.kind == "session_started":
        note(f"  {event.label}: started from {d['start_tag']}")
    elif event.kind == "session_finished":
        bits = [d["status"], f"{d['duration_s']:.1f}s"]
        if d.get("turns") is not None:
            bits.append(f"{d['turns']} turns")
        if d.get("cost_usd") is not None:
            bits.append(f"${d['cost_usd']:.4f}")
        bits.append(f"{d['files_changed']} files changed")
        note(f"  {event.label}: " + ", ".join(bits) + (f" - {d['error']}" if d.get("error") else ""))
    elif event.kind == "run_finished":
        note(f"{d['status']}: {d['out']}")


@command(help="Run a YAML file of agent sessions (isolated, chained or forked) with shadow-git snapshots.")
@argument("run_file", nargs="?", type=Path)
@option("--out", type=Path, help="Run directory (default: runs/<name>-<time> next to the run file).")
@option("--parallel", type=positive_int, default=1, help="Replicates to run at once (default 1).")
@flag("--dry-run", help="Check the file and print the plan; run nothing.")
@option("--resume-run", type=existing_dir, help="Continue an interrupted run from its last completed session.")
@json_option
def run(run_file: Path | None, out: Path | None, parallel: int, dry_run: bool, resume_run: Path | None,
        as_json: bool) -> None:
    try:
        summary = engine().run(run_file, out=out, parallel=parallel, dry_run=dry_run, resume_run=resume_run,
                               on_event=_progress)
    except KeyboardInterrupt:
        note("interrupted: continue with  trails run --resume-run <run dir>")
        sys.exit(130)

    def human() -> None:
        if summary.get("dry_run"):
            echo(f"out: {summary['out']}")
            for s in summary["plan"]["sessions"]:
                conv = s["conversation"]
                how = "fresh conversation" if conv is None else f"{'fork' if conv['fork'] else 'resume'} {conv['from']}"
                echo(f"{', '.join(s['labels'])}: files from {s['start_from']}, {how}, {' '.join(s['argv'])}")
            return
        totals = summary["totals"]
        echo(f"{summary['status']}: {totals['ok']}/{totals['planned']} ok, "
                   f"{totals['duration_s']:.1f}s agent time, ${totals['cost_usd']:.4f} -> {summary['out']}")

    emit(as_json, summary, human)
    if summary.get("status") == "completed_with_failures":
        sys.exit(1)
