"""trails trust: which repositories may run the agent profiles their own settings define."""

from __future__ import annotations

import datetime as dt

from msgspec import UnsetType

from trails.api import types as t
from trails.ui.cli.common import client, echo, emit, json_option, note
from trails.ui.cli.framework import UsageError, argument, command, flag


@command(help="Trust a repository (default: the current one) to run the agents its .trails/settings.json "
              "defines, as the file is now; a change to it needs trust again.")
@argument("path", nargs="?", help="A directory in the repository (default: the current directory).")
@flag("--revoke", help="Stop trusting the repository.")
@flag("--list", dest="list_all", help="List the trusted repositories and whether each trust still holds.")
@json_option
def trust(path: str | None, revoke: bool, list_all: bool, as_json: bool) -> None:
    if list_all:
        if path is not None or revoke:
            raise UsageError("trails trust: --list takes no PATH and no --revoke")
        listed = client().call(t.ListTrusted())

        def listing() -> None:
            for r in listed.repositories:
                when = dt.datetime.fromtimestamp(r.trusted_at).strftime("%Y-%m-%d %H:%M")
                echo(f"{r.state:10} {when}  {r.root}")

        emit(as_json, listed, listing)
        return
    result = client().call(t.TrustRepository(path=path or ".", revoke=revoke))

    def human() -> None:
        if revoke:
            echo(f"no longer trusted: {result.root}" if result.was_trusted is True
                 else f"{result.root} was not trusted")
            return
        for item in [] if isinstance(result.ignored, UnsetType) else result.ignored:
            note(f"note: ignored {item.key}={item.value!r}: {item.why}")
        digest = "" if isinstance(result.digest, UnsetType) else result.digest
        echo(f"trusted {result.root} ({digest[:19]}…)")
        for name, command_line in ({} if isinstance(result.agents, UnsetType) else result.agents).items():
            echo(f"  may run agent {name}: {command_line}")

    emit(as_json, result, human)
