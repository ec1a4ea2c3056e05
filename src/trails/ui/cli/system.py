"""System commands: doctor, audit."""

from __future__ import annotations

import datetime as dt
import json

from trails.ui.cli.common import caller, echo, emit, engine, json_option
from trails.ui.cli.framework import command, option, positive_int


@command(help="What this machine offers trails, and the mode a session would get here.")
@json_option
def doctor(as_json: bool) -> None:
    from trails.core.doctor import diagnose

    report = diagnose(engine(), caller=caller())

    def human() -> None:
        t, g = report["tmux"], report["git"]
        echo(f"tmux:     {t['version'] or 'missing'} (socket {t['socket']})")
        echo(f"git:      {g['version'] or 'missing'}")
        echo(f"repo:     {report['repo'] or '(not in a git repository)'}")
        nested = [k for k, v in report["nested"].items() if v]
        echo(f"nested:   {', '.join(nested) if nested else 'no'}")
        for mode, info in report["modes"].items():
            state = "yes" if info["available"] else f"no - {info['reason']}"
            echo(f"{mode + ':':9} {state}")
            if info.get("how_to_enable"):
                echo(f"          {info['how_to_enable']}")
        pick = report["would_pick"]
        echo(f"would use: {pick.get('mode')} ({pick.get('reason')})" if "mode" in pick else f"would use: {pick}")

    emit(as_json, report, human)


@command(help="The audit log: mode selections, created and ended sessions, automatic answers.")
@option("--session", help="Only this session's entries.")
@option("--limit", type=positive_int, help="Only the last N entries.")
@json_option
def audit(session: str | None, limit: int | None, as_json: bool) -> None:
    entries = engine().audit_log(session, limit, caller=caller())

    def human() -> None:
        for e in entries:
            when = dt.datetime.fromtimestamp(e["ts"]).strftime("%Y-%m-%d %H:%M:%S")
            echo(f"{when}  {e['session_name'] or '-':20} {e['action']:18} {json.dumps(e['detail'])}")

    emit(as_json, {"entries": entries}, human)
