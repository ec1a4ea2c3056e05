"""What every command shares: --json output, error reporting, the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from trails.ui.cli.framework import json_option

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine

__all__ = ["caller", "echo", "emit", "engine", "handle_errors", "json_option", "note"]


def engine() -> Engine:
    from trails.core.engine import Engine

    return Engine()


def caller() -> Caller:
    """Who the engine acts for: the user at this terminal, in this directory and environment."""
    import os

    from trails.api.caller import Caller, Trust

    return Caller(trust=Trust.USER, cwd=os.getcwd(), env=dict(os.environ))


def echo(text: str = "", *, nl: bool = True, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + ("\n" if nl else ""))
    stream.flush()


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    if as_json:
        echo(json.dumps(data, indent=2, default=str))
    else:
        human()


def note(message: str) -> None:
    echo(message, err=True)


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
