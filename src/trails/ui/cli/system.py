"""System commands: doctor, audit."""

from __future__ import annotations

import datetime as dt
import json

from trails.api import types as t
from trails.ui.cli.common import client, echo, emit, json_option
from trails.ui.cli.framework import command, flag, option, positive_int


@command(help="What this machine offers trails, and the mode a session would get here.")
@flag("--check", help="List what trails made that no session accounts for (exit 1 when there is any).")
@flag("--repair", help="Remove what --check lists, saving first what it holds.")
@json_option
def doctor(check: bool, repair: bool, as_json: bool) -> int | None:
    if check or repair:
        return _orphans(repair, as_json)
    report = client().call(t.Doctor())

    def human() -> None:
        tmux, git = report.tmux, report.git
        echo(f"tmux:     {tmux.version or 'missing'} (socket {tmux.socket})")
        echo(f"git:      {git.version or 'missing'}")
        echo(f"repo:     {report.repo or '(not in a git repository)'}")
        nested = [k for k in ("container", "wsl", "ssh") if getattr(report.nested, k)]
        echo(f"nested:   {', '.join(nested) if nested else 'no'}")
        for mode, info in report.modes.items():
            state = "yes" if info.available else f"no - {info.reason}"
            echo(f"{mode + ':':9} {state}")
            if isinstance(info.how_to_enable, str):
                echo(f"          {info.how_to_enable}")
        pick = report.would_pick
        echo(f"would use: {pick.get('mode')} ({pick.get('reason')})" if "mode" in pick else f"would use: {pick}")

    emit(as_json, report, human)
    return None


def _orphans(repair: bool, as_json: bool) -> int:
    result = client().call(t.Orphans(repair=repair))

    def human() -> None:
        for done in result.repaired:
            saved = done.saved_ref or done.kept_at
            echo(f"removed  {done.removed}" + (f" (saved at {saved})" if saved else ""))
        for left in result.skipped:
            echo(f"left     {left.kind} {left.name}: {left.why}")
        for orphan in result.orphans:
            echo(f"orphan   {orphan.kind:9} {orphan.name}: {orphan.detail}")
        if not result.orphans:
            echo("no orphans: everything trails made belongs to a session")
        elif not repair:
            echo("`trails doctor --repair` removes them, saving first what they hold")

    emit(as_json, result, human)
    return 1 if result.orphans else 0


@command(help="The audit log: mode selections, created and ended sessions, automatic answers.")
@option("--session", help="Only this session's entries.")
@option("--limit", type=positive_int, help="Only the last N entries.")
@json_option
def audit(session: str | None, limit: int | None, as_json: bool) -> None:
    listed = client().call(t.Audit(session=session, limit=limit))

    def human() -> None:
        for e in listed.entries:
            when = dt.datetime.fromtimestamp(e.ts).strftime("%Y-%m-%d %H:%M:%S")
            echo(f"{when}  {e.session_name or '-':20} {e.action:18} {json.dumps(e.detail)}")

    emit(as_json, listed, human)
