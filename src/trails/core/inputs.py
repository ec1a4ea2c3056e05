"""Checks on what a new session takes from its caller besides its name: branch, base, scope, env.

Each refuses at once, before anything is made, with what is wrong and what to give instead. None
of them starts a process: they sit on the path of every `trails new`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from trails.core.errors import BranchError, InvalidInput
from trails.core.refnames import branch_problem, encodable

# Variables trails itself sets in a session (TRAILS_SESSION; tmux sets TMUX and TMUX_PANE in the
# pane) or reads to find its home, socket and settings (TRAILS_HOME, TRAILS_TMUX_SOCKET, TRAILS_MODE,
# ...). A session given its own would steer the trails commands run inside it to another home or
# server, or make the agent misjudge the terminal it draws into. All of TRAILS_* is kept: names
# trails adds later are reserved already.
RESERVED_ENV = frozenset({"TMUX", "TMUX_PANE"})
RESERVED_ENV_PREFIX = "TRAILS_"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SHELL_OWN = frozenset({"PWD", "OLDPWD"})  # the pane's shell sets these (infra/tmux.py leaves them out)


def check_branch(branch: str, *, given_as: str = "--branch") -> None:
    """Refuse a branch name git would refuse, or take but read as something else (an option, a
    full ref name, HEAD, a reflog entry, a commit id)."""
    problem = branch_problem(branch)
    if problem is not None:
        why, hint = problem
        raise BranchError(f"{given_as} {branch!r} is not a valid branch name: {why}", hint=hint,
                          field="branch" if given_as == "--branch" else None)


def check_base(base: str) -> None:
    if not base:
        raise InvalidInput("--base is empty", field="base")
    if base.startswith("-"):
        raise InvalidInput(f"--base {base!r} starts with '-': git would read it as an option",
                           hint="give a commit, branch or tag name", field="base")
    if "\0" in base or not encodable(base):
        raise InvalidInput(f"--base {base!r} contains a NUL character or a lone surrogate, which git cannot be given",
                           hint="give a commit, branch or tag name", field="base")


def check_env(env: Mapping[str, str]) -> None:
    for key, value in env.items():
        if not ENV_NAME.fullmatch(key):
            # What sh can `export`: a name it cannot (é, a-b) would never reach the agent.
            raise InvalidInput(f"invalid environment variable name {key!r}",
                               hint="a name is ASCII letters, digits and '_', not starting with a digit", field="env")
        if key in SHELL_OWN:
            raise InvalidInput(f"--env {key}: the agent's shell sets {key} to the directory it runs in",
                               hint="give the directory as the session's working directory instead", field="env")
        if "\0" in value:
            raise InvalidInput(f"--env {key}: the value contains a NUL character, which no environment can hold",
                               field="env")
        if not encodable(value):  # the environment file and exec() need bytes
            raise InvalidInput(f"--env {key}: the value contains a lone surrogate, which is not text", field="env")
        if key in RESERVED_ENV or key.startswith(RESERVED_ENV_PREFIX):
            raise InvalidInput(
                f"--env {key}: trails sets or reads {key} itself, so a session cannot be given its own",
                hint=f"{', '.join(sorted(RESERVED_ENV))} and every {RESERVED_ENV_PREFIX}* variable are reserved",
                field="env",
            )


def scope_paths(scope: Iterable[str], repo_root: Path) -> list[str]:
    """Each --scope path as rules match it: relative to the repository root, normalised.

    A path is taken from the repository root (absolute ones as they are) and must stay inside it
    once `..` and symlinks are resolved.
    """
    root = repo_root.resolve()
    out: list[str] = []
    for given in scope:
        if not given:
            raise InvalidInput("--scope is empty", field="scope")
        if "\0" in given or not encodable(given):
            raise InvalidInput(f"--scope {given!r} contains a NUL character or a lone surrogate, which no path "
                               "can hold", field="scope")
        full = Path(given) if os.path.isabs(given) else root / given
        resolved = full.resolve()
        if not resolved.is_relative_to(root):
            raise InvalidInput(f"--scope {given!r} is outside the repository {root} (it resolves to {resolved})",
                               hint="scope paths are taken from the repository's root and must stay inside it",
                               field="scope")
        # The spelling given (a symlink's name, not its target) when it stays inside on its own.
        lexical = Path(os.path.normpath(full))
        rel = lexical.relative_to(root) if lexical.is_relative_to(root) else resolved.relative_to(root)
        out.append(rel.as_posix())
    return out
