"""`trails run` (scripted multi-session runs from a YAML file) and `trails runs` (the run directories)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

from trails.api import types as t
from trails.ui.cli.common import client, echo, emit, json_option, note
from trails.ui.cli.framework import argument, command, existing_dir, flag, option, positive_int


def _session_line(label: str | None, d: dict[str, Any]) -> str:
    bits = [d["status"], f"{d['duration_s']:.1f}s"]
    if d.get("turns") is not None:
        bits.append(f"{d['turns']} turns")
    if d.get("cost_usd") is not None:
        bits.append(f"${d['cost_usd']:.4f}")
    bits.append(f"{d['files_changed']} files changed")
    return f"  {label}: " + ", ".join(bits) + (f" - {d['error']}" if d.get("error") else "")


def _progress(event: Any) -> None:
    """Plain lines, one per event: what a run prints when stderr is not a terminal."""
    d = event.detail
    if event.kind == "run_started":
        what = "resuming" if d["resumed"] else "running"
        already = f" ({d['done']} already done)" if d["done"] else ""
        note(f"{what} {d['planned']} session(s) into {d['out']}{already}")
    elif event.kind == "session_started":
        note(f"  {event.label}: started from {d['start_tag']}")
    elif event.kind == "session_finished":
        note(_session_line(event.label, d))
    elif event.kind == "run_finished":
        note(f"{d['status']}: {d['out']}")
    elif event.kind == "note":
        note(f"  {d['text']}")


class ProgressBar:
    """One self-redrawing line on a terminal: sessions done / running / failed, elapsed time, cost so far.

    Finished sessions still get their line, printed above the bar.
    """

    WIDTH = 24

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.planned = self.done = self.failed = 0
        self.running: set[str] = set()
        self.cost = 0.0
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, event: Any) -> None:
        d = event.detail
        with self._lock:
            if event.kind == "run_started":
                self.planned, self.done = d["planned"], d["done"]
                self.started = time.monotonic()
                self._line(f"{'resuming' if d['resumed'] else 'running'} {d['planned']} session(s) into {d['out']}")
                self._ticker = threading.Thread(target=self._tick, name="trails-progress", daemon=True)
                self._ticker.start()
            elif event.kind == "session_started":
                self.running.add(event.label)
            elif event.kind == "session_finished":
                self.running.discard(event.label)
                self.done += 1
                self.failed += d["status"] != "ok"
                self.cost += d.get("cost_usd") or 0
                self._line(_session_line(event.label, d))
            elif event.kind == "run_finished":
                self._stop.set()
                self._line(f"{d['status']}: {d['out']}")
                return
            elif event.kind == "note":
                self._line(f"  {d['text']}")
            self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                if not self._stop.is_set():
                    self._draw()

    def render(self) -> str:
        filled = int(self.WIDTH * self.done / self.planned) if self.planned else 0
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.started
        return (f"[{bar}] {self.done}/{self.planned} done · {len(self.running)} running · {self.failed} failed"
                f" · {elapsed:.0f}s · ${self.cost:.4f}")

    def _draw(self) -> None:
        self.stream.write("\r\x1b[2K" + self.render())
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write("\r\x1b[2K" + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(2)


@command(help="Run a YAML file of agent sessions (isolated, chained or forked) with shadow-git snapshots.")
@argument("run_file", nargs="?", type=Path)
@option("--out", type=Path, help="Run directory (default: runs/<name>-<time> next to the run file).")
@option("--parallel", type=positive_int, default=1, help="Sessions to run at once (default 1).")
@flag("--dry-run", help="Check the file and print the plan; run nothing.")
@option("--resume-run", type=existing_dir,
        help="Continue an interrupted run from its last completed session (on its Ray cluster, if it had one).")
@option("--ray", metavar="ADDRESS",
        help="Run the sessions as tasks on this Ray cluster ('auto': the local one; 'local': not on Ray).")
@option("--compare", nargs=2, type=existing_dir, metavar=("RUN_A", "RUN_B"),
        help="Print two run directories' sessions side by side; run nothing.")
@json_option
def run(run_file: Path | None, out: Path | None, parallel: int, dry_run: bool, resume_run: Path | None,
        ray: str | None, compare: list[Path] | None, as_json: bool) -> None:
    if compare:
        _compare(compare[0], compare[1], as_json)
        return
    bar = ProgressBar() if sys.stderr.isatty() and not dry_run else None
    on_event = bar or _progress

    def progress(item: t.Progress) -> None:
        if isinstance(item, t.RunProgress):
            on_event(item)
        elif isinstance(item, t.ProgressLine):  # what the run wrote to its stderr
            note(item.text)

    def path(value: Path | None) -> str | None:
        return None if value is None else str(value)

    request = t.Run(run_file=path(run_file), out=path(out), parallel=parallel, dry_run=dry_run,
                    resume_run=path(resume_run), ray_address=ray)
    try:
        summary = client().call(request, progress=progress)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        note("\ninterrupted: continue with  trails run --resume-run <run dir>")
        sys.exit(130)
    finally:
        if bar is not None:
            bar.close()

    def human() -> None:
        if summary.dry_run is True:
            echo(f"out: {summary.out}")
            plan: Any = summary.plan
            for s in plan["sessions"]:
                conv = s["conversation"]
                how = "fresh conversation" if conv is None else f"{'fork' if conv['fork'] else 'resume'} {conv['from']}"
                echo(f"{', '.join(s['labels'])}: files from {s['start_from']}, {how}, {' '.join(s['argv'])}")
            return
        totals = summary.totals
        assert isinstance(totals, t.RunTotals)
        echo(f"{summary.status}: {totals.ok}/{totals.planned} ok, "
             f"{totals.duration_s:.1f}s agent time, ${totals.cost_usd:.4f} -> {summary.out}")

    emit(as_json, summary, human)
    if summary.status == "completed_with_failures":
        sys.exit(1)


def _compare(a: Path, b: Path, as_json: bool) -> None:
    import msgspec

    runs: list[tuple[Path, dict[str, Any], dict[str, dict[str, Any]]]] = []
    for d in (a, b):
        detail = client().call(t.ShowRun(out=str(d)))
        runs.append((d, msgspec.to_builtins(detail.summary), detail.results))
    labels = sorted(set(runs[0][2]) | set(runs[1][2]))
    rows = []
    for label in labels:
        row: dict[str, Any] = {"label": label}
        for key, (_, _, results) in zip(("a", "b"), runs, strict=True):
            r = results.get(label)
            row[key] = None if r is None else {
                "status": r.get("status"), "duration_s": r.get("duration_s"), "cost_usd": r.get("cost_usd"),
                "files_changed": [f["path"] for f in r.get("files_changed") or []]}
        rows.append(row)
    data = {"a": {"out": str(a.resolve()), "status": runs[0][1].get("status"), "totals": runs[0][1].get("totals")},
            "b": {"out": str(b.resolve()), "status": runs[1][1].get("status"), "totals": runs[1][1].get("totals")},
            "sessions": rows}

    def cell(r: dict[str, Any] | None) -> str:
        if r is None:
            return "-"
        cost = "" if r["cost_usd"] is None else f" ${r['cost_usd']:.4f}"
        return f"{r['status']} {r['duration_s'] or 0:.1f}s{cost} {len(r['files_changed'])} files"

    def human() -> None:
        width = max([len(lbl) for lbl in labels] + [7])
        echo(f"{'session':<{width}}  {'A: ' + a.name:<36}  B: {b.name}")
        for row in rows:
            mark = "" if _same(row["a"], row["b"]) else "  *"
            echo(f"{row['label']:<{width}}  {cell(row['a']):<36}  {cell(row['b'])}{mark}")
        for key, (d, state, _) in zip(("A", "B"), runs, strict=True):
            t = state.get("totals") or {}
            echo(f"{key}: {state.get('status')}, {t.get('ok', 0)}/{t.get('planned', 0)} ok, "
                 f"{t.get('duration_s', 0):.1f}s, ${t.get('cost_usd', 0):.4f}  ({d})")

    emit(as_json, data, human)


def _same(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return False
    return bool(a["status"] == b["status"] and a["files_changed"] == b["files_changed"])


@command(help="List the run directories under DIR (default ./runs) with their status.")
@argument("directory", nargs="?", type=Path, default=Path("runs"))
@json_option
def runs(directory: Path, as_json: bool) -> None:
    listed = client().call(t.ListRuns(directory=str(directory)))
    rows = listed.runs

    def human() -> None:
        if not rows:
            echo(f"no runs under {directory}")
            return
        width = max(len(r.name) for r in rows)
        for r in rows:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)) if r.started_at else "?"
            tags = f"  [{', '.join(r.tags)}]" if r.tags else ""
            echo(f"{r.name:<{width}}  {r.status or '?':<24} {r.done}/{r.planned} done, "
                 f"{r.failed} failed, ${r.cost_usd:.4f}  {when}{tags}")
        for r in rows:
            if r.resume:
                echo(f"{r.name}: its trails process is gone; continue with  {r.resume}")

    emit(as_json, rows, human)
