"""Judging git commands: what rewrites or discards history or work (force pushes in every spelling,
reset --hard, clean -f, checkout/restore of paths, branch -D, stash drop …), `-c` settings that make
git run a command, and aliases, judged by what they stand for. Part of shellguard.py's judge.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from trails.core.guardnames import GIT_HISTORY, WRITE_OUTSIDE
from trails.monitor.shellparse import Invocation, Word

if TYPE_CHECKING:
    from trails.monitor.shellguard import Judge

# git -c settings that make git run a command (any of them would run what trails has not seen).
_GIT_CODE_CONFIG = re.compile(r"alias\..*|core\.(sshcommand|pager|editor|fsmonitor|hookspath|askpass|gitproxy)|"
                              r"pager\..*|credential\..*|filter\..*|diff\.external|sequence\.editor|"
                              r"uploadpack\..*|receive\..*|protocol\..*|include\..*|includeif\..*|"
                              r".*\.(textconv|command|driver|program|cmd|helper|process|clean|smudge|path)",
                              re.IGNORECASE)
_GIT_BUILTINS = frozenset("""
add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore
check-mailmap check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column commit
commit-graph commit-tree config count-objects credential describe diagnose diff diff-files diff-index diff-tree
difftool fast-export fast-import fetch fetch-pack filter-branch fmt-merge-msg for-each-ref for-each-repo
format-patch fsck gc get-tar-commit-id grep gui hash-object help hook index-pack init instaweb
interpret-trailers log ls-files ls-remote ls-tree mailinfo mailsplit maintenance merge merge-base merge-file
merge-index merge-tree mktag mktree multi-pack-index mv name-rev notes pack-objects pack-redundant pack-refs
patch-id prune prune-packed pull push range-diff read-tree rebase reflog remote repack replace replay
request-pull rerere reset restore rev-list rev-parse revert rm send-email shortlog show show-branch show-index
show-ref sparse-checkout stash status stripspace submodule switch symbolic-ref tag unpack-file unpack-objects
update-index update-ref update-server-info var verify-commit verify-pack verify-tag version whatchanged worktree
write-tree lfs filter-repo
""".split())  # noqa: SIM905 (a word list reads best as words)


def git(j: Judge, inv: Invocation, args: list[Word], cwd: str | None, depth: int) -> None:
    i = 0
    configs: list[str] = []
    while i < len(args):
        a = args[i].value
        if a is None:
            j.unseen(inv, f"gives git an option from a variable or substitution ({args[i].raw})")
            return
        if a in ("-c", "-C", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env",
                 "--super-prefix", "--attr-source") and i + 1 < len(args):
            given = args[i + 1].value
            if given is None:
                j.unseen(inv, f"gives git {a} a value from a variable or substitution")
                return
            if a == "-C":
                cwd = None if cwd is None else os.path.normpath(os.path.join(cwd, given))
            if a == "-c":
                configs.append(given)
            if a in ("--config-env", "--exec-path"):
                j.unseen(inv, f"sets git {a}, which decides what git runs")
                return
            i += 2
            continue
        if a.startswith("--exec-path=") or a.startswith("--config-env="):
            j.unseen(inv, "sets git's exec path or config from the environment")
            return
        if a.startswith("-"):
            i += 1
            continue
        break
    for item in configs:
        key = item.split("=", 1)[0]
        if _GIT_CODE_CONFIG.fullmatch(key):
            j.unseen(inv, f"sets git -c {key}, which makes git run a command")
            return
    if i >= len(args):
        return
    sub = args[i].value or ""
    rest = args[i + 1:]
    if sub not in _GIT_BUILTINS:
        git_alias_(j, inv, sub, rest, args[:i], cwd, depth)
        return
    judged = {"push", "reset", "clean", "checkout", "restore", "switch", "branch", "stash", "rm", "reflog",
              "update-ref", "worktree", "filter-branch", "filter-repo", "gc", "prune", "replace"}
    if sub in judged:
        for w in rest:
            if w.value is None:
                j.unseen(inv, f"gives git {sub} an argument from a variable or substitution ({w.raw})")
                return
    values = [w.value or "" for w in rest]
    why = _git_rule(sub, values, configs, lambda p: j.path_exists(p, cwd))
    if why:
        j.find(GIT_HISTORY, inv, why)
    if sub == "config" and any(v in ("--global", "--system", "--file", "-f") or v.startswith("--file=")
                               for v in values) and not any(v in ("--get", "--list", "-l", "--get-all",
                                                                  "--get-regexp") for v in values):
        j.find(WRITE_OUTSIDE, inv, "changes git configuration outside the session")
    if sub == "clone":
        ops = [w for w in rest if not (w.value or "").startswith("-")]
        if len(ops) >= 2:
            j.write(inv, ops[1], cwd, "clones into")


def git_alias_(j: Judge, inv: Invocation, sub: str, rest: list[Word], options: list[Word], cwd: str | None,
               depth: int) -> None:
    if j.git_alias is None:
        return  # not a git command and no alias known: a git-<sub> program, judged like any other
    try:
        meaning = j.git_alias(sub)
    except Exception:
        j.unseen(inv, f"runs `git {sub}`, which trails could not look up")
        return
    if meaning is None:
        return
    if depth >= j.max_depth:
        j.unseen(inv, f"runs the git alias {sub}, nested too deep")
        return
    if meaning.startswith("!"):
        j.line(meaning[1:] + " " + " ".join(shlex.quote(w.value or "") for w in rest), cwd, inv.upstream,
                  depth + 1)
        return
    try:
        expanded = [Word(p, p) for p in shlex.split(meaning)]
    except ValueError:
        j.unseen(inv, f"runs the git alias {sub} ({meaning!r}), which does not parse")
        return
    git(j, inv, [*options, *expanded, *rest], cwd, depth + 1)


def _git_rule(sub: str, values: list[str], configs: list[str], exists: Callable[[str], bool]) -> str | None:
    """Why `git SUB VALUES…` rewrites or discards history or work, or None."""
    shorts = "".join(v[1:] for v in values if v.startswith("-") and not v.startswith("--"))
    operands = [v for v in values if not v.startswith("-")]
    if sub == "push":
        if any(v in ("--force", "--force-with-lease", "--force-if-includes", "--mirror") or
               v.startswith(("--force-with-lease=", "--force=")) for v in values) or "f" in _push_shorts(values):
            return "force-pushes, rewriting the remote's history"
        if any(v in ("--delete", "--prune") for v in values) or "d" in _push_shorts(values):
            return "deletes branches on the remote"
        refspecs = operands[1:]
        if any(r.startswith("+") for r in refspecs):
            return "force-pushes a +refspec, rewriting the remote's history"
        if any(r.startswith(":") for r in refspecs):
            return "deletes a branch on the remote"
        if any(c.split("=", 1)[0].lower().startswith(("remote.", "push.")) for c in configs):
            return "pushes with -c settings that can force it"
    elif sub == "reset":
        if any(v in ("--hard", "--merge", "--keep") for v in values):
            return "discards uncommitted work (reset --hard)"
    elif sub == "clean":
        if "--force" in values or "f" in shorts:
            return "deletes untracked files (clean -f)"
    elif sub == "checkout":
        if "--force" in values or "f" in shorts or "B" in shorts or any(v in ("--ours", "--theirs") for v in values):
            return "discards uncommitted work (checkout --force)"
        if "--" in values and values.index("--") < len(values) - 1:
            return "discards uncommitted changes to files (checkout -- PATHS)"
        if any(v == "." or exists(v) for v in operands):
            return "discards uncommitted changes to files (checkout PATH)"
    elif sub == "restore":
        staged = "--staged" in values or "S" in shorts
        worktree = "--worktree" in values or "W" in shorts
        if not staged or worktree:
            return "discards uncommitted changes to files (restore)"
    elif sub == "switch":
        if any(v in ("--force", "--discard-changes", "--force-create") for v in values) or set(shorts) & {"f", "C"}:
            return "discards uncommitted work or overwrites a branch (switch --force)"
    elif sub == "branch":
        force = "--force" in values or "f" in shorts
        if "D" in shorts or "M" in shorts or "C" in shorts or (force and (
                "d" in shorts or "--delete" in values or "m" in shorts or "c" in shorts or operands)):
            return "deletes or overwrites a branch (branch -D / --force)"
    elif sub == "stash":
        if operands[:1] in (["drop"], ["clear"]):
            return f"discards stashed work (stash {operands[0]})"
    elif sub == "rm":
        if "--force" in values or "f" in shorts:
            return "discards uncommitted changes to the files it removes (rm -f)"
    elif sub in ("filter-branch", "filter-repo"):
        return f"rewrites history ({sub})"
    elif sub == "reflog":
        if operands[:1] in (["expire"], ["delete"]):
            return "discards the reflog, which is what recovers lost commits"
    elif sub == "update-ref":
        if "-d" in values or "--delete" in values:
            return "deletes a ref"
    elif sub == "worktree":
        if operands[:1] == ["remove"] and ("--force" in values or "f" in shorts):
            return "removes a worktree with its uncommitted work (worktree remove --force)"
    elif sub in ("gc", "prune"):
        if any(v.startswith("--prune=now") or v == "--expire=now" or v.startswith("--expire=now") for v in values):
            return "deletes unreachable commits now"
    elif sub == "replace":
        return "replaces objects, rewriting what history shows"
    return None


def _push_shorts(values: list[str]) -> str:
    out = ""
    skip = False
    for v in values:
        if skip:
            skip = False
            continue
        if v.startswith("-") and not v.startswith("--"):
            body = v[1:]
            if "o" in body:  # -o takes a value: the letters after it are that value
                body = body[: body.index("o")]
                skip = v.endswith("o")
            out += body
    return out
