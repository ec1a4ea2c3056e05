"""Judging commands that run code or SQL: shells and interpreters (their program given as a string, a
file, a process substitution or on standard input), fetchers (what they download, and where it is
saved) and database clients (the SQL they are sent). Part of shellguard.py's judge.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from trails.core.guardnames import DOWNLOADED_CODE, DROP_DATABASE
from trails.monitor.shellparse import Invocation, Word

if TYPE_CHECKING:
    from trails.monitor.shellguard import Judge

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "yash", "fish", "tcsh", "csh"})
FETCHERS = frozenset({"curl", "wget", "fetch", "http", "https", "xh", "xhs", "aria2c", "httpie", "lwp-download",
                       "lwp-request", "GET", "lynx", "links", "w3m", "ftp", "tftp", "nc", "ncat", "socat"})
INTERPRETER = re.compile(r"(python|pypy)[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node(js)?|deno|bun|php[0-9.]*|lua(jit)?"
                          r"[0-9.]*|Rscript|pwsh|powershell|tclsh[0-9.]*|osascript|jshell|groovy|scala|elixir|julia")
# Code in another language that starts commands of its own (judged only as far as: it does).
SHELL_OUT = re.compile(r"\b(system|popen|spawn\w*|subprocess|child_process|exec[lv]p?e?|os\.exec\w*|execSync|"
                       r"Runtime\.getRuntime|shell_exec|passthru|proc_open|IO\.popen|Open3)\b|`[^`]*`|\|\s*\"|\|&")
AWK = frozenset({"awk", "gawk", "mawk", "nawk", "busybox-awk"})
DB_CLIENTS = frozenset({"psql", "mysql", "mariadb", "sqlite3", "sqlite", "duckdb", "sqlcmd", "clickhouse-client",
                         "clickhouse", "mongosh", "mongo", "redis-cli", "cockroach", "cqlsh", "usql", "pgcli",
                         "mycli", "litecli"})
_DROP_SQL = re.compile(r"\bdrop\s+(database|table|schema|keyspace|collection)\b|\btruncate\s+(table\s+)?[\w\"`.]"
                       r"|\bdropDatabase\s*\(|\.drop\s*\(\s*\)|^\s*flush(all|db)\b|\bdelete\s+from\s+[\w\"`.]+\s*(;|$)",
                       re.IGNORECASE | re.MULTILINE)


def code(j: Judge, inv: Invocation, lang: str, word: Word, cwd: str | None, depth: int) -> None:
    """A program given as a string (`sh -c CODE`, `python3 -c CODE`)."""
    if word.value is None:
        if _fetches(word.subs):
            j.find(DOWNLOADED_CODE, inv, "runs code it downloads")
        else:
            j.unseen(inv, f"runs {lang} code built from a variable or substitution")
    elif lang in SHELLS:
        j.line(word.value, cwd, inv.upstream, depth + 1)
    elif SHELL_OUT.search(word.value):
        j.unseen(inv, f"runs commands from {lang} code, which trails does not judge")


def from_stdin(j: Judge, inv: Invocation, lang: str, cwd: str | None, depth: int) -> None:
    """An interpreter reading its program from standard input."""
    files = _stdin_files(inv)
    if _fetches(inv.upstream) or any(j.path_of(f.value or "", cwd) in j.downloaded for f in files):
        j.find(DOWNLOADED_CODE, inv, "runs code it downloads")
    elif lang in SHELLS:
        text = stdin_text(j, inv)
        if text is None:
            j.unseen(inv, f"runs {lang} code that trails cannot read on its input")
        elif text.strip():
            j.line(text, cwd, (), depth + 1)


def script_file(j: Judge, inv: Invocation, lang: str, word: Word, cwd: str | None) -> None:
    if word.proc:
        if _fetches(word.subs):
            j.find(DOWNLOADED_CODE, inv, "runs code it downloads")
        elif lang in SHELLS:
            j.unseen(inv, "runs shell code that another command writes")
    elif word.value is None:
        if _fetches(word.subs):
            j.find(DOWNLOADED_CODE, inv, "runs code it downloads")
        else:
            j.unseen(inv, f"runs a {lang} script named by a variable or substitution")
    elif j.path_of(word.value, cwd) in j.downloaded:
        j.find(DOWNLOADED_CODE, inv, f"runs {word.value}, which it downloads")


def source(j: Judge, inv: Invocation, args: list[Word], cwd: str | None) -> None:
    if not args:
        return
    script_file(j, inv, "sh", args[0], cwd)


def shell(j: Judge, inv: Invocation, name: str, args: list[Word], cwd: str | None, depth: int) -> None:
    i, reads_stdin = 0, False
    while i < len(args):
        a = args[i].value
        if a is None:
            script_file(j, inv, name, args[i], cwd)  # <(…), or a name from a variable
            return
        if a in ("-c",) or (a.startswith("-") and not a.startswith("--") and "c" in a[1:] and "o" not in a):
            if i + 1 >= len(args):
                return
            code(j, inv, name, args[i + 1], cwd, depth)
            return
        if a in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            i += 2
            continue
        if a in ("-s", "-", "--"):
            reads_stdin = a != "--" or i + 1 >= len(args)
            if a == "--" and i + 1 < len(args):
                script_file(j, inv, name, args[i + 1], cwd)
                return
            break
        if a.startswith(("-", "+")):
            reads_stdin = reads_stdin or "s" in a[1:]
            i += 1
            continue
        script_file(j, inv, name, args[i], cwd)
        return
    from_stdin(j, inv, name, cwd, depth)


def interpreter(j: Judge, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
    code_flags, with_value, module = _interpreter_options(name)
    i = 0
    while i < len(args):
        word = args[i]
        a = word.value
        if a is None:
            code(j, inv, name, word, cwd, 0)
            return
        if a in code_flags or any(a.startswith(f) and len(f) == 2 and len(a) > 2 and not a.startswith("--")
                                  for f in code_flags if f.startswith("-") and len(f) == 2):
            if a in code_flags and i + 1 < len(args):
                code(j, inv, name, args[i + 1], cwd, 0)
            return
        if a in module or a.startswith("-m"):
            return  # a module or a subcommand: code from files, not from this line
        if a in with_value:
            i += 2
            continue
        if a == "-":
            break
        if a.startswith("-") and a != "-":
            i += 1
            continue
        script_file(j, inv, name, word, cwd)
        return
    from_stdin(j, inv, name, cwd, 0)


def database(j: Judge, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
    values = [a.value for a in args]
    if name == "dropdb" or (name == "mysqladmin" and any(v in ("drop", "DROP") for v in values)):
        j.find(DROP_DATABASE, inv, "drops a database")
        return
    if name == "mysqladmin":
        return
    sql: list[Word] = []
    files: list[Word] = []
    flags = {"-c", "--command", "-e", "--execute", "-q", "-Q", "--query", "--eval", "-cmd", "-s"}
    file_flags = {"-f", "--file", "-i", "--input", "-init", "--init-file"}
    operands: list[Word] = []
    i = 0
    while i < len(args):
        a = args[i].value
        if a is None:
            sql.append(args[i])
            i += 1
            continue
        if a in flags and i + 1 < len(args):
            sql.append(args[i + 1])
            i += 2
            continue
        if a in file_flags and i + 1 < len(args):
            files.append(args[i + 1])
            i += 2
            continue
        if a.startswith(("--command=", "--execute=", "--query=", "--eval=")):
            v = a.split("=", 1)[1]
            sql.append(Word(v, v))
        elif a.startswith(("--file=", "--init-file=")):
            v = a.split("=", 1)[1]
            files.append(Word(v, v))
        elif a.startswith("-e") and len(a) > 2 and name in ("mysql", "mariadb"):
            sql.append(Word(a[2:], a[2:]))
        elif not a.startswith("-"):
            operands.append(args[i])
        i += 1
    if name in ("sqlite3", "sqlite", "duckdb", "redis-cli", "cqlsh", "usql", "litecli"):
        sql += operands[1:] if name != "redis-cli" else operands
    texts: list[str] = []
    for word in sql:
        if word.value is None:
            j.unseen(inv, f"sends {name} SQL built from a variable or substitution")
            return
        texts.append(word.value)
    for word in files:
        content = read(j, word, cwd)
        if content is None:
            j.unseen(inv, f"runs a SQL file trails cannot read ({word.raw})")
            return
        texts.append(content)
    if not sql and not files:
        stdin = stdin_text(j, inv)
        if stdin is None:
            j.unseen(inv, f"sends {name} SQL that trails cannot see on its input")
            return
        texts.append(stdin)
    if any(_DROP_SQL.search(t) for t in texts):
        j.find(DROP_DATABASE, inv, f"drops or empties a database or table ({name})")


def stdin_text(j: Judge, inv: Invocation) -> str | None:
    """What reaches the command's standard input, when the line shows it ('' for nothing)."""
    if inv.stdin_unknown:
        return None
    if inv.stdin_text is not None:
        return inv.stdin_text
    texts = []
    for word in _stdin_files(inv):  # `< FILE`
        content = read(j, word, inv.cwd)
        if content is None:
            return None
        texts.append(content)
    for up in inv.upstream:
        argv = up.argv()
        if not argv or argv[0] is None:
            return None
        base = os.path.basename(argv[0])
        if base in ("echo", "printf") and None not in argv:
            texts.append(" ".join(a for a in argv[1:] if a is not None))
        elif base == "cat" and None not in argv and up.stdin_text is None:
            for w in up.words[1:]:
                content = read(j, w, up.cwd)
                if content is None:
                    return None
                texts.append(content)
        elif up.stdin_text is not None and base == "cat":
            texts.append(up.stdin_text)
        else:
            return None
    return "\n".join(texts)


