"""The `trails` command. Each command group lives in its own module, imported only when used.

Commands are plain functions declared with trails.ui.cli.framework (@command, @argument, @option,
@flag, json_option) over argparse; register each in COMMANDS below.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from trails.ui.cli.common import handle_errors

# command → (module, function). Only the module of the command being run is imported.
COMMANDS: dict[str, tuple[str, str]] = {
    "new": ("trails.ui.cli.sessions", "new"),
    "ls": ("trails.ui.cli.sessions", "ls"),
    "show": ("trails.ui.cli.sessions", "show"),
    "attach": ("trails.ui.cli.sessions", "attach"),
    "send": ("trails.ui.cli.sessions", "send"),
    "output": ("trails.ui.cli.live", "output"),
    "diff": ("trails.ui.cli.sessions", "diff"),
    "kill": ("trails.ui.cli.sessions", "kill"),
    "merge": ("trails.ui.cli.lifecycle", "merge"),
    "rebase": ("trails.ui.cli.lifecycle", "rebase"),
    "pr": ("trails.ui.cli.lifecycle", "pr"),
    "server": ("trails.ui.cli.live", "server"),
    "pause": ("trails.ui.cli.live", "pause"),
    "resume": ("trails.ui.cli.live", "resume"),
    "auto-yes": ("trails.ui.cli.live", "auto_yes"),
    "events": ("trails.ui.cli.live", "events"),
    "doctor": ("trails.ui.cli.system", "doctor"),
    "audit": ("trails.ui.cli.system", "audit"),
    "trust": ("trails.ui.cli.trust", "trust"),
    "host": ("trails.ui.cli.hosts", "host"),
    "run": ("trails.ui.cli.runs", "run"),
    "runs": ("trails.ui.cli.runs", "runs"),
    "tui": ("trails.ui.cli.tui", "tui"),
    "web": ("trails.ui.cli.web", "web"),
    "mcp": ("trails.ui.cli.mcp", "mcp"),
    "upgrade-session": ("trails.ui.cli.moves", "upgrade_session"),
    "export-session": ("trails.ui.cli.moves", "export_session"),
}
ALIASES: dict[str, list[str]] = {"new": ["create-session"], "ls": ["list"], "server": ["daemon"]}


def _canonical(word: str) -> str | None:
    if word in COMMANDS:
        return word
    return next((name for name, alias in ALIASES.items() if word in alias), None)


_PARSERS: dict[str | None, Any] = {}


def build_parser(only: str | None = None) -> Any:
    """The parser for one command (or all). Built once per process; the warm server builds them all."""
    if only in _PARSERS:
        return _PARSERS[only]
    from trails import __version__
    from trails.ui.cli.framework import Parser, add_command

    parser = Parser(prog="trails", description="Run many AI coding agents at once, each isolated, "
                                                "all steered from one place.")
    parser.add_argument("--version", action="version", version=f"trails {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in [only] if only else sorted(COMMANDS):
        module, attr = COMMANDS[name]
        add_command(subparsers, name, getattr(importlib.import_module(module), attr), ALIASES.get(name, []))
    _PARSERS[only] = parser
    return parser


def main(argv: list[str] | None = None) -> Any:
    args = list(sys.argv[1:] if argv is None else argv)
    options = args[:args.index("--")] if "--" in args else args  # after '--' even "--json" is text
    with handle_errors(json_output="--json" in options):
        from trails.ui.cli.framework import call

        first = next((a for a in args if not a.startswith("-")), None)
        # A known command needs only its own module; anything else (help, typos) gets the full list.
        parser = build_parser(only=_canonical(first) if first else None)
        if not args:
            # `trails` alone opens the dashboard on a terminal; piped or scripted, it prints the help.
            if sys.stdout.isatty() and sys.stdin.isatty():
                return call(build_parser(only="tui").parse_args(["tui"]))
            parser.print_help()
            return 0
        namespace = parser.parse_args(args)
        if getattr(namespace, "_func", None) is None:
            parser.print_help()
            return 0
        return call(namespace)
