"""`trails host add|ls|rm|doctor`: remote machines reached over ssh (trails.core.hosts, trails.api.remote)."""

from __future__ import annotations

import os
import shlex
from typing import Any

from trails.core.errors import InvalidInput
from trails.ui.cli.common import echo, emit, json_option
from trails.ui.cli.framework import argument, command, option


@command(help="Remote hosts: add NAME SSH_TARGET, ls, rm NAME, doctor NAME (the host's trails, versions compared), "
              "map NAME PATH (this checkout is PATH on the host: `new --host` needs no --repo in it; "
              "unmap NAME forgets it).")
@argument("action", choices=["add", "ls", "rm", "doctor", "map", "unmap"])
@argument("name", nargs="?")
@argument("target", nargs="?", help="add: what ssh takes: user@host, an ~/.ssh/config alias, ssh://user@host:port. "
                                    "map: the checkout's path on the host (relative: to the remote home).")
@option("--local", help="map/unmap: the checkout here (default: the current directory's repository).")
@option("--home", help="add: the TRAILS_HOME on the host (default: the remote user's ~/.trails).")
@option("--command", dest="trails_command", help="add: the trails command on the host (default: trails).")
@option("--ssh-option", dest="ssh_options", action="append", default=[], help="add: KEY=VALUE for `ssh -o`.")
@json_option
def host(action: str, name: str | None, target: str | None, local: str | None, home: str | None,
         trails_command: str | None, ssh_options: list[str], as_json: bool) -> None:
    from trails.core import hosts

    if action == "ls":
        listed = hosts.load()
        def human() -> None:
            for key, entry in listed.items():
                echo(f"{key:16} {entry.target}" + (f"  (home {entry.home})" if entry.home else ""))
                for here, there in entry.repos.items():
                    echo(f"{'':16}   {here} -> {there}")
            if not listed:
                echo("no hosts (`trails host add NAME SSH_TARGET` adds one)")

        emit(as_json, {"hosts": {k: _plain(v) for k, v in listed.items()}}, human)
        return
    if name is None:
        raise InvalidInput(f"trails host {action}: NAME is missing", field="name")
    if action == "add":
        if target is None:
            raise InvalidInput("trails host add: SSH_TARGET is missing", field="target")
        entry = hosts.Host(target=target, home=home, ssh_options=ssh_options,
                           command=shlex.split(trails_command) if trails_command else ["trails"])
        hosts.check(name, entry)
        every = hosts.load()
        every[name] = entry
        hosts.save(every)
        emit(as_json, {"host": name, **_plain(entry)}, lambda: echo(f"added {name} ({target})"))
    elif action in ("map", "unmap"):
        _map(name, target, local, as_json, remove=action == "unmap")
    elif action == "rm":
        from trails.api.remote import close_master

        every = hosts.load()
        removed = hosts.get(name)
        del every[name]
        hosts.save(every)  # first: the trails server's follower of its events then lets it go
        close_master(name, removed)
        emit(as_json, {"host": name, "removed": True}, lambda: echo(f"removed {name}"))
    else:
        _doctor(name, as_json)


def _map(name: str, there: str | None, local: str | None, as_json: bool, *, remove: bool) -> None:
    from trails.core import hosts

    every = hosts.load()
    entry = hosts.get(name)
    here = os.path.realpath(local) if local else _checkout(os.getcwd())
    if remove:
        if entry.repos.pop(here, None) is None:
            raise InvalidInput(f"{here} is not mapped on {name}", field="local")
        every[name] = entry
        hosts.save(every)
        emit(as_json, {"host": name, "local": here, "removed": True}, lambda: echo(f"unmapped {here} on {name}"))
        return
    if there is None:
        raise InvalidInput("trails host map: the checkout's PATH on the host is missing", field="path")
    hosts.check_mapping(here, there)
    entry.repos[here] = there
    every[name] = entry
    hosts.save(every)
    emit(as_json, {"host": name, "local": here, "path": there}, lambda: echo(f"{here} is {there} on {name}"))


def _checkout(cwd: str) -> str:
    """The top of the git checkout holding `cwd` (the directory itself outside git): what `map` maps."""
    import subprocess

    found = subprocess.run(["git", "-C", cwd, "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                           check=False)
    return found.stdout.strip() if found.returncode == 0 and found.stdout.strip() else os.path.realpath(cwd)


def _plain(entry: Any) -> dict[str, Any]:
    import msgspec

    return msgspec.to_builtins(entry)  # type: ignore[no-any-return]


def _doctor(name: str, as_json: bool) -> None:
    from trails import __version__
    from trails.api import types as t
    from trails.api.remote import RemoteClient

    remote = RemoteClient(name)
    pong = remote.call(t.Ping())
    report = remote.call(t.Doctor())
    same = pong.version == __version__
    data = {"host": name, "target": remote.host.target, "local_version": __version__,
            "remote_version": pong.version, "same_version": same, "doctor": report}

    def human() -> None:
        echo(f"{name}: trails {pong.version} ({'same as here' if same else f'here: {__version__}'})")
        echo(f"  tmux: {report.tmux.version or 'missing'}, git: {report.git.version or 'missing'}, "
             f"home {report.trails_home}")
        for mode, info in report.modes.items():
            echo(f"  {mode + ':':10} {'yes' if info.available else f'no - {info.reason}'}")

    emit(as_json, data, human)
