"""A small declarative layer over argparse: commands are functions with decorators.

argparse rather than a third-party CLI library because start-up time is a feature here
(`trails ls` and `trails new` run in scripts and loops), and argparse imports in a few ms.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from trails.core.errors import InvalidInput

F = TypeVar("F", bound=Callable[..., Any])


class UsageError(InvalidInput):
    code = "usage"


@dataclass
class CommandSpec:
    func: Callable[..., Any]
    help: str
    params: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)


def command(help: str) -> Callable[[F], F]:
    """Mark a function as a command; its parameters come from @argument/@option below it."""

    def wrap(func: F) -> F:
        spec = _spec(func)
        spec.help = help
        return func

    return wrap


def _spec(func: Callable[..., Any]) -> CommandSpec:
    spec: CommandSpec | None = getattr(func, "__trails_command__", None)
    if spec is None:
        spec = CommandSpec(func, "")
        func.__trails_command__ = spec  # type: ignore[attr-defined]
    return spec


def argument(name: str, **kwargs: Any) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        _spec(func).params.insert(0, ((name,), kwargs))
        return func

    return wrap


def option(*flags: str, **kwargs: Any) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        _spec(func).params.insert(0, (flags, kwargs))
        return func

    return wrap


def flag(*flags: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    return option(*flags, action="store_true", help=help, **kwargs)


json_option = option("--json", dest="as_json", action="store_true", help="Print machine-readable JSON.")


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ≥ 1")
    return int(text)


def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return path


_UNRECOGNIZED = "unrecognized arguments: "


class Parser(argparse.ArgumentParser):
    """Usage errors become TrailsErrors, so --json callers get them as JSON too."""

    _args: tuple[str, ...] = ()

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._args = tuple(sys.argv[1:] if args is None else args)  # what error() below looks through
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> Any:  # argparse's signature returns NoReturn
        stray = self._stray_dash_word(message)
        if stray is not None:
            # argparse takes any word that starts with '-' for an option, e.g. the text in `send NAME -l`.
            raise UsageError(f"{self.prog}: {message} ({stray!r} is not an option here)",
                             hint=f"a value that starts with '-' goes after '--', e.g. `{self.prog} … -- {stray}` "
                                  f"(an option's value: `--option={stray}`)")
        raise UsageError(f"{self.prog}: {message}", hint=f"`{self.prog} --help` shows the usage")

    def _stray_dash_word(self, message: str) -> str | None:
        """The first word before any '--' that looks like an option but is none of this parser's."""
        words: Sequence[str] = self._args[:self._args.index("--")] if "--" in self._args else self._args
        known = {s for action in self._actions for s in action.option_strings}
        if message.startswith(_UNRECOGNIZED):  # left over by a command's parser: argparse names them
            words, known = message[len(_UNRECOGNIZED):].split(" "), set()
        for word in words:
            name = word.split("=", 1)[0]
            abbreviates = name.startswith("--") and any(k.startswith(name) for k in known)  # argparse takes those
            if len(word) > 1 and word.startswith("-") and not abbreviates and name not in known \
                    and not self._negative_number_matcher.match(word):
                return word
        return None


def add_command(subparsers: Any, name: str, func: Callable[..., Any], aliases: list[str]) -> None:
    spec = _spec(func)
    parser = subparsers.add_parser(name, aliases=aliases, help=spec.help, description=spec.help)
    for flags, kwargs in spec.params:
        parser.add_argument(*flags, **kwargs)
    parser.set_defaults(_func=func)


def call(namespace: argparse.Namespace) -> Any:
    kwargs = {k: v for k, v in vars(namespace).items() if not k.startswith("_") and k != "command"}
    return namespace._func(**kwargs)
