"""A shell command line read the way bash would run it, for the auto-yes guards (see shellguard.py).

tree-sitter's bash grammar parses the line. This module walks the tree into the simple commands it
runs — in lists, pipelines, subshells, substitutions, loops, branches and function bodies — with, for
each: its words after quote removal and brace expansion, the values of expansions the line itself
sets (`d=build; rm -r $d`), the directory it runs in (`cd` is followed), what reaches its standard
input (the commands before it in a pipeline, a here-document) and its redirections. A value the line
does not show is unknown (None), never guessed; so is a directory after a `cd` to one. What the
parser could not read at all is listed in `Script.problems`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

MAX_LINE = 64 * 1024  # longer lines are not judged: refused, never approved
MAX_WORDS = 256  # brace and loop expansion beyond this is not followed (an unknown value)
MAX_UNROLL = 16  # a `for` loop over more literal values is walked once with the variable unknown

# How each character of a word came to be, which decides what bash does with it next: quoted text is
# taken as it is; unquoted source text takes part in brace, tilde and glob expansion; the unquoted
# result of an expansion is split into words and globbed, but never brace-expanded.
_QUOTED, _SOURCE, _EXPANDED = 0, 1, 2
_Chars = list[tuple[str, int]]

_STATEMENTS = frozenset({
    "program", "list", "pipeline", "redirected_statement", "command", "subshell", "compound_statement",
    "if_statement", "elif_clause", "else_clause", "while_statement", "for_statement", "c_style_for_statement",
    "case_statement", "case_item", "function_definition", "negated_command", "do_group", "variable_assignment",
    "variable_assignments", "declaration_command", "unset_command", "test_command",
})
_BRANCHING = frozenset({"if_statement", "while_statement", "for_statement", "c_style_for_statement",
                        "case_statement"})
_EXITS = frozenset({"exit", "return", "false"})
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class Word:
    """One argument as the command receives it. `value` is None when the line does not show it."""

    value: str | None
    raw: str
    glob: bool = False  # unquoted pattern characters: the shell matches it against the file system
    subs: tuple[Invocation, ...] = ()  # the commands run to make it: $(…), `…`, <(…), >(…)
    proc: bool = False  # the word is a process substitution: a /dev/fd path onto `subs`' output


@dataclass(frozen=True)
class Redirect:
    op: str  # >, >>, >|, &>, &>>, <>, <, >&, <&, <<, <<-, <<<
    target: Word | None  # the file, for file redirections
    fd: str | None = None  # the descriptor written before the operator (2>)
    text: str | None = None  # what a here-document or here-string gives, when the line shows it


@dataclass
class Invocation:
    """One simple command the line runs (words empty: a redirection or assignment alone)."""

    words: list[Word]
    assigns: dict[str, Word]
    redirects: list[Redirect]
    cwd: str | None  # the directory it runs in, None when a `cd` made it unknown
    upstream: tuple[Invocation, ...]  # commands whose output reaches its standard input
    text: str  # its source text, for reasons and the audit log
    stdin_text: str | None = None  # a here-document's or here-string's text, when the line shows it
    stdin_unknown: bool = False  # a here-document or here-string whose text the line does not show

    def argv(self) -> list[str | None]:
        return [w.value for w in self.words]


@dataclass
class Script:
    commands: list[Invocation] = field(default_factory=list)  # in the order they run
    problems: list[str] = field(default_factory=list)  # what could not be read: never approve past one


@dataclass
class _Ctx:
    cwd: str | None
    home: str
    vars: dict[str, Word]
    upstream: tuple[Invocation, ...] = ()
    split_unknown: bool = False  # IFS was changed: unquoted expansions split in ways not followed

    def copy(self) -> _Ctx:
        return _Ctx(self.cwd, self.home, dict(self.vars), self.upstream, self.split_unknown)


@lru_cache(maxsize=1)
def _parser() -> Any:
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


def parse(line: str, *, cwd: str | None, home: str, upstream: tuple[Invocation, ...] = ()) -> Script:
    """The simple commands `line` runs when started in `cwd` (None: unknown), `~` being `home`."""
    script = Script()
    if len(line) > MAX_LINE:
        script.problems.append(f"the command is longer than {MAX_LINE} characters")
        return script
    source = line.encode("utf-8", "surrogateescape")
    tree = _parser().parse(source)
    if tree.root_node.has_error:
        script.problems.append(_syntax_error(tree.root_node, source))
    walker = _Walker(source, script)
    try:
        walker.visit(tree.root_node, _Ctx(cwd, home, {}, upstream))
    except RecursionError:
        script.problems.append("the command nests too deeply to follow")
    return script


def _syntax_error(root: Any, source: bytes) -> str:
    node = _first(root, lambda n: n.is_error or n.is_missing)
    if node is None:
        return "the shell parser could not read the command"
    at = source[: node.start_byte].decode(errors="replace")
    line, col = at.count("\n") + 1, len(at) - (at.rfind("\n") + 1) + 1
    what = f"missing {node.type!r}" if node.is_missing else "unexpected text"
    return f"the shell parser could not read the command ({what} at line {line}, column {col})"


def _first(node: Any, pred: Any) -> Any:
    stack = [node]
    while stack:
        cur = stack.pop()
        if pred(cur):
            return cur
        stack.extend(reversed(cur.children))
    return None


class _Walker:
    def __init__(self, source: bytes, script: Script) -> None:
        self.source = source
        self.script = script

    def text(self, node: Any) -> str:
        return str(self.source[node.start_byte:node.end_byte].decode("utf-8", "surrogateescape"))

    # --- statements ---------------------------------------------------------------------------

    def visit(self, node: Any, ctx: _Ctx) -> None:
        kind = node.type
        if kind == "command":
            self.command(node, ctx)
        elif kind == "pipeline":
            self.pipeline([c for c in node.named_children], ctx)
        elif kind == "list":
            self.list_(node, ctx)
        elif kind == "redirected_statement":
            self.redirected(node, ctx)
        elif kind in ("subshell", "function_definition"):
            self.children(node, ctx.copy())  # a function body is judged as if it were called
        elif kind == "variable_assignment":
            self.assign(node, ctx)
        elif kind in ("variable_assignments", "declaration_command"):
            for child in node.named_children:
                if child.type == "variable_assignment":
                    self.assign(child, ctx)
                else:
                    self.scan(child, ctx)
        elif kind == "unset_command":
            for child in node.named_children:
                ctx.vars.pop(self.text(child), None)
        elif kind == "for_statement":
            self.for_(node, ctx)
        elif kind in _BRANCHING:
            self.branching(node, ctx)
        elif kind in ("comment", "heredoc_start", "heredoc_end"):
            pass
        elif kind in _STATEMENTS:
            self.children(node, ctx)
        else:
            self.scan(node, ctx)

    def children(self, node: Any, ctx: _Ctx) -> None:
        for child in node.named_children:
            self.visit(child, ctx)

    def scan(self, node: Any, ctx: _Ctx) -> None:
        """A node that is not a statement (a test's operands, a case pattern, arithmetic): only the
        commands substituted into it run."""
        if node.type in ("command_substitution", "process_substitution"):
            self.substitution(node, ctx)
            return
        if node.type in _STATEMENTS:
            self.visit(node, ctx)
            return
        for child in node.named_children:
            self.scan(child, ctx)

    def substitution(self, node: Any, ctx: _Ctx) -> tuple[Invocation, ...]:
        before = len(self.script.commands)
        inner = ctx.copy()
        for child in node.named_children:
            self.visit(child, inner)
        return tuple(self.script.commands[before:])

    def list_(self, node: Any, ctx: _Ctx) -> None:
        parts = node.named_children
        ops = [c.type for c in node.children if not c.is_named]
        if len(parts) != 2 or ops not in (["&&"], ["||"]):
            self.children(node, ctx)
            return
        before = ctx.copy()
        self.visit(parts[0], ctx)
        if ops == ["&&"]:
            self.visit(parts[1], ctx)
            return
        # `a || b`: b runs when a failed (taken as: a changed nothing), so afterwards either a's or
        # b's directory and variables hold, unless b leaves (`cd x || exit 1`).
        other = before
        self.visit(parts[1], other)
        if not self._exits(parts[1]):
            _merge(ctx, other)

    def _exits(self, node: Any) -> bool:
        if node.type == "command":
            name = node.child_by_field_name("name")
            return name is not None and self.text(name) in _EXITS
        return node.type in ("compound_statement", "subshell") and any(self._exits(c) for c in node.named_children)

    def branching(self, node: Any, ctx: _Ctx) -> None:
        # Each branch or loop body may run or not: a directory or variable set inside is uncertain after.
        before = ctx.copy()
        self.children(node, ctx)
        _merge(ctx, before)

    def for_(self, node: Any, ctx: _Ctx) -> None:
        name_node = node.child_by_field_name("variable")
        values = [c for c in node.children_by_field_name("value")]
        body = node.child_by_field_name("body")
        name = self.text(name_node) if name_node is not None else ""
        words: list[Word] = []
        for value in values:
            words += self.words(value, ctx)
        before = ctx.copy()
        known = all(w.value is not None for w in words) and 0 < len(words) <= MAX_UNROLL and values
        for word in words if known else [Word(None, "$" + name)]:
            ctx.vars[name] = word
            if body is not None:
                self.visit(body, ctx)
        _merge(ctx, before)

    def pipeline(self, parts: list[Any], ctx: _Ctx) -> None:
        upstream = list(ctx.upstream)
        for part in parts:
            inner = ctx.copy()  # every element of a pipeline runs in its own subshell
            inner.upstream = tuple(upstream)
            before = len(self.script.commands)
            self.visit(part, inner)
            upstream += self.script.commands[before:]

    def redirected(self, node: Any, ctx: _Ctx) -> None:
        body = node.child_by_field_name("body")
        redirect_nodes = node.children_by_field_name("redirect")
        redirects: list[Redirect] = []
        rest: list[Any] = []
        stdin: list[str | None] = []
        for r in redirect_nodes:
            if r.type == "heredoc_redirect":
                redirects.append(self.heredoc(r, ctx, stdin, rest))
            else:
                redirects += self.redirect(r, ctx, stdin)
        start = len(self.script.commands)
        if body is not None and body.type == "command":
            self.command(body, ctx, extra=redirects, stdin=stdin, text=self.text(node))
        else:
            self.script.commands.append(Invocation([], {}, redirects, ctx.cwd, ctx.upstream, self.text(node)))
            if body is not None:
                self.visit(body, ctx)
        chain = self.script.commands[start:]
        for node_rest, op in rest:
            before = len(self.script.commands)
            if op == "|":
                inner = ctx.copy()
                inner.upstream = (*ctx.upstream, *chain)
                self.visit(node_rest, inner)
                chain += self.script.commands[before:]
            else:
                self.visit(node_rest, ctx)
                chain = self.script.commands[before:]

    def heredoc(self, node: Any, ctx: _Ctx, stdin: list[str | None], rest: list[Any]) -> Redirect:
        """A here-document; tree-sitter puts what follows its start on the same line (`| python3`,
        `&& next`) inside it, which runs after the command it feeds."""
        op = next((self.text(c) for c in node.children if c.type in ("<<", "<<-")), "<<")
        start = next((c for c in node.children if c.type == "heredoc_start"), None)
        quoted = start is not None and any(q in self.text(start) for q in "'\"\\")
        text: str | None = ""
        pending_op = None
        for child in node.children:
            if child.type in ("&&", "||", ";", "|", "|&"):
                pending_op = child.type
            elif child.type == "heredoc_body":
                body = self.heredoc_body(child, ctx, quoted)
                text = None if text is None or body is None else text + body
            elif child.type == "pipeline" and child.named_children:
                parts = child.named_children
                rest += [(p, "|") for p in _flatten_pipeline(parts)]
            elif child.is_named and child.type not in ("heredoc_start", "heredoc_end", "heredoc_content"):
                rest.append((child, pending_op or ";"))
                pending_op = None
        stdin.append(text)
        return Redirect(op, None, text=text)

    def heredoc_body(self, node: Any, ctx: _Ctx, quoted: bool) -> str | None:
        if quoted:
            return self.text(node)
        out: str | None = ""
        pos = node.start_byte
        for child in node.named_children:
            if out is not None:
                out += self.source[pos:child.start_byte].decode("utf-8", "surrogateescape")
            pos = child.end_byte
            if child.type == "heredoc_content":
                if out is not None:
                    out += self.text(child)
                continue
            chars = self.chars(child, ctx, [])
            out = None if chars is None or out is None else out + "".join(c for c, _ in chars)
        if out is not None:
            out += self.source[pos:node.end_byte].decode("utf-8", "surrogateescape")
        return out

    def redirect(self, node: Any, ctx: _Ctx, stdin: list[str | None]) -> list[Redirect]:
        fd_node = node.child_by_field_name("descriptor")
        fd = self.text(fd_node) if fd_node is not None else None
        op = next((self.text(c) for c in node.children if not c.is_named), "")
        if node.type == "herestring_redirect":
            target = next((c for c in node.named_children), None)
            words = self.words(target, ctx) if target is not None else []
            text = " ".join(w.value for w in words if w.value is not None) + "\n"
            known = all(w.value is not None for w in words)
            stdin.append(text if known else None)
            subs = tuple(s for w in words for s in w.subs)
            value = text if known else None
            return [Redirect("<<<", Word(value, self.text(node), subs=subs), fd, value)]
        dests = node.children_by_field_name("destination")
        if not dests:
            return [Redirect(op, None, fd)]
        out = []
        for dest in dests:
            for word in self.words(dest, ctx):
                out.append(Redirect(op, word, fd))
        return out

    def assign(self, node: Any, ctx: _Ctx) -> None:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        name = self.text(name_node) if name_node is not None else ""
        if name == "IFS":
            ctx.split_unknown = True
        op = next((c.type for c in node.children if c.type in ("=", "+=")), "=")
        if value_node is None:
            ctx.vars[name] = Word("", "")
            return
        value = self.assigned_value(value_node, ctx)
        if op == "+=" or name_node is None or name_node.type != "variable_name":
            value = Word(None, self.text(node), subs=value.subs)
        ctx.vars[name] = value

    def assigned_value(self, node: Any, ctx: _Ctx) -> Word:
        subs: list[Invocation] = []
        if node.type == "array":
            for child in node.named_children:
                self.chars(child, ctx, subs)
            return Word(None, self.text(node), subs=tuple(subs))
        chars = self.chars(node, ctx, subs)
        # An assignment's value is neither split nor globbed; a leading ~ is still expanded.
        if chars is None:
            return Word(None, self.text(node), subs=tuple(subs))
        return Word(_tilde(chars, ctx.home), self.text(node), subs=tuple(subs))

    # --- simple commands ----------------------------------------------------------------------

    def command(self, node: Any, ctx: _Ctx, extra: list[Redirect] | None = None,
                stdin: list[str | None] | None = None, text: str | None = None) -> None:
        assigns: dict[str, Word] = {}
        words: list[Word] = []
        redirects = list(extra or [])
        feeds = list(stdin or [])
        for child in node.children:
            if child.type == "variable_assignment":
                name_node = child.child_by_field_name("name")
                value_node = child.child_by_field_name("value")
                key = self.text(name_node) if name_node is not None else ""
                assigns[key] = self.assigned_value(value_node, ctx) if value_node is not None else Word("", "")
            elif child.type in ("file_redirect", "herestring_redirect"):
                redirects += self.redirect(child, ctx, feeds)
            elif child.type == "heredoc_redirect":
                rest: list[Any] = []
                redirects.append(self.heredoc(child, ctx, feeds, rest))
            elif child.type == "command_name":
                for part in child.named_children:
                    words += self.words(part, ctx)
            elif child.is_named and child.type != "comment":
                words += self.words(child, ctx)
        upstream = ctx.upstream + tuple(s for r in redirects if r.op == "<<<" and r.target for s in r.target.subs)
        upstream += tuple(s for r in redirects if r.op == "<" and r.target and r.target.proc for s in r.target.subs)
        known = [f for f in feeds if f is not None]
        inv = Invocation(words, assigns, redirects, ctx.cwd, upstream, text or self.text(node),
                         stdin_text="".join(known) if known else None, stdin_unknown=None in feeds)
        self.script.commands.append(inv)
        self.after(inv, ctx)

    def after(self, inv: Invocation, ctx: _Ctx) -> None:
        """What a builtin changes for the commands after it: the directory, variables."""
        argv = inv.argv()
        if not argv:
            return
        name = argv[0]
        if name in ("cd", "pushd"):
            args = [a for a in argv[1:] if a is None or not (a.startswith("-") and a != "-")]
            target = args[0] if args else ctx.home
            if target is None or target == "-" or len(args) > 1 or inv.words[-1].glob:
                ctx.cwd = None
            elif target.startswith("/"):
                ctx.cwd = os.path.normpath(target)
            else:
                ctx.cwd = None if ctx.cwd is None else os.path.normpath(os.path.join(ctx.cwd, target))
        elif name in ("popd", "eval"):
            ctx.cwd = None
        elif name in ("read", "mapfile", "readarray", "getopts", "printf") and len(argv) > 1:
            for arg in argv[1:]:  # `read x`, `printf -v x`: a value from input, unknown
                if arg is not None and re.fullmatch(r"[A-Za-z_]\w*", arg):
                    ctx.vars[arg] = Word(None, "$" + arg)

    # --- words --------------------------------------------------------------------------------

    def words(self, node: Any, ctx: _Ctx) -> list[Word]:
        """The arguments one word of the source becomes (brace expansion and splitting may make several)."""
        raw = self.text(node)
        subs: list[Invocation] = []
        if node.type == "process_substitution":
            return [Word(None, raw, subs=self.substitution(node, ctx), proc=True)]
        chars = self.chars(node, ctx, subs)
        if chars is None:
            return [Word(None, raw, subs=tuple(subs))]
        expanded = _braces(chars)
        if expanded is None:
            return [Word(None, raw, subs=tuple(subs))]
        out: list[Word] = []
        for each in expanded:
            for piece in _split(each) if not ctx.split_unknown or not _has_expanded(each) else [None]:
                if piece is None:
                    return [Word(None, raw, subs=tuple(subs))]
                out.append(Word(_tilde(piece, ctx.home), raw, any(c in _GLOB and k != _QUOTED for c, k in piece),
                                tuple(subs)))
        return out

    def chars(self, node: Any, ctx: _Ctx, subs: list[Invocation]) -> _Chars | None:
        """The characters of a word with how each came to be, or None when some part is unknown. Every
        part is looked at even after an unknown one: each substitution in it runs."""
        kind = node.type
        text = self.text(node)
        if kind in ("word", "number"):
            return _unescape(text)
        if kind == "raw_string":
            return [(c, _QUOTED) for c in text[1:-1]]
        if kind == "ansi_c_string":
            decoded = _ansi_c(text[2:-1])
            return None if decoded is None else [(c, _QUOTED) for c in decoded]
        if kind == "string" or kind == "translated_string":
            out: _Chars | None = []
            for child in node.named_children:
                if child.type == "string_content":
                    part: _Chars | None = _unescape_dq(self.text(child))
                else:
                    part = self.chars(child, ctx, subs)
                    part = None if part is None else [(c, _QUOTED) for c, _ in part]
                out = None if out is None or part is None else out + part
            return out
        if kind == "concatenation":
            out = []
            for child in node.named_children:
                part = self.chars(child, ctx, subs)
                out = None if out is None or part is None else out + part
            return out
        if kind == "brace_expression":
            return [(c, _SOURCE) for c in text]
        if kind in ("simple_expansion", "expansion"):
            for child in node.named_children:
                if child.type not in ("variable_name", "special_variable_name"):
                    self.scan(child, ctx)
            value = self.variable(node, ctx)
            return None if value is None else [(c, _EXPANDED) for c in value]
        if kind in ("command_substitution", "process_substitution"):
            subs += self.substitution(node, ctx)
            return None
        self.scan(node, ctx)  # arithmetic and the rest: what they substitute runs; their value is unknown
        return None

    def variable(self, node: Any, ctx: _Ctx) -> str | None:
        names = [c for c in node.named_children]
        if len(names) != 1 or names[0].type != "variable_name" or len(node.children) not in (2, 3):
            return None  # ${x:-y}, ${#x}, $1, $@ …: not followed
        name = self.text(names[0])
        if name in ctx.vars:
            return ctx.vars[name].value
        if name == "HOME":
            return ctx.home
        if name == "PWD":
            return ctx.cwd
        return None


def _flatten_pipeline(parts: list[Any]) -> list[Any]:
    out: list[Any] = []
    for part in parts:
        out += _flatten_pipeline(part.named_children) if part.type == "pipeline" else [part]
    return out


def _merge(ctx: _Ctx, other: _Ctx) -> None:
    """`ctx` becomes what is certain after either `ctx` or `other` happened."""
    if ctx.cwd != other.cwd:
        ctx.cwd = None
    for name in set(ctx.vars) | set(other.vars):
        a, b = ctx.vars.get(name), other.vars.get(name)
        if a is None or b is None or a.value != b.value:
            ctx.vars[name] = Word(None, "$" + name)
    ctx.split_unknown = ctx.split_unknown or other.split_unknown


def _unescape(text: str, *, escapable: str | None = None, plain: int = _SOURCE) -> _Chars:
    """Backslash escapes resolved: every character unquoted (`escapable=None`), or only those in
    `escapable` (inside double quotes: $ ` " \\ newline). Other characters keep `plain` as origin."""
    out: _Chars = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and (escapable is None or text[i + 1] in escapable):
            if text[i + 1] != "\n":  # a backslash-newline is a line continuation: nothing
                out.append((text[i + 1], _QUOTED))
            i += 2
            continue
        out.append((c, plain))
        i += 1
    return out


def _unescape_dq(text: str) -> _Chars:
    return _unescape(text, escapable='$`"\\\n', plain=_QUOTED)


_ANSI = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
         "\\": "\\", "'": "'", '"': '"', "?": "?"}


def _ansi_c(body: str) -> str | None:
    """The value of $'…' (bash's escapes), None for one not followed."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ANSI:
            out.append(_ANSI[e])
            i += 2
            continue
        m = (re.match(r"x([0-9a-fA-F]{1,2})", body[i + 1:]) or re.match(r"u([0-9a-fA-F]{1,4})", body[i + 1:])
             or re.match(r"U([0-9a-fA-F]{1,8})", body[i + 1:]))
        if m:
            try:
                out.append(chr(int(m.group(1), 16)))
            except (ValueError, OverflowError):
                return None
            i += 1 + len(m.group(0))
            continue
        m = re.match(r"[0-7]{1,3}", body[i + 1:])
        if m:
            out.append(chr(int(m.group(0), 8) & 0xFF))
            i += 1 + len(m.group(0))
            continue
        if e == "c" and i + 2 < len(body):
            out.append(chr(ord(body[i + 2]) & 0x1F))
            i += 3
            continue
        return None
    return "".join(out)


def _braces(chars: _Chars) -> list[_Chars] | None:
    """Brace expansion of the unquoted source braces: `{-rf,/}` → `-rf`, `/`. None beyond MAX_WORDS."""
    out = _expand_braces(chars, [0])
    return out


def _expand_braces(chars: _Chars, budget: list[int]) -> list[_Chars] | None:
    for i, (c, k) in enumerate(chars):
        if c != "{" or k != _SOURCE:
            continue
        depth, commas = 0, []
        for j in range(i, len(chars)):
            c2, k2 = chars[j]
            if k2 != _SOURCE:
                continue
            if c2 == "{":
                depth += 1
            elif c2 == "," and depth == 1:
                commas.append(j)
            elif c2 == "}":
                depth -= 1
                if depth:
                    continue
                inner = chars[i + 1:j]
                alternatives = ([chars[a + 1:b] for a, b in zip([i, *commas], [*commas, j], strict=True)]
                                if commas else _sequence(inner))
                if alternatives is None:
                    break  # not a brace expression: `{}` or `{x}` stay as they are
                results: list[_Chars] = []
                for alt in alternatives:
                    tails = _expand_braces(alt + chars[j + 1:], budget)
                    if tails is None:
                        return None
                    results += [chars[:i] + tail for tail in tails]
                    budget[0] += len(tails)
                    if budget[0] > MAX_WORDS:
                        return None
                return results
    return [chars]


def _sequence(inner: _Chars) -> list[_Chars] | None:
    text = "".join(c for c, _ in inner)
    m = re.fullmatch(r"(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?", text)
    if m:
        a, b, step = int(m.group(1)), int(m.group(2)), abs(int(m.group(3) or 1)) or 1
        if abs(b - a) // step > MAX_WORDS:
            return None
        values = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
        return [[(ch, _QUOTED) for ch in str(v)] for v in values]
    m = re.fullmatch(r"([A-Za-z])\.\.([A-Za-z])", text)
    if m:
        a, b = ord(m.group(1)), ord(m.group(2))
        values = range(a, b + 1) if a <= b else range(a, b - 1, -1)
        return [[(chr(v), _QUOTED)] for v in values]
    return None


def _has_expanded(chars: _Chars) -> bool:
    return any(k == _EXPANDED for _, k in chars)


def _split(chars: _Chars) -> list[_Chars | None]:
    """Word splitting: whitespace that an unquoted expansion produced separates arguments."""
    if not _has_expanded(chars):
        return [chars]
    out: list[_Chars | None] = []
    cur: _Chars = []
    started = False
    for c, k in chars:
        if k == _EXPANDED and c in " \t\n":
            if started:
                out.append(cur)
            cur, started = [], False
            continue
        cur.append((c, k))
        started = True
    if started:
        out.append(cur)
    return out


def _tilde(chars: _Chars, home: str) -> str:
    text = "".join(c for c, _ in chars)
    if chars and chars[0] == ("~", _SOURCE):
        end = next((i for i, (c, _) in enumerate(chars) if c == "/"), len(chars))
        if end == 1:
            return home + text[1:]
        if all(k == _SOURCE for _, k in chars[:end]):
            return os.path.expanduser(text)
    return text
