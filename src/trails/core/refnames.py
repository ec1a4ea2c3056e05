"""git's rules for ref names, checked in Python: `trails new` must not spend a git process on them.

The rules are those of `git check-ref-format` (git's refs.c), one-level names allowed. Branch names
a user gives are held to a little more: names git would take but then reads as something else.
"""

from __future__ import annotations

import re

_FORBIDDEN = frozenset(" ~^:?*[\\")
# HEAD and the pseudo-refs git resolves before any branch (FETCH_HEAD, ORIG_HEAD, MERGE_HEAD, ...).
_PSEUDO_REF = re.compile(r"[A-Z_]*HEAD")
_OBJECT_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


def encodable(text: str) -> bool:
    """Whether `text` can be handed to a program (argv, a file): Python's stand-ins for non-UTF-8
    bytes (surrogateescape) can, any other lone surrogate (from JSON, say) cannot."""
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def refname_problem(name: str) -> str | None:
    """Why git would refuse `name` as (part of) a ref name, or None when it would take it."""
    if not name:
        return "it is empty"
    if name == "@":
        return "'@' alone means HEAD to git"
    if not encodable(name):
        return "it contains a lone surrogate (\\ud800-\\udfff), which is not text any program can be given"
    bad = sorted({c for c in name if ord(c) < 0x20 or c == "\x7f" or c in _FORBIDDEN})
    if bad:
        return "it contains " + ", ".join(repr(c) for c in bad)
    if ".." in name:
        return "it contains '..'"
    if "@{" in name:
        return "it contains '@{' (git reads name@{...} as a reflog entry)"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it has an empty path component (a leading, trailing or doubled '/')"
    if name.endswith("."):
        return "it ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"its component {part!r} starts with '.'"
        if part.endswith(".lock"):
            return f"its component {part!r} ends with '.lock'"
    return None


def branch_problem(branch: str) -> tuple[str, str | None] | None:
    """Why `branch` is refused as a branch name, and a hint; None when it is a plain branch name."""
    if branch.startswith("-"):
        return "it starts with '-', which git would read as an option", None
    if branch.startswith("refs/"):
        short = branch.removeprefix("refs/heads/")
        return (f"it starts with 'refs/': git would make a branch literally named {branch!r} "
                f"(the ref refs/heads/{branch})",
                f"give the branch's short name, e.g. {short!r}" if short != branch
                else "give a branch's short name (without refs/)")
    first = branch.split("/", 1)[0]
    if _PSEUDO_REF.fullmatch(first):
        return f"git reads {first} as a special ref (like HEAD), not as a branch", None
    if _OBJECT_ID.fullmatch(branch):
        return "it looks like a commit id", None
    why = refname_problem(branch)
    return (why, None) if why else None
