"""What the screen recorders (tests/fakes/record_*screens.py) share: scratch folders, the demo repo, saving screens.

A recorder runs a real agent CLI in tmux on a private socket against a scripted fake API and writes the
``capture-pane -p`` text of each state to ``<out>/<name>.txt``::

    with ScriptedAnthropicServer() as server, Recording(out_dir, BASE, sockets=[socket]) as rec:
        repo = init_demo_repo(BASE / "demo")
        ...
        rec.save("idle", wait_for_stable(socket, target))
    return rec.written
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.fakes.tmux_screen import kill_server

SCREENS_DIR = Path(__file__).resolve().parent.parent / "data" / "screens"  # <agent>/<state>.txt, read by tests


def init_demo_repo(repo: Path, readme: str = "# demo\n") -> Path:
    """Create ``repo`` (if needed) as a git repo on ``main`` with a README.md; return it."""
    repo.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README.md").write_text(readme)
    return repo


class Recording:
    """One recording run: fresh scratch folders, the screens written, and the cleanup at the end.

    On enter each of ``scratch`` is wiped and created empty, and ``out_dir`` is created. On exit each
    tmux server in ``sockets`` is ended with ``stop`` (default :func:`kill_server`), then the scratch
    folders are removed (in that order: the sockets live in them).
    """

    def __init__(
        self,
        out_dir: Path,
        *scratch: Path,
        sockets: Sequence[Path] = (),
        stop: Callable[[Path], None] = kill_server,
    ) -> None:
        self.out_dir = out_dir
        self.scratch = scratch
        self.sockets = sockets
        self.stop = stop
        self.written: list[Path] = []

    def __enter__(self) -> Self:
        for path in self.scratch:
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for socket in self.sockets:
            self.stop(socket)
        for path in self.scratch:
            shutil.rmtree(path, ignore_errors=True)

    def save(self, name: str, screen: str) -> None:
        """Write ``screen`` to ``<out_dir>/<name>.txt``."""
        path = self.out_dir / f"{name}.txt"
        path.write_text(screen)
        self.written.append(path)
        print(f"wrote {path}")


def recorder_parser(doc: str | None, out_dir: Path) -> argparse.ArgumentParser:
    """The command line of a recorder: its docstring as help, ``--out DIR`` (default ``out_dir``)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=out_dir)
    return parser
