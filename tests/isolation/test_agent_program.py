"""Which host directories a container session mounts so its agent's program runs inside
(isolation/container.py `agent_program`), without a Docker engine: what the container would see
is worked out from the mounts alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from trails.isolation.container import agent_program


def _inside(path: str, mounts: list[Path]) -> str | None:
    """Where `path` leads in a container that has only `mounts` (at their own paths): each link
    followed as the container's kernel would, from the directory it is in there. None: not there."""
    seen = 0
    while seen < 40:
        if not any(path == str(m) or path.startswith(f"{m}/") for m in mounts):
            return None
        if not os.path.islink(path):
            return path if os.path.exists(path) else None
        path = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
        seen += 1
    return None


def _linked_node_modules(tmp_path: Path) -> tuple[Path, Path]:
    """A checkout whose node_modules is a link to another's (as a worktree sharing its main
    checkout's), with a CLI behind the usual relative `.bin` link: (its .bin entry, the real script)."""
    real = tmp_path / "main" / "node_modules"
    script = real / "agent-cli" / "cli.js"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (real / ".bin").mkdir()
    (real / ".bin" / "agent").symlink_to("../agent-cli/cli.js")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "node_modules").symlink_to(real)
    return checkout / "node_modules" / ".bin" / "agent", script


def test_a_program_under_a_linked_node_modules_resolves_inside(tmp_path: Path) -> None:
    given, script = _linked_node_modules(tmp_path)
    argv, mounts = agent_program([str(given), "--flag"], tmp_path / "worktree", False)
    assert argv[1:] == ["--flag"] and Path(argv[0]).name == "agent"
    assert _inside(argv[0], mounts) == str(script), (argv, mounts)
    assert tmp_path / "main" / "node_modules" in mounts  # the whole tree, for the CLI's own modules


def test_a_program_found_on_path_through_a_linked_directory_resolves_inside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given, script = _linked_node_modules(tmp_path)
    monkeypatch.setenv("PATH", f"{given.parent}:{os.environ['PATH']}")
    argv, mounts = agent_program(["agent"], tmp_path / "worktree", False)
    assert _inside(argv[0], mounts) == str(script), (argv, mounts)


def test_a_relative_link_out_of_a_bin_directory_resolves_inside(tmp_path: Path) -> None:
    """~/.local/bin/x -> ../lib/node_modules/…: no linked directory, the link alone."""
    lib = tmp_path / ".local" / "lib" / "node_modules" / "x" / "bin.js"
    lib.parent.mkdir(parents=True)
    lib.write_text("#!/bin/sh\n")
    (tmp_path / ".local" / "bin").mkdir()
    (tmp_path / ".local" / "bin" / "x").symlink_to("../lib/node_modules/x/bin.js")
    argv, mounts = agent_program([str(tmp_path / ".local" / "bin" / "x")], tmp_path / "worktree", False)
    assert argv == [str(tmp_path / ".local" / "bin" / "x")]
    assert _inside(argv[0], mounts) == str(lib), mounts
