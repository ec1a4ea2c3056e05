"""YAML parsed with limits: a run file cannot make trails spin or run out of memory.

Aliases let a few lines stand for a huge document (nine levels of nine aliases are 387 million
scalars: `trails run --dry-run` on one spun for minutes), an alias inside its own anchor makes a
cycle nothing can walk, and deep nesting overflows PyYAML's recursive composer. So a document is
composed first (aliases stay shared references there, cheap), measured as if every alias were
expanded, and refused past limits no real run file comes near; only then is it constructed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

MAX_ALIASES = 200  # `*name` uses, merge keys (`<<: *name`) included
MAX_DEPTH = 64  # nested mappings and lists, counted through aliases
MAX_NODES = 100_000  # scalars, mappings and lists once every alias is expanded
MAX_CHARS = 8 << 20  # characters of scalars once every alias is expanded


class LimitExceeded(Exception):
    """The document is past a limit; `line` (1-based) is where the problem shows."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _LimitedLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML has no type hints
    """The safe loader, counting aliases and nesting while it composes (before anything is expanded)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1
                raise LimitExceeded(line, f"more than {MAX_ALIASES} aliases (*name): a run file may not "
                                          "use YAML aliases to stand for a large document")
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise LimitExceeded(line, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def compose_and_load(text: str, visit: Callable[[yaml.Node], None]) -> tuple[yaml.Node | None, Any]:
    """The document's node graph and its data; yaml.YAMLError or LimitExceeded. `visit` sees the
    graph once it is measured, before construction (which rewrites merge keys in it)."""
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _measure(node)
        visit(node)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> None:
    """Size and depth of the document with aliases expanded, computed once per shared node (no
    expansion), refusing a cycle (an alias inside its own anchor) on the way. Iterative: the graph
    can be deeper through aliases than Python's recursion limit allows."""
    done: dict[int, tuple[int, int, int]] = {}  # id(node) -> (nodes, chars, depth), expanded
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_.discard(key)
            kids = [done[id(child)] for child in _children(node)]
            nodes = 1 + sum(k[0] for k in kids)
            chars = (len(node.value) if isinstance(node, yaml.ScalarNode) else 0) + sum(k[1] for k in kids)
            depth = 1 + max((k[2] for k in kids), default=0)
            line = node.start_mark.line + 1
            if nodes > MAX_NODES:
                raise LimitExceeded(line, f"the document expands to more than {MAX_NODES:,} values "
                                          "(YAML aliases repeat what they refer to)")
            if chars > MAX_CHARS:
                raise LimitExceeded(line, f"the document expands to more than {MAX_CHARS >> 20} MiB of text "
                                          "(YAML aliases repeat what they refer to)")
            if depth > MAX_DEPTH:
                raise LimitExceeded(line, f"the document nests more than {MAX_DEPTH} levels deep "
                                          "once its aliases are expanded")
            done[key] = (nodes, chars, depth)
            continue
        if key in done:
            continue
        if key in open_:
            raise LimitExceeded(node.start_mark.line + 1,
                                "an alias refers to a value that contains it (a cycle, which never ends)")
        open_.add(key)
        stack.append((node, True))
        stack += [(child, False) for child in _children(node) if id(child) not in done]
