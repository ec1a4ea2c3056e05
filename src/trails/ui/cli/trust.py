"""trails trust: which repositories may run the agent profiles their own settings define."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from trails.ui.cli.common import caller, echo, emit, engine, json_option, note
from trails.ui.cli.framework import UsageError, argument, command, flag


@command(help="Trust a repository (default: the current one) to run the agents its .trails/settings.json "
              "defines, as the file is now; a change to it needs trust again.")
@argument("path", nargs="?", help="A directory in the repository (default: the current directory).")
@flag("--revoke", help="Stop trusting the repository.")
@flag("--list", dest="list_all", help="List the trusted repositories and whether each trust still holds.")
@json_option
def trust(path: str | None, revoke: bool, list_all: bool, as_json: bool) -> None:
    eng = engine()
    if list_all:
        if path is not None or revoke:
            raise UsageError("trails trust: --list takes no PATH and no --revoke")
        records = eng.trusted_repositories(caller=caller())

        def listing() -> None:
            for r in records:
                when = dt.datetime.fromtimestamp(r["trusted_at"]).strftime("%Y-%m-%d %H:%M")
                echo(f"{r['state']:10} {when}  {r['root']}")

        emit(as_json, {"repositories": records}, listing)
        return
    result = eng.trust_repository(Path(path or "."), revoke=revoke, caller=caller())

    def human() -> None:
        if revoke:
            echo(f"no longer trusted: {result['root']}" if result["was_trusted"]
                 else f"{result['root']} was not trusted")
            return
        for item in result["ignored"]:
            note(f"note: ignored {item['key']}={item['value']!r}: {item['why']}")
        echo(f"trusted {result['root']} ({result['digest'][:19]}…)")
        for name, command_line in result["agents"].items():
            echo(f"  may run agent {name}: {command_line}")

    emit(as_json, result, human)
