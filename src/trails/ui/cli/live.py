"""Live-session commands: daemon, pause, resume, auto-yes, output (with --follow), events."""

from __future__ import annotations

import json

from trails.core.errors import InvalidInput
from trails.ui.cli.common import caller, echo, emit, engine, json_option
from trails.ui.cli.framework import argument, command, flag, option, positive_int

# `daemon --status` when no supervisor runs: the LSB status code ("program is not running"), as
# `systemctl status` gives, so scripts can test it without parsing the output.
NOT_RUNNING = 3


@command(help="Start the supervisor that watches sessions (it keeps running in the background).")
@flag("--foreground", help="Run it in this process until interrupted.")
@flag("--stop", help="Stop the running supervisor.")
@flag("--status", dest="show_status",
      help="Say whether it runs, and where it publishes events (exit status 3 when it does not run).")
@json_option
def daemon(foreground: bool, stop: bool, show_status: bool, as_json: bool) -> None:
    eng = engine()
    if foreground:
        from trails.monitor.daemon import serve

        raise SystemExit(serve(eng.home))
    if stop:
        stopped = eng.stop_supervisor()
        emit(as_json, {"stopped": stopped}, lambda: echo("stopped" if stopped else "no supervisor was running"))
        return
    if not show_status:
        eng.ensure_supervisor()
    info = eng.supervisor_status()
    emit(as_json, info, lambda: echo(
        f"supervisor running (pid {info['pid']}), events on {info['socket']}" if info["running"]
        else "no supervisor running"))
    if show_status and not info["running"]:
        raise SystemExit(NOT_RUNNING)


@command(help="Pause a session: save its work and conversation, stop it, free its worktree (branch kept).")
@argument("name")
@json_option
def pause(name: str, as_json: bool) -> None:
    result = engine().pause(name, caller=caller())

    def human() -> None:
        echo(f"paused {name}")
        for line in result["notes"]:
            echo(f"  {line}")

    emit(as_json, result, human)


@command(help="Resume a paused session: its worktree, its saved work and its agent's conversation.")
@argument("name")
@json_option
def resume(name: str, as_json: bool) -> None:
    eng = engine()
    eng.ensure_supervisor()
    result = eng.resume(name, caller=caller())

    def human() -> None:
        echo(f"resumed {name}: {' '.join(result['command'])}")
        for line in result["notes"]:
            echo(f"  {line}")

    emit(as_json, result, human)


@command(help="Let trails answer NAME's permission prompts (never those its guards refuse): on or off.")
@argument("name")
@argument("state", choices=["on", "off"])
@json_option
def auto_yes(name: str, state: str, as_json: bool) -> None:
    eng = engine()
    session = eng.set_auto_yes(name, state == "on", caller=caller())
    if session.auto_yes:
        eng.ensure_supervisor()
    emit(as_json, {"session": name, "auto_yes": session.auto_yes}, lambda: echo(f"auto-yes {state} for {name}"))


@command(help="Print the session's terminal output; --follow keeps streaming it until the session stops.")
@argument("name")
@option("--lines", type=positive_int, help="Only the last N lines.")
@flag("--follow", "-f", help="Keep printing new output as it is written.")
@flag("--raw", help="With --follow: the terminal bytes as written, escapes included.")
@json_option
def output(name: str, lines: int | None, follow: bool, raw: bool, as_json: bool) -> None:
    eng = engine()
    if not follow:
        if raw:
            raise InvalidInput("--raw needs --follow")
        text = eng.output(name, lines, caller=caller())
        emit(as_json, {"session": name, "output": text}, lambda: echo(text))
        return
    for chunk in eng.follow_output(name, lines or 20, raw=raw):
        if as_json:
            echo(json.dumps({"session": name, "output": chunk}))
        else:
            echo(chunk, nl=False)


@command(help="Status changes, automatic answers and refusals; --follow streams them as JSON lines.")
@option("--session", help="Only this session's events.")
@option("--since", type=int, help="Only events after this id.")
@option("--limit", type=positive_int, help="Only the last N events.")
@flag("--follow", "-f", help="Keep streaming new events.")
@json_option
def events(session: str | None, since: int | None, limit: int | None, follow: bool, as_json: bool) -> None:
    eng = engine()
    if follow:
        for event in eng.subscribe_events(since=since):
            if session is None or event.get("session") == session:
                echo(json.dumps(event))
        return
    items = eng.events(session=session, since=since, limit=limit)

    def human() -> None:
        import datetime as dt

        for e in items:
            when = dt.datetime.fromtimestamp(e["ts"]).strftime("%H:%M:%S")
            echo(f"{e['id']:>6} {when} {e['session'] or '-':16} {e['kind']:10} {json.dumps(e['data'])}")

    emit(as_json, {"events": items}, human)
