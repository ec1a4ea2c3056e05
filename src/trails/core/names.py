"""Session names: what is allowed, and why a name is refused."""

from __future__ import annotations

import re

from trails.core.errors import InvalidName
from trails.core.refnames import refname_problem

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


def validate_session_name(name: str) -> str:
    if NAME_RE.fullmatch(name):
        # The name is also a component of git refs (the branch trails/NAME, refs/trails/saved/NAME/…):
        # refuse here what git would refuse later, half way through a create or a kill.
        why = refname_problem(name)
        if why is None:
            return name
        raise InvalidName(f"invalid session name {name!r}: {why}, which git does not allow in a ref name "
                          "(the name becomes part of the session's branch and saved refs)", field="name")
    if not name:
        why = "it is empty"
    elif len(name) > 63:
        why = f"it is {len(name)} characters long (63 at most)"
    elif not re.match(r"[a-z0-9]", name):
        why = "it must start with a lowercase letter or digit"
    else:
        bad = sorted({c for c in name if not re.match(r"[a-z0-9._-]", c)})
        why = "it contains " + ", ".join(repr(c) for c in bad) + " (allowed: a-z, 0-9, '.', '_', '-')"
    raise InvalidName(f"invalid session name {name!r}: {why}", field="name")


TMUX_PREFIX = "trails-"


def tmux_name(name: str) -> str:
    """A tmux-safe, injective form: tmux reads '.' as a pane separator, so escape it ('_' → '__')."""
    return TMUX_PREFIX + name.replace("_", "__").replace(".", "_d")


def session_of_tmux_name(tmux_session: str) -> str | None:
    """The session name `tmux_name` made `tmux_session` from; None for a name it did not make."""
    if not tmux_session.startswith(TMUX_PREFIX):
        return None
    out, rest = [], tmux_session[len(TMUX_PREFIX):]
    i = 0
    while i < len(rest):
        pair = rest[i:i + 2]
        if pair == "__":
            out.append("_")
            i += 2
        elif pair == "_d":
            out.append(".")
            i += 2
        else:
            out.append(rest[i])
            i += 1
    return "".join(out)
