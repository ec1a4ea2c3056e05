"""The `trails` command: one lazy click group; each command group lives in its own module."""

from __future__ import annotations

import sys
from typing import Any

import click

from trails.ui.cli.common import handle_errors

# name → "module:attribute". Modules load only when their command runs, so `trails ls` starts fast.
COMMANDS: dict[str, str] = {
    "new": "trails.ui.cli.sessions:new",
    "create-session": "trails.ui.cli.sessions:new",
    "ls": "trails.ui.cli.sessions:ls",
    "list": "trails.ui.cli.sessions:ls",
    "show": "trails.ui.cli.sessions:show",
    "attach": "trails.ui.cli.sessions:attach",
    "send": "trails.ui.cli.sessions:send",
    "output": "trails.ui.cli.sessions:output",
    "diff": "trails.ui.cli.sessions:diff",
    "kill": "trails.ui.cli.sessions:kill",
    "doctor": "trails.ui.cli.system:doctor",
    "audit": "trails.ui.cli.system:audit",
}
ALIASES = {"create-session": "new", "list": "ls"}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        import importlib

        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trails")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run many AI coding agents at once, each isolated, all steered from one place."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def main(argv: list[str] | None = None) -> Any:
    with handle_errors(json_output="--json" in (argv if argv is not None else sys.argv[1:])):
        return cli.main(args=argv, prog_name="trails", standalone_mode=False)
