"""What every command shares: --json output, error reporting, the client of this home's server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from trails.ui.cli.framework import json_option

if TYPE_CHECKING:
    from trails.api.client import Client
    from trails.api.types import Progress, Request

T = TypeVar("T")

__all__ = ["client", "client_for", "echo", "emit", "handle_errors", "json_option", "note", "print_progress",
           "session_call"]


def client() -> Client:
    from trails.api.client import Client

    return Client()


def client_for(name: str) -> tuple[Client, str]:
    """The client serving session `name` (`HOST:NAME` for one on a remote host) and its name there."""
    if ":" not in name:
        return client(), name
    from trails.api.remote import client_for as remote_client_for

    return remote_client_for(name)


def session_call(name: str, build: Callable[[str], Request[T]], **kwargs: Any) -> T:
    """Send `build(session's name there)` to whichever machine has session `name`: `HOST:NAME` names
    one on a host; a plain NAME is this machine's, or, when none here has it, the one host's that does."""
    from trails.core.errors import SessionNotFound

    if ":" in name:
        on, bare = client_for(name)
        return on.call(build(bare), **kwargs)
    try:
        return client().call(build(name), **kwargs)
    except SessionNotFound:
        found = _hosts_with(name)
        if len(found) != 1:
            if len(found) > 1:
                from trails.core.errors import InvalidInput

                choices = " or ".join(f"{host}:{name}" for host in found)
                raise InvalidInput(f"{name!r} is a session on more than one host: say which, {choices}",
                                   hint=f"`trails ls` lists them; {name!r} alone names this machine's, when it has one",
                                   field="name") from None
            raise
    from trails.api.remote import RemoteClient

    return RemoteClient(found[0]).call(build(name), **kwargs)


def _hosts_with(name: str) -> list[str]:
    """The configured hosts that have a live session `name`, as this home's server finds them (over the
    connections it keeps to each; unreachable ones are not waited for)."""
    from trails.api.types import ListSessions

    listed = client().call(ListSessions(hosts=True))
    found = listed.hosts if isinstance(listed.hosts, dict) else {}
    return [host for host, there in found.items() if any(s.name == name for s in there.sessions)]


def echo(text: str = "", *, nl: bool = True, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + ("\n" if nl else ""))
    stream.flush()


def emit(as_json: bool, data: object, human: Callable[[], None]) -> None:
    """`data` (an API result, or plain JSON data) as JSON with --json, else the human form."""
    if as_json:
        import msgspec

        echo(msgspec.json.format(msgspec.json.encode(data), indent=2).decode())
    else:
        human()


def note(message: str) -> None:
    echo(message, err=True)


def print_progress(item: Progress) -> None:
    """A long operation's progress lines (an image build, a hook) on stderr, as they come."""
    text = getattr(item, "text", None)
    if text is not None:
        note(text)


@contextmanager
def handle_errors(json_output: bool) -> Iterator[None]:
    from trails.core.errors import TrailsError

    try:
        yield
    except TrailsError as exc:
        if json_output:
            echo(json.dumps({"error": exc.to_dict()}), err=True)
        else:
            echo(f"trails: error: {exc.message}", err=True)
            if exc.hint:
                echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
