"""Short markers for what the lifecycle recorded on a session (a rebase conflict, its pull request),
shared by `ls`, `show` and the dashboard so that they say the same thing. They read `session.conflict`
and `session.pr` (under "extra" in a session's JSON form), and whether MCP is off for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from trails.core.mcpwire import OFF_KEY as MCP_OFF_KEY

T = TypeVar("T")


def marks(conflict: Mapping[str, Any] | None, pr: Mapping[str, Any] | None, *, frozen: bool = False) -> list[str]:
    """A session's lifecycle marks from its conflict and pull request records (and whether its idle
    agent is frozen), e.g. ["conflict", "pr#12 open, checks failing"]: empty for most sessions."""
    out = []
    if frozen:
        out.append("frozen")  # idle, its agent stopped until something reaches it (core/freeze.py)
    if conflict:
        out.append("conflict")
    if pr:
        label = " ".join(x for x in (f"pr#{pr.get('number')}", str(pr.get("state") or "").lower()) if x)
        out.append(label + (f" checks {pr['checks']}" if pr.get("checks") else ""))
    return out


def detail_lines(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines for `show`, from the "extra" of a session's JSON form."""
    out = []
    if extra.get("frozen"):
        out.append(("frozen", "idle: its agent is stopped until a send, an attach or a pause reaches it"))
    if extra.get(MCP_OFF_KEY) is False:  # --no-mcp, the `mcp` setting or TRAILS_MCP=off when it was made
        out.append(("mcp", "off: its agent is not given trails' MCP server"))
    conflict = extra.get("conflict")
    if conflict:
        out.append(("conflict", f"{conflict.get('op', 'rebase')} onto {conflict.get('onto')} conflicts in "
                                f"{', '.join(conflict.get('files', []))}"))
    pr = extra.get("pr")
    if pr:
        out.append(("pull request", f"#{pr.get('number')} {pr.get('url')}"))
        if pr.get("state"):
            review = f", review {pr['review'].lower()}" if pr.get("review") else ""
            out.append(("pr state", f"{pr['state'].lower()}, checks {pr.get('checks') or 'none'}{review}"))
        for check in pr.get("failing", []):
            out.append(("failing check", str(check)))
    return out


def tree(sessions: Sequence[T], name: Callable[[T], str], parent: Callable[[T], str | None]) -> list[tuple[int, T]]:
    """The sessions in list order, each coordinator's workers (and theirs) right under it, with their
    depth: the tree `ls` and the dashboards show. A worker whose parent is not listed is a root."""
    listed = {name(s) for s in sessions}
    children: dict[str | None, list[T]] = {}
    for s in sessions:
        up = parent(s)
        children.setdefault(up if up in listed and up != name(s) else None, []).append(s)
    out: list[tuple[int, T]] = []
    seen: set[str] = set()

    def walk(s: T, depth: int) -> None:
        if name(s) in seen:  # a loop of names (a parent ended, its name reused): each once
            return
        seen.add(name(s))
        out.append((depth, s))
        for child in children.get(name(s), []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    out += [(0, s) for s in sessions if name(s) not in seen]
    return out


def tree_prefix(depth: int) -> str:
    """How a worker's name is indented under its coordinator."""
    return "  " * (depth - 1) + "└ " if depth else ""
