"""What every command shares: --json output, error reporting, the engine."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from trails.core.engine import Engine

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def engine() -> Engine:
    from trails.core.engine import Engine

    return Engine()


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        human()


def note(message: str) -> None:
    click.echo(message, err=True)


@contextmanager
def handle_errors(json_output: bool) -> Iterator[None]:
    from trails.core.errors import TrailsError

    try:
        yield
    except TrailsError as exc:
        if json_output:
            click.echo(json.dumps({"error": exc.to_dict()}), err=True)
        else:
            click.echo(f"trails: error: {exc.message}", err=True)
            if exc.hint:
                click.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        if json_output:
            click.echo(json.dumps({"error": {"code": "usage", "message": exc.format_message()}}), err=True)
        else:
            exc.show()
        sys.exit(exc.exit_code)
