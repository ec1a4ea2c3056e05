"""System commands: doctor, audit."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from trails.ui.cli.common import emit, engine, json_option


@click.command(help="What this machine offers trails, and the mode a session would get here.")
@json_option
def doctor(as_json: bool) -> None:
    from trails.core.doctor import diagnose

    report = diagnose(engine(), Path.cwd())

    def human() -> None:
        t, g = report["tmux"], report["git"]
        click.echo(f"tmux:     {t['version'] or 'missing'} (socket {t['socket']})")
        click.echo(f"git:      {g['version'] or 'missing'}")
        click.echo(f"repo:     {report['repo'] or '(not in a git repository)'}")
        nested = [k for k, v in report["nested"].items() if v]
        click.echo(f"nested:   {', '.join(nested) if nested else 'no'}")
        for mode, info in report["modes"].items():
            state = "yes" if info["available"] else f"no - {info['reason']}"
            click.echo(f"{mode + ':':9} {state}")
            if info.get("how_to_enable"):
                click.echo(f"          {info['how_to_enable']}")
        pick = report["would_pick"]
        click.echo(f"would use: {pick.get('mode')} ({pick.get('reason')})" if "mode" in pick else f"would use: {pick}")

    emit(as_json, report, human)


@click.command(help="The audit log: mode selections, created and ended sessions, automatic answers.")
@click.option("--session", help="Only this session's entries.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N entries.")
@json_option
def audit(session: str | None, limit: int | None, as_json: bool) -> None:
    entries = engine().audit_log(session, limit)

    def human() -> None:
        for e in entries:
            when = dt.datetime.fromtimestamp(e["ts"]).strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{when}  {e['session_name'] or '-':20} {e['action']:18} {json.dumps(e['detail'])}")

    emit(as_json, {"entries": entries}, human)
