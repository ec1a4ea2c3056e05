"""Remote hosts (`trails host add/ls/rm`): the user's own list, `$TRAILS_HOME/hosts.json` (owner-only).

    {"hosts": {"build": {"target": "me@build.example", "home": null, "command": ["trails"],
                         "ssh_options": ["Port=2222"], "repos": {"/home/me/src/app": "src/app"}}}}

A host is a name, an SSH target (anything `ssh` takes: `user@host`, an alias from `~/.ssh/config`,
`ssh://user@host:port`), the remote TRAILS_HOME (default: the remote user's own), the trails command
there, extra `-o` options for ssh, and `repos`: this machine's checkouts (absolute paths) and the
host's checkout of each (relative to the remote home, or absolute), so `new --host` in a mapped
repository needs no `--repo`. It holds no secret: keys, agents and jump hosts stay OpenSSH's.
Only the user's home has hosts: a repository's `.trails/` never names one (what runs where, and as
whom, is the user's decision).
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from trails.core import paths
from trails.core.errors import ConfigError, HostNotFound, InvalidInput
from trails.core.userfiles import MiB

FILE_NAME = "hosts.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_OPTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*=[^\n\0]*$")


class Host(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    target: str
    home: str | None = None  # the remote TRAILS_HOME (None: the remote user's default, ~/.trails)
    command: list[str] = msgspec.field(default_factory=lambda: ["trails"])  # the trails command there
    ssh_options: list[str] = msgspec.field(default_factory=list)  # each passed as `-o OPTION`
    repos: dict[str, str] = msgspec.field(default_factory=dict)  # local checkout -> its checkout on the host


class HostsFile(msgspec.Struct, forbid_unknown_fields=True):
    hosts: dict[str, Host] = msgspec.field(default_factory=dict)


def hosts_path() -> Path:
    return paths.trails_home() / FILE_NAME


def load() -> dict[str, Host]:
    path = hosts_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise paths.unusable(exc, "read") from None
    if len(data) > MiB:
        raise ConfigError(f"{path}: larger than 1 MiB, which no hosts file is")
    try:
        return msgspec.json.decode(data, type=HostsFile).hosts
    except msgspec.DecodeError as exc:  # a ValidationError too: it names the key
        raise ConfigError(f"{path}: {exc}", hint="fix or remove the file; `trails host add` writes it") from None


def save(hosts: dict[str, Host]) -> None:
    text = msgspec.json.format(msgspec.json.encode(HostsFile(hosts=dict(sorted(hosts.items())))), indent=2)
    try:
        paths.write_private(hosts_path(), text.decode() + "\n")
    except OSError as exc:
        raise paths.unusable(exc, "write") from None


def get(name: str) -> Host:
    found = load().get(name)
    if found is None:
        raise HostNotFound(f"no host named {name!r}", hint="`trails host ls` lists them; `trails host add` adds one",
                           field="host")
    return found


def remote_repo(host: Host, cwd: str) -> str | None:
    """The host's checkout for directory `cwd` here: the mapping of the deepest mapped directory holding
    it, with the rest of `cwd`'s path below that; None when no mapped directory holds it."""
    here = Path(cwd)
    found = [Path(local) for local in host.repos if here == Path(local) or Path(local) in here.parents]
    if not found:
        return None
    local = max(found, key=lambda p: len(p.parts))
    rest = here.relative_to(local)
    there = host.repos[str(local)]
    return there if rest == Path() else str(Path(there) / rest)


def check_mapping(local: str, remote: str) -> None:
    if not local.startswith("/") or "\0" in local:
        raise InvalidInput(f"{local!r} is not an absolute path here", field="local")
    if not remote or "\0" in remote or "\n" in remote:
        raise InvalidInput(f"{remote!r} is not a path on the host", field="path")


def check(name: str, host: Host) -> None:
    """Refuse what ssh would misread: a name that is not a plain word, a target or option that is an option."""
    if not _NAME.match(name) or name == "local":
        raise InvalidInput(f"host name {name!r}: letters, digits, '.', '_' and '-' only (not 'local')", field="name")
    if not host.target or host.target.startswith("-") or any(c in host.target for c in "\0\n "):
        raise InvalidInput(f"SSH target {host.target!r} is not a host ssh can take (no leading '-', no spaces)",
                           field="target")
    for option in host.ssh_options:
        if not _OPTION.match(option):
            raise InvalidInput(f"ssh option {option!r} is not KEY=VALUE", field="ssh_option")
    if not host.command or any("\0" in word for word in host.command):
        raise InvalidInput("the trails command on the host is empty or holds a NUL character", field="command")
    if host.home is not None and ("\0" in host.home or not host.home):
        raise InvalidInput(f"remote home {host.home!r} is not a path", field="home")
