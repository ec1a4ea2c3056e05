"""Live-session commands: server (alias daemon), pause, resume, auto-yes, output (with --follow), events."""

from __future__ import annotations

import json

from trails.api import types as t
from trails.core.errors import InvalidInput
from trails.ui.cli.common import client, client_for, echo, emit, json_option, session_call
from trails.ui.cli.framework import argument, command, flag, option, positive_int

# `server --status` when none runs: the LSB status code ("program is not running"), as
# `systemctl status` gives, so scripts can test it without parsing the output.
NOT_RUNNING = 3


@command(help="Start this home's trails server (engine, supervisor, events; it keeps running in the background).")
@flag("--foreground", help="Run it in this process until interrupted.")
@flag("--stop", help="Stop the running server.")
@flag("--stdio", help="Relay one connection on stdin/stdout to this home's server (what remote hosts run over ssh).")
@flag("--status", dest="show_status",
      help="Say whether it runs, and where it listens (exit status 3 when it does not run).")
@json_option
def server(foreground: bool, stop: bool, stdio: bool, show_status: bool, as_json: bool) -> None:
    from trails.api.client import Client

    if stdio:
        from trails.api.remote import serve_stdio

        raise SystemExit(serve_stdio())
    if foreground:
        import os
        import sys

        os.execv(sys.executable, [sys.executable, "-m", "trails.server", "--foreground"])
    server_client = Client(local=False)  # about the real server, also under TRAILS_SERVER=off
    if stop:
        stopped = server_client.stop_server()
        emit(as_json, t.StopResult(stopped=stopped),
             lambda: echo("stopped" if stopped else "no trails server was running"))
        return
    info = server_client.status() if show_status else server_client.call(t.ServerStatusRequest(monitor=True))

    def human() -> None:
        if not info.running:
            echo("no trails server running")
            return
        watching = "watching sessions" if info.monitoring else "not watching sessions (TRAILS_SUPERVISOR=off)"
        echo(f"trails server running (pid {info.pid}) on {info.socket}, {watching}")

    emit(as_json, info, human)
    if show_status and not info.running:
        raise SystemExit(NOT_RUNNING)


@command(help="Pause a session: save its work and conversation, stop it, free its worktree (branch kept).")
@argument("name")
@json_option
def pause(name: str, as_json: bool) -> None:
    result = session_call(name, lambda n: t.Pause(name=n))

    def human() -> None:
        echo(f"paused {name}")
        for line in result.notes:
            echo(f"  {line}")

    emit(as_json, result, human)


@command(help="Resume a paused session: its worktree, its saved work and its agent's conversation.")
@argument("name")
@json_option
def resume(name: str, as_json: bool) -> None:
    result = session_call(name, lambda n: t.Resume(name=n))

    def human() -> None:
        echo(f"resumed {name}: {' '.join(result.command)}")
        for line in result.notes:
            echo(f"  {line}")

    emit(as_json, result, human)


@command(help="Let trails answer NAME's permission prompts (never those its guards refuse): on or off.")
@argument("name")
@argument("state", choices=["on", "off"])
@json_option
def auto_yes(name: str, state: str, as_json: bool) -> None:
    result = session_call(name, lambda n: t.AutoYes(name=n, on=state == "on"))
    emit(as_json, result, lambda: echo(f"auto-yes {state} for {name}"))


@command(help="Print the session's terminal output; --follow keeps streaming it until the session stops.")
@argument("name")
@option("--lines", type=positive_int, help="Only the last N lines.")
@flag("--follow", "-f", help="Keep printing new output as it is written.")
@flag("--raw", help="With --follow: the terminal bytes as written, escapes included.")
@json_option
def output(name: str, lines: int | None, follow: bool, raw: bool, as_json: bool) -> None:
    if not follow:
        if raw:
            raise InvalidInput("--raw needs --follow", field="raw")
        result = session_call(name, lambda n: t.Output(name=n, lines=lines))
        emit(as_json, result, lambda: echo(result.output))
        return
    on, there = client_for(name)  # a plain NAME is this machine's here: a stream is not looked for on hosts
    for chunk in on.follow_output(there, lines, raw=raw):
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
    import msgspec

    if follow:
        for event in client().subscribe(since=since, session=session):
            echo(msgspec.json.encode(event).decode())
        return
    listed = client().call(t.Events(session=session, since=since, limit=limit))

    def human() -> None:
        import datetime as dt

        for e in listed.events:
            when = dt.datetime.fromtimestamp(e.ts).strftime("%H:%M:%S")
            where = f"{e.host}:{e.session or ''}" if isinstance(e.host, str) else e.session or "-"
            echo(f"{e.id:>6} {when} {where:16} {e.kind:10} {json.dumps(e.data)}")

    emit(as_json, listed, human)