def read(j: Judge, word: Word, cwd: str | None) -> str | None:
    if word.value is None or word.value.startswith("-"):
        return None if word.value is None else ""
    path = j.path_of(word.value, cwd)
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read(1024 * 1024 + 1)
    except OSError:
        return ""  # no such file: the client fails, nothing is dropped
    return None if len(data) > 1024 * 1024 else data.decode("utf-8", "replace")


def fetch(j: Judge, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
    """Where a fetcher saves what it downloads: a write, and a file nothing on the line may run."""
    values = [a.value for a in args]
    outputs: list[Word] = []
    for i, v in enumerate(values):
        if v is None:
            continue
        nxt = args[i + 1] if i + 1 < len(args) else None
        saves = {"curl": ("-o", "--output"), "wget": ("-O", "--output-document")}.get(name, ())
        writes = {"curl": ("--output-dir",), "wget": ("-P", "--directory-prefix", "-o", "--output-file",
                                                      "-a")}.get(name, ())
        if nxt is not None and (v in saves or (name == "curl" and re.fullmatch(r"-[a-zA-Z]*o", v))):
            outputs.append(nxt)
        elif nxt is not None and v in writes:
            j.write(inv, nxt, cwd, "writes")
        elif v.startswith(("--output=", "--output-document=")):
            path = v.split("=", 1)[1]
            outputs.append(Word(path, v))
    urls = [v for v in values if v and re.match(r"[a-z]+://", v)]
    remote_name = (name == "wget" and not outputs) or (name == "curl" and any(
        v in ("-O", "--remote-name") or (v and re.fullmatch(r"-[a-zA-Z]*O[a-zA-Z]*", v)) for v in values))
    if remote_name:
        outputs += [Word(os.path.basename(u.split("?")[0].rstrip("/")) or "index.html", u) for u in urls]
    for r in inv.redirects:
        if r.op in (">", ">>", ">|", "&>", "&>>") and r.fd in (None, "1") and r.target is not None:
            outputs.append(r.target)
    for out in outputs:
        if out.value in ("-", "/dev/stdout"):
            continue
        j.write(inv, out, cwd, "saves a download to")
        saved = j.path_of(out.value, cwd) if out.value is not None else None
        if saved is not None:
            j.downloaded.add(saved)


def _interpreter_options(name: str) -> tuple[set[str], set[str], set[str]]:
    """(options that give the program as a string, options that take a value, words after which the
    program comes from a module or subcommand) of an interpreter."""
    if name.startswith(("python", "pypy")):
        return {"-c"}, {"-W", "-X", "-Q"}, {"-m"}
    if name.startswith("perl"):
        return {"-e", "-E"}, {"-I", "-M", "-m", "-x"}, set()
    if name.startswith("node") or name in ("deno", "bun"):
        return ({"-e", "--eval", "-p", "--print"}, {"-r", "--require", "--import", "--loader", "-C", "--conditions"},
                {"run", "test", "x", "install", "add", "fmt", "lint", "task", "compile", "check", "repl"})
    if name.startswith("php"):
        return {"-r", "-B", "-R", "-E"}, {"-d", "-c", "-z"}, set()
    return {"-e", "-c", "-Command", "-command", "--eval"}, set(), set()


def _fetches(invocations: Iterable[Invocation]) -> bool:
    """Whether any of these commands (or one substituted into them) downloads something."""
    for inv in invocations:
        words = list(inv.words)
        while words and words[0].value is not None and os.path.basename(words[0].value) in (
                "env", "command", "nice", "nohup", "timeout", "stdbuf", "sudo", "doas", "exec", "builtin"):
            words = [w for w in words[1:] if not (w.value or "").startswith("-") and "=" not in (w.value or "")]
            if words and os.path.basename(words[0].value or "") != "timeout" and \
                    re.fullmatch(r"\d+[smhd]?", words[0].value or ""):
                words = words[1:]
        if words and words[0].value is not None and os.path.basename(words[0].value) in FETCHERS:
            return True
        if any(_fetches(w.subs) for w in inv.words):
            return True
    return False


def _stdin_files(inv: Invocation) -> list[Word]:
    return [r.target for r in inv.redirects
            if r.op == "<" and r.fd in (None, "0") and r.target is not None and not r.target.proc]
