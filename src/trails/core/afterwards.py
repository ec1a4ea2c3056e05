"""Work that need not hold up a command's answer, such as nudging the supervisor.

`later(fn)` runs fn at once, unless the caller is inside `held()`: then fn waits in the list it
yields. The warm CLI server's child holds them while the command runs, reports the exit code to
the waiting client, and only then runs them, so the user's prompt does not wait on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

_held: list[Callable[[], None]] | None = None


def later(fn: Callable[[], None]) -> None:
    if _held is None:
        fn()
    else:
        _held.append(fn)


@contextlib.contextmanager
def held() -> Iterator[list[Callable[[], None]]]:
    """Collect what `later` is given meanwhile; the caller runs the list when it is ready to."""
    global _held
    previous, _held = _held, []
    try:
        yield _held
    finally:
        _held = previous


def run(pending: list[Callable[[], None]]) -> None:
    """Run held work, each piece on its own: one failing must not keep the others from running."""
    for fn in pending:
        with contextlib.suppress(Exception):
            fn()
