"""What a shell command would do, judged before auto-yes approves it (the built-in guards).

The command is parsed (shellparse.py, tree-sitter's bash grammar), wrappers are looked through
(`env`, `command`, `nice`, `timeout`, `xargs`, `find -exec`, `sh -c 'literal'`, …), and each simple
command it runs is judged by what it does: deleting recursively or outside the session's directory,
writing outside it, rewriting or discarding git history or work, running downloaded code, raising
privileges, touching devices or file systems, dropping databases. Paths are resolved against the
directory each command runs in, symlinks followed where they exist. What cannot be seen without
running something — `eval`, a command name from a variable, a computed `bash -c` string, a line the
parser cannot read — is a finding of its own (UNSEEN): never approved.
"""

from __future__ import annotations

import glob as globmod
import os
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from trails.core.config import UNSEEN_GUARD
from trails.monitor.shellparse import Invocation, Word, parse

RECURSIVE_DELETE = "recursive delete"
DELETE_OUTSIDE = "delete outside the session"
WRITE_OUTSIDE = "write outside the session"
GIT_HISTORY = "git history"
DOWNLOADED_CODE = "downloaded code"
PRIVILEGES = "privileges"
DEVICES = "devices and file systems"
DROP_DATABASE = "drop database"
UNSEEN = UNSEEN_GUARD

# The built-in guards, by name (what `auto_yes.guards` in the user's settings switches off with "").
BUILTIN: dict[str, str] = {
    RECURSIVE_DELETE: "deletes a directory tree (rm -r, find -delete without a filter, rsync --delete …)",
    DELETE_OUTSIDE: "deletes or moves away a file outside the session's directory",
    WRITE_OUTSIDE: "writes outside the session's directory (redirections, cp, mv, ln, tee, dd, install, …)",
    GIT_HISTORY: "rewrites or discards git history or work (push --force, reset --hard, clean -f, …)",
    DOWNLOADED_CODE: "runs code it downloads (curl … | sh, bash <(curl …), python3 -c \"$(curl …)\")",
    PRIVILEGES: "raises privileges (sudo, su, doas, pkexec, setuid bits)",
    DEVICES: "touches devices or file systems (dd of=/dev/…, mkfs, mount, fdisk, chmod -R /)",
    DROP_DATABASE: "drops databases or tables (DROP DATABASE/TABLE via psql, mysql, sqlite3 …)",
    UNSEEN: "cannot be judged without running something (eval, $CMD, bash -c \"$x\", a line that does not parse)",
}

MAX_DEPTH = 4  # `sh -c 'sh -c …'` nested deeper is not followed
MAX_GLOB = 200  # pattern matches checked per word

_DEV_OK = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/full"})
_PRIVILEGE = frozenset({"sudo", "su", "doas", "pkexec", "run0", "chroot", "nsenter", "setpriv", "capsh", "sg",
                        "newgrp", "machinectl"})
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "yash", "fish", "tcsh", "csh"})
_FETCHERS = frozenset({"curl", "wget", "fetch", "http", "https", "xh", "xhs", "aria2c", "httpie", "lwp-download",
                       "lwp-request", "GET", "lynx", "links", "w3m", "ftp", "tftp", "nc", "ncat", "socat"})
_INTERPRETER = re.compile(r"(python|pypy)[0-9.]*|perl[0-9.]*|ruby[0-9.]*|node(js)?|deno|bun|php[0-9.]*|lua(jit)?"
                          r"[0-9.]*|Rscript|pwsh|powershell|tclsh[0-9.]*|osascript|jshell|groovy|scala|elixir|julia")
_DEVICE_TOOLS = frozenset({
    "mkfs", "mke2fs", "mkswap", "swapon", "swapoff", "mount", "umount", "fdisk", "sfdisk", "cfdisk", "parted",
    "gdisk", "sgdisk", "cgdisk", "wipefs", "losetup", "cryptsetup", "blkdiscard", "hdparm", "sdparm", "mdadm",
    "dmsetup", "pvcreate", "pvremove", "vgcreate", "vgremove", "lvcreate", "lvremove", "lvresize", "zpool",
    "tune2fs", "resize2fs", "e2fsck", "fsck", "debugfs", "xfs_repair", "mkfs.ext4", "insmod", "rmmod", "modprobe",
    "reboot", "shutdown", "halt", "poweroff", "telinit", "kexec", "efibootmgr", "grub-install", "flashrom",
    "nvme", "badblocks", "fstrim", "mountpoint",
})
_DB_CLIENTS = frozenset({"psql", "mysql", "mariadb", "sqlite3", "sqlite", "duckdb", "sqlcmd", "clickhouse-client",
                         "clickhouse", "mongosh", "mongo", "redis-cli", "cockroach", "cqlsh", "usql", "pgcli",
                         "mycli", "litecli"})
_DROP_SQL = re.compile(r"\bdrop\s+(database|table|schema|keyspace|collection)\b|\btruncate\s+(table\s+)?[\w\"`.]"
                       r"|\bdropDatabase\s*\(|\.drop\s*\(\s*\)|^\s*flush(all|db)\b|\bdelete\s+from\s+[\w\"`.]+\s*(;|$)",
                       re.IGNORECASE | re.MULTILINE)
# Environment variables whose value is a command some program runs, or code it loads.
_CODE_VARS = re.compile(r"GIT_SSH_COMMAND|GIT_SSH|GIT_EDITOR|GIT_SEQUENCE_EDITOR|GIT_PAGER|GIT_EXTERNAL_DIFF|"
                        r"GIT_ASKPASS|SSH_ASKPASS|EDITOR|VISUAL|PAGER|MANPAGER|PROMPT_COMMAND|BASH_ENV|ENV|"
                        r"LD_PRELOAD|LD_AUDIT|LD_LIBRARY_PATH|PERL5OPT|RUBYOPT|NODE_OPTIONS|PYTHONSTARTUP|"
                        r"PYTHONPATH|GIT_CONFIG_PARAMETERS|GIT_CONFIG_COUNT|GIT_CONFIG_KEY_\d+|GIT_CONFIG_VALUE_\d+|"
                        r"GIT_CONFIG|GIT_CONFIG_GLOBAL|GIT_DIR|GIT_WORK_TREE|GIT_EXEC_PATH|PATH")
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


@dataclass(frozen=True)
class Where:
    """The session's directory: `root` on this machine, `seen_as` as the agent names it when that
    differs (a container's /workspace), and the home `~` means."""

    root: str
    seen_as: str | None = None
    home: str = field(default_factory=lambda: os.path.expanduser("~"))

    @property
    def start(self) -> str:
        return self.seen_as or self.root


@dataclass(frozen=True)
class Finding:
    guard: str
    reason: str
    syntax: bool = False  # the line does not parse (as opposed to a part of it that cannot be seen)


@dataclass
class Judgment:
    findings: list[Finding]  # every reason not to approve, in the order the commands run
    commands: list[str]  # each simple command judged, its words as one line (what added guards see too)


def judge(command: str, where: Where, *, allow: Sequence[re.Pattern[str]] = (),
          git_alias: Callable[[str], str | None] | None = None) -> Judgment:
    """Every reason not to approve running `command` in the session's directory.

    `allow` patterns exempt a simple command whose words (joined as a shell would quote them) they
    match in full from the built-in judgments, never from UNSEEN; `git_alias` says what a git alias
    stands for (None: not an alias).
    """
    judge_ = _Judge(where, allow, git_alias)
    judge_.line(command, where.start, (), 0)
    return Judgment(judge_.findings, judge_.commands)


def normalized(words: Iterable[str]) -> str:
    """A simple command's words as one line, quoted only where the shell would need it."""
    return shlex.join(words)


def _short(text: str, limit: int = 72) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


class _Judge:
    def __init__(self, where: Where, allow: Sequence[re.Pattern[str]],
                 git_alias: Callable[[str], str | None] | None) -> None:
        self.where = Where(os.path.realpath(where.root), where.seen_as, where.home)
        self.allow = allow
        self.git_alias = git_alias
        self.findings: list[Finding] = []
        self.commands: list[str] = []
        self.downloaded: set[str] = set()  # files a fetcher on this line writes
        self.links: dict[str, str] = {}  # symlinks this line makes: link → what it points to

    # --- findings -----------------------------------------------------------------------------

    def find(self, guard: str, inv: Invocation | str, what: str, *, syntax: bool = False) -> None:
        text = inv if isinstance(inv, str) else inv.text
        finding = Finding(guard, f"`{_short(text)}` {what}" if text else what, syntax)
        if finding not in self.findings:
            self.findings.append(finding)

    def unseen(self, inv: Invocation | str, what: str) -> None:
        self.find(UNSEEN, inv, what)

    # --- lines and commands -------------------------------------------------------------------

    def line(self, text: str, cwd: str | None, upstream: tuple[Invocation, ...], depth: int) -> None:
        if depth > MAX_DEPTH:
            self.unseen(text, f"nests shells more than {MAX_DEPTH} deep")
            return
        script = parse(text, cwd=cwd, home=self.where.home, upstream=upstream)
        for problem in script.problems:
            self.find(UNSEEN, text, f"cannot be judged: {problem}", syntax=True)
        for inv in script.commands:
            self.invocation(inv, depth)

    def invocation(self, inv: Invocation, depth: int) -> None:
        for redirect in inv.redirects:
            if redirect.target is None or redirect.op in ("<", "<<<", "<&"):
                continue
            if redirect.op in (">&", "<&") and redirect.target.value is not None and \
                    re.fullmatch(r"\d+-?|-", redirect.target.value):
                continue  # a descriptor copied or closed, no file
            self.write(inv, redirect.target, inv.cwd, "redirects output to")
        for name, value in inv.assigns.items():
            self.assignment(inv, name, value, depth)
        if inv.words:
            self.simple(inv, list(inv.words), inv.cwd, depth)

    def assignment(self, inv: Invocation, name: str, value: Word, depth: int) -> None:
        if not _CODE_VARS.fullmatch(name):
            return
        if name.endswith(("COMMAND", "EDITOR", "PAGER", "_DIFF", "GIT_SSH", "ASKPASS")) or name in ("VISUAL",):
            if value.value is None:
                self.unseen(inv, f"sets {name} (a command something runs) from a variable or substitution")
            else:
                self.line(value.value, inv.cwd, (), depth + 1)
            return
        if name == "PATH" and value.value is not None and all(
                p.startswith("/usr/") or p.startswith("/bin") or p in ("/sbin",) or "$" in p
                for p in value.value.split(":") if p):
            return
        self.unseen(inv, f"sets {name}, which changes what the command runs or loads")

    def allowed(self, words: list[Word]) -> bool:
        if not self.allow or any(w.value is None for w in words):
            return False
        text = normalized(w.value for w in words if w.value is not None)
        return any(p.fullmatch(text) for p in self.allow)

    def simple(self, inv: Invocation, words: list[Word], cwd: str | None, depth: int) -> None:
        """Judge one simple command, looking through the wrappers in front of it."""
        while words:
            head = words[0]
            if head.value is None:
                self.unseen(inv, f"takes its command name from a variable or substitution ({_short(head.raw, 40)})")
                return
            if head.glob:
                self.unseen(inv, f"takes its command name from a file name pattern ({head.raw})")
                return
            if all(w.value is not None for w in words):
                self.commands.append(normalized(w.value for w in words if w.value is not None))
            if self.allowed(words):
                return
            name = os.path.basename(head.value)
            if self.path_of(head.value, cwd) in self.downloaded:
                self.find(DOWNLOADED_CODE, inv, f"runs {head.value}, which it downloads")
                return
            unwrapped = self.unwrap(inv, name, words, cwd, depth)
            if unwrapped is None:
                return
            if unwrapped[0] is not words:
                words, cwd = unwrapped
                continue
            self.rules(inv, name, words, cwd, depth)
            return

    def unwrap(self, inv: Invocation, name: str, words: list[Word], cwd: str | None,
               depth: int) -> tuple[list[Word], str | None] | None:
        """(the command a wrapper runs, its directory); `words` itself when `name` is no wrapper; None
        when judging stops here (a finding, or nothing more runs)."""
        args = words[1:]
        skip = self.skipper(inv, name, args, cwd)
        if name in _PRIVILEGE:
            # Judged through as well: what runs with the privileges meets the other guards too.
            self.find(PRIVILEGES, inv, f"raises privileges ({name})")
            if name in ("sudo", "doas", "pkexec", "run0"):
                return skip(flags="AbEeHiKklnPSsVv", with_value="ugCDhpRrTtU",
                            long_values=("--user", "--group", "--chdir", "--host", "--prompt", "--role", "--type",
                                         "--other-user", "--close-from", "--command-timeout"))
            if name == "su":
                code = next((args[i + 1] for i, a in enumerate(args[:-1]) if a.value in ("-c", "--command")), None)
                if code is not None:
                    self.code(inv, "sh", code, cwd, depth)
            if name == "chroot":
                return skip(with_value="", long_values=("--userspec", "--groups"), drop=1)
            return None
        if name == "env":
            return self.unwrap_env(inv, args, cwd, depth)
        if name in ("command", "builtin"):
            if any(a.value in ("-v", "-V") for a in args[:2]):
                return None  # a query: runs nothing
            return skip(flags="p")
        if name == "exec":
            return skip(flags="cl", with_value="a")
        if name in ("nohup", "unbuffer", "catchsegv", "busybox", "tini", "dumb-init"):
            return args, cwd
        if name == "time":
            for i, a in enumerate(args[:-1]):
                if a.value == "-o":
                    self.write(inv, args[i + 1], cwd, "writes")
            return skip(flags="pvqa", with_value="fo")
        if name == "nice":
            return self.skipper(inv, name, [a for a in args if not re.fullmatch(r"-\d+", a.value or "")], cwd)(
                with_value="n")
        if name == "timeout":
            return skip(flags="v", with_value="sk", drop=1)
        if name == "stdbuf":
            return skip(with_value="ioe")
        if name == "ionice":
            return skip(flags="tp", with_value="cn")
        if name == "setsid":
            return skip(flags="fwc")
        if name in ("chrt", "taskset"):
            return skip(flags="abdfiomprRve", with_value="c" if name == "taskset" else "T", drop=1)
        if name == "xvfb-run":
            return skip(flags="apw", with_value="nsfel")
        if name == "flock":
            code = next((args[i + 1] for i, a in enumerate(args[:-1]) if a.value in ("-c", "--command")), None)
            if code is not None:
                self.code(inv, "sh", code, cwd, depth)
                return None
            return skip(flags="sxunoF", with_value="Ew", drop=1)
        if name in ("uv", "poetry", "pipenv", "pdm", "hatch", "rye", "bundle", "pnpm", "yarn") and args and \
                args[0].value in ("run", "exec") and not (name in ("pnpm", "yarn") and args[0].value == "run"):
            return self.skipper(inv, name, args[1:], cwd)(
                with_value="p", long_values=("--with", "--python", "--project", "--directory", "--package",
                                             "--extra", "--group", "--env-file", "--index", "--from", "--env", "-e"))
        if name == "watch":
            rest = _skip(args, flags="bcdegtxpw", with_value="nq")
            if rest is None or any(w.value is None for w in rest):
                self.unseen(inv, "runs a command built from a variable or substitution")
                return None
            if any(a.value in ("-x", "--exec") for a in args):
                return rest, cwd
            if rest:
                self.line(" ".join(w.value for w in rest if w.value is not None), cwd, (), depth + 1)
            return None
        if name == "xargs":
            return self.unwrap_xargs(inv, args, cwd)
        return words, cwd

    def skipper(self, inv: Invocation, name: str, args: list[Word],
                cwd: str | None) -> Callable[..., tuple[list[Word], str | None] | None]:
        """A wrapper's options skipped: what it runs (none: nothing runs); an option from a variable
        could be anything, so judging stops there."""
        def skip(*, flags: str = "", with_value: str = "", long_values: tuple[str, ...] = (),
                 drop: int = 0) -> tuple[list[Word], str | None] | None:
            rest = _skip(args, flags=flags, with_value=with_value, long_values=long_values)
            if rest is None:
                self.unseen(inv, f"passes {name} an option from a variable or substitution")
                return None
            return rest[drop:], cwd
        return skip

    def unwrap_env(self, inv: Invocation, args: list[Word], cwd: str | None,
                   depth: int) -> tuple[list[Word], str | None] | None:
        i = 0
        while i < len(args):
            a = args[i].value
            if a is None:
                self.unseen(inv, "passes env an argument from a variable or substitution")
                return None
            if a == "--":
                i += 1
                break
            if a in ("-u", "--unset", "-C", "--chdir", "-S", "--split-string") and i + 1 < len(args):
                value = args[i + 1].value
                if a in ("-C", "--chdir"):
                    cwd = None if value is None or cwd is None else os.path.normpath(os.path.join(cwd, value))
                if a in ("-S", "--split-string"):
                    return self.split_string(inv, args[i + 1], args[i + 2:], cwd)
                i += 2
                continue
            if a.startswith("--chdir="):
                cwd = None if cwd is None else os.path.normpath(os.path.join(cwd, a.split("=", 1)[1]))
            elif a.startswith(("--split-string=", "-S")) and len(a) > 2:
                value = a.split("=", 1)[1] if a.startswith("--") else a[2:]
                return self.split_string(inv, Word(value, value), args[i + 1:], cwd)
            elif "=" in a and not a.startswith("-"):
                key, _, value = a.partition("=")
                self.assignment(inv, key, Word(value, value), depth)
            elif not a.startswith("-"):
                break
            i += 1
        return args[i:], cwd

    def split_string(self, inv: Invocation, word: Word, rest: list[Word],
                     cwd: str | None) -> tuple[list[Word], str | None] | None:
        if word.value is None:
            self.unseen(inv, "splits a string from a variable or substitution into a command")
            return None
        try:
            parts = shlex.split(word.value)
        except ValueError:
            self.unseen(inv, "splits a string that does not parse into a command")
            return None
        return [Word(p, p) for p in parts] + rest, cwd

    def unwrap_xargs(self, inv: Invocation, args: list[Word], cwd: str | None) -> tuple[list[Word], str | None]:
        replace: str | None = None
        i = 0
        while i < len(args):
            a = args[i].value or ""
            if a == "--":
                i += 1
                break
            if a in ("-I", "-L", "-n", "-P", "-s", "-d", "-E", "-a", "--arg-file", "--delimiter", "--max-args",
                     "--max-procs", "--max-lines", "--max-chars", "--replace", "--eof", "--process-slot-var"):
                if a in ("-I", "--replace"):
                    replace = args[i + 1].value if i + 1 < len(args) else None
                i += 2
                continue
            if a.startswith("-I") or a.startswith("--replace="):
                replace = a[2:] if a.startswith("-I") else a.split("=", 1)[1]
            elif a.startswith("-i"):
                replace = a[2:] or "{}"
            elif not a.startswith("-"):
                break
            i += 1
        rest = args[i:] or [Word("echo", "echo")]
        unknown = Word(None, "<input>")  # what xargs reads from its input: not on the line
        if replace:
            return [unknown if w.value is not None and replace in w.value else w for w in rest], cwd
        return [*rest, unknown], cwd

    # --- the rules ----------------------------------------------------------------------------

    def rules(self, inv: Invocation, name: str, words: list[Word], cwd: str | None, depth: int) -> None:
        args = words[1:]
        if name == "eval":
            self.unseen(inv, "runs a string with eval")
        elif name == "alias" and any("=" in (a.value or "=") for a in args):
            self.unseen(inv, "defines an alias, which changes what later commands run")
        elif name == "trap" and args:
            self.code(inv, "sh", args[0], cwd, depth)
        elif name in ("source", "."):
            self.source(inv, args, cwd)
        elif name in _SHELLS:
            self.shell(inv, name, args, cwd, depth)
        elif _INTERPRETER.fullmatch(name):
            self.interpreter(inv, name, args, cwd)
        elif name in _DB_CLIENTS or name in ("dropdb", "mysqladmin"):
            self.database(inv, name, args, cwd)
        elif name in ("rm", "unlink", "rmdir", "shred", "srm"):
            self.remove(inv, name, args, cwd)
        elif name == "find":
            self.find_(inv, args, cwd, depth)
        elif name in ("cp", "mv", "install", "ln", "rsync", "scp"):
            self.copy(inv, name, args, cwd)
        elif name in ("tee", "touch", "mkdir", "truncate", "mkfifo", "mknod"):
            opts_with_value = {"touch": "rdt", "mkdir": "m", "truncate": "sr", "mknod": "m", "mkfifo": "m"}
            for target in _operands(args, with_value=opts_with_value.get(name, "")):
                self.write(inv, target, cwd, "writes")
        elif name == "dd":
            self.dd(inv, args, cwd)
        elif name in ("sed", "gsed", "perl") and self.in_place(args):
            for target in self.in_place_files(name, args):
                self.write(inv, target, cwd, "edits")
            if name == "perl":
                self.interpreter(inv, name, args, cwd)
        elif name in ("chmod", "chown", "chgrp", "chattr", "setfacl"):
            self.permissions(inv, name, args, cwd)
        elif name in ("tar", "bsdtar", "unzip", "7z", "unrar"):
            self.archive(inv, name, args, cwd)
        elif name == "git":
            self.git(inv, args, cwd, depth)
        elif name in _FETCHERS:
            self.fetch(inv, name, args, cwd)
        elif name in _DEVICE_TOOLS or name.startswith(("mkfs", "fsck.")) or (
                name == "zfs" and args and args[0].value in ("destroy", "rollback")):
            self.find(DEVICES, inv, f"runs {name}, which works on devices or file systems")
        elif name == "crontab" and not any(a.value in ("-l",) for a in args):
            self.find(WRITE_OUTSIDE, inv, "changes your crontab, outside the session")
        elif name == "sysctl" and any((a.value or "").startswith("-w") or "=" in (a.value or "") for a in args):
            self.find(DEVICES, inv, "changes kernel settings")
        elif name in ("kill", "pkill", "killall") and any(a.value in ("-1", "1") for a in args[-1:]):
            self.find(DEVICES, inv, "signals every process or init")

    # --- code in strings, files and pipes --------------------------------------------------------

    def code(self, inv: Invocation, lang: str, word: Word, cwd: str | None, depth: int) -> None:
        """A program given as a string (`sh -c CODE`, `python3 -c CODE`)."""
        if word.value is None:
            if _fetches(word.subs):
                self.find(DOWNLOADED_CODE, inv, "runs code it downloads")
            else:
                self.unseen(inv, f"runs {lang} code built from a variable or substitution")
        elif lang in _SHELLS:
            self.line(word.value, cwd, inv.upstream, depth + 1)

    def from_stdin(self, inv: Invocation, lang: str, cwd: str | None, depth: int) -> None:
        """An interpreter reading its program from standard input."""
        if _fetches(inv.upstream):
            self.find(DOWNLOADED_CODE, inv, "runs code it downloads")
        elif lang in _SHELLS:
            text = self.stdin_text(inv)
            if text is None:
                self.unseen(inv, f"runs {lang} code that trails cannot read on its input")
            elif text.strip():
                self.line(text, cwd, (), depth + 1)

    def script_file(self, inv: Invocation, lang: str, word: Word, cwd: str | None) -> None:
        if word.proc:
            if _fetches(word.subs):
                self.find(DOWNLOADED_CODE, inv, "runs code it downloads")
            elif lang in _SHELLS:
                self.unseen(inv, "runs shell code that another command writes")
        elif word.value is None:
            if _fetches(word.subs):
                self.find(DOWNLOADED_CODE, inv, "runs code it downloads")
            else:
                self.unseen(inv, f"runs a {lang} script named by a variable or substitution")
        elif self.path_of(word.value, cwd) in self.downloaded:
            self.find(DOWNLOADED_CODE, inv, f"runs {word.value}, which it downloads")

    def source(self, inv: Invocation, args: list[Word], cwd: str | None) -> None:
        if not args:
            return
        self.script_file(inv, "sh", args[0], cwd)

    def shell(self, inv: Invocation, name: str, args: list[Word], cwd: str | None, depth: int) -> None:
        i, reads_stdin = 0, False
        while i < len(args):
            a = args[i].value
            if a is None:
                self.script_file(inv, name, args[i], cwd)  # <(…), or a name from a variable
                return
            if a in ("-c",) or (a.startswith("-") and not a.startswith("--") and "c" in a[1:] and "o" not in a):
                if i + 1 >= len(args):
                    return
                self.code(inv, name, args[i + 1], cwd, depth)
                return
            if a in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
                i += 2
                continue
            if a in ("-s", "-", "--"):
                reads_stdin = a != "--" or i + 1 >= len(args)
                if a == "--" and i + 1 < len(args):
                    self.script_file(inv, name, args[i + 1], cwd)
                    return
                break
            if a.startswith(("-", "+")):
                reads_stdin = reads_stdin or "s" in a[1:]
                i += 1
                continue
            self.script_file(inv, name, args[i], cwd)
            return
        self.from_stdin(inv, name, cwd, depth)

    def interpreter(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        code_flags, with_value, module = _interpreter_options(name)
        i = 0
        while i < len(args):
            word = args[i]
            a = word.value
            if a is None:
                self.code(inv, name, word, cwd, 0)
                return
            if a in code_flags or any(a.startswith(f) and len(f) == 2 and len(a) > 2 and not a.startswith("--")
                                      for f in code_flags if f.startswith("-") and len(f) == 2):
                if a in code_flags and i + 1 < len(args):
                    self.code(inv, name, args[i + 1], cwd, 0)
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
            self.script_file(inv, name, word, cwd)
            return
        self.from_stdin(inv, name, cwd, 0)

    # --- databases ------------------------------------------------------------------------------

    def database(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        values = [a.value for a in args]
        if name == "dropdb" or (name == "mysqladmin" and any(v in ("drop", "DROP") for v in values)):
            self.find(DROP_DATABASE, inv, "drops a database")
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
                self.unseen(inv, f"sends {name} SQL built from a variable or substitution")
                return
            texts.append(word.value)
        for word in files:
            content = self.read(word, cwd)
            if content is None:
                self.unseen(inv, f"runs a SQL file trails cannot read ({word.raw})")
                return
            texts.append(content)
        if not sql and not files:
            stdin = self.stdin_text(inv)
            if stdin is None:
                self.unseen(inv, f"sends {name} SQL that trails cannot see on its input")
                return
            texts.append(stdin)
        if any(_DROP_SQL.search(t) for t in texts):
            self.find(DROP_DATABASE, inv, f"drops or empties a database or table ({name})")

    def stdin_text(self, inv: Invocation) -> str | None:
        """What reaches the command's standard input, when the line shows it ('' for nothing)."""
        if inv.stdin_unknown:
            return None
        if inv.stdin_text is not None:
            return inv.stdin_text
        texts = []
        for up in inv.upstream:
            argv = up.argv()
            if not argv or argv[0] is None:
                return None
            base = os.path.basename(argv[0])
            if base in ("echo", "printf") and None not in argv:
                texts.append(" ".join(a for a in argv[1:] if a is not None))
            elif base == "cat" and None not in argv and up.stdin_text is None:
                for w in up.words[1:]:
                    content = self.read(w, up.cwd)
                    if content is None:
                        return None
                    texts.append(content)
            elif up.stdin_text is not None and base == "cat":
                texts.append(up.stdin_text)
            else:
                return None
        return "\n".join(texts)

    def read(self, word: Word, cwd: str | None) -> str | None:
        if word.value is None or word.value.startswith("-"):
            return None if word.value is None else ""
        path = self.path_of(word.value, cwd)
        if path is None:
            return None
        try:
            with open(path, "rb") as fh:
                data = fh.read(1024 * 1024 + 1)
        except OSError:
            return ""  # no such file: the client fails, nothing is dropped
        return None if len(data) > 1024 * 1024 else data.decode("utf-8", "replace")

    # --- files ----------------------------------------------------------------------------------

    def path_of(self, value: str, cwd: str | None) -> str | None:
        """`value` as a path on this machine, symlinks (existing, or made earlier on the line) followed."""
        value = self.host(value)
        if not value.startswith("/"):
            if cwd is None:
                return None
            value = os.path.join(self.host(cwd), value)
        value = os.path.normpath(value)
        for link, target in self.links.items():
            if value == link or value.startswith(link + "/"):
                value = os.path.normpath(target + value[len(link):])
                break
        return os.path.realpath(value)

    def host(self, value: str) -> str:
        seen = self.where.seen_as
        if seen and (value == seen or value.startswith(seen.rstrip("/") + "/")):
            return self.where.root + value[len(seen.rstrip("/")):]
        return value

    def inside(self, path: str) -> bool:
        root = self.where.root
        return path == root or path.startswith(root.rstrip("/") + "/")

    def targets(self, inv: Invocation, word: Word, cwd: str | None, verb: str) -> list[str] | None:
        """The paths a word names (a pattern: itself and what it matches), None when not knowable."""
        if word.value is None:
            self.unseen(inv, f"{verb} a path from a variable or substitution ({_short(word.raw, 40)})")
            return None
        path = self.path_of(word.value, cwd)
        if path is None:
            self.unseen(inv, f"{verb} {word.value} after a change of directory trails cannot follow")
            return None
        out = [path]
        if word.glob:
            pattern = self.host(word.value)
            if not pattern.startswith("/") and cwd is not None:
                pattern = os.path.join(self.host(cwd), pattern)
            out += [os.path.realpath(p) for p in globmod.glob(pattern)[:MAX_GLOB]]
        return out

    def write(self, inv: Invocation, word: Word, cwd: str | None, verb: str) -> None:
        if word.proc:
            return  # >(…): its commands are judged as they are
        value = word.value
        if value is not None and (value in _DEV_OK or re.fullmatch(r"/dev/fd/\d+|/proc/self/fd/\d+", value)):
            return
        paths = self.targets(inv, word, cwd, verb)
        for path in paths or []:
            if path.startswith("/dev/") and not self.inside(path):
                self.find(DEVICES, inv, f"writes the device {path}")
                return
            if not self.inside(path):
                self.find(WRITE_OUTSIDE, inv, f"{verb} {path}, outside {self.where.root}")
                return

    def delete(self, inv: Invocation, word: Word, cwd: str | None, verb: str = "deletes", *,
               under: bool = False) -> None:
        for path in self.targets(inv, word, cwd, verb) or []:
            if not self.inside(path) or (path == self.where.root and not under):
                where = "the session's directory itself" if path == self.where.root else \
                    f"{path}, outside {self.where.root}"
                self.find(DELETE_OUTSIDE, inv, f"{verb} {where}")
                return

    def remove(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        options = [a.value or "" for a in _options(args)]
        if name == "rm" and any(o in ("--recursive",) or (not o.startswith("--") and set(o[1:]) & {"r", "R"})
                                for o in options):
            self.find(RECURSIVE_DELETE, inv, "deletes recursively")
        unknown = next((a for a in args if a.value is None), None)
        if unknown is not None:  # an option or a path: either could be anything
            self.targets(inv, unknown, cwd, "deletes")
            return
        for target in _operands(args):
            self.delete(inv, target, cwd)

    def find_(self, inv: Invocation, args: list[Word], cwd: str | None, depth: int) -> None:
        starts: list[Word] = []
        i = 0
        while i < len(args) and (args[i].value is None or not re.match(r"[-(!),]", args[i].value or "")
                                 or args[i].value in ("-H", "-L", "-P")):
            if args[i].value not in ("-H", "-L", "-P"):
                starts.append(args[i])
            i += 1
        starts = starts or [Word(".", ".")]
        expr = args[i:]
        acts = {"-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"}
        if not any(w.value in acts for w in expr):
            return
        for w in [*starts, *expr]:
            if w.value is None:
                self.unseen(inv, f"gives find an argument from a variable or substitution ({_short(w.raw, 40)})")
                return
        tests = {"-name", "-iname", "-path", "-ipath", "-wholename", "-regex", "-iregex", "-newer", "-mtime", "-mmin",
                 "-atime", "-ctime", "-size", "-empty", "-user", "-group", "-perm", "-links", "-inum", "-samefile",
                 "-lname", "-ilname", "-type"}
        j = 0
        while j < len(expr):
            v = expr[j].value
            if v == "-delete":
                for start in starts:
                    self.delete(inv, start, cwd, "deletes under", under=True)
                if not any(w.value in tests and w.value != "-type" for w in expr[:j]):
                    self.find(RECURSIVE_DELETE, inv, "deletes a whole tree (find -delete without a name test)")
            elif v in ("-exec", "-execdir", "-ok", "-okdir"):
                end = next((k for k in range(j + 1, len(expr)) if expr[k].value in (";", "+")), len(expr))
                inner = expr[j + 1:end]
                for start in starts:
                    placeholder = os.path.join(start.value or ".", "{}")
                    argv = [Word((w.value or "").replace("{}", placeholder), w.raw) for w in inner]
                    if argv:
                        self.simple(inv, argv, cwd, depth)
                j = end
            elif v in ("-fprint", "-fprint0", "-fprintf", "-fls") and j + 1 < len(expr):
                self.write(inv, expr[j + 1], cwd, "writes")
            j += 1

    def copy(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        with_value = {"cp": "tS", "mv": "tS", "ln": "tS", "install": "tSmogC", "rsync": "efT", "scp": "iFoPScJlc"}
        target_dir = None
        for i, a in enumerate(args):
            v = a.value or ""
            if v in ("-t", "--target-directory") and i + 1 < len(args):
                target_dir = args[i + 1]
            elif v.startswith("--target-directory="):
                target_dir = Word(v.split("=", 1)[1], v)
            elif re.fullmatch(r"-[a-zA-Z]*t.+", v) and name != "rsync":
                target_dir = Word(v[v.index("t") + 1:], v)
        operands = _operands(args, with_value=with_value[name])
        if any(a.value is None for a in args):
            bad = next(a for a in args if a.value is None)
            self.targets(inv, bad, cwd, "copies or moves")
            return
        options = {a.value for a in _options(args)}
        if name == "rsync" and any(o and o.startswith("--delete") for o in options):
            self.find(RECURSIVE_DELETE, inv, "deletes whatever the destination has that the source lacks")
        if name == "install" and options & {"-d", "--directory"}:
            dests, sources = operands, []
        elif target_dir is not None:
            dests, sources = [target_dir], operands
        elif name == "ln" and len(operands) == 1:
            dests, sources = [Word(".", ".")], operands
        else:
            dests, sources = operands[-1:], operands[:-1]
        remote = re.compile(r"^[^/]*:")
        for dest in dests:
            if name in ("rsync", "scp") and remote.match(dest.value or ""):
                continue
            self.write(inv, dest, cwd, "moves into" if name == "mv" else "writes")
        if name == "mv":
            for source in sources:
                self.delete(inv, source, cwd, "moves away")
        if name == "ln" and any(o and ("s" in o.lstrip("-") or o == "--symbolic") for o in options) and \
                len(sources) == 1 and dests:
            link = self.path_of(dests[0].value or "", cwd)
            src = sources[0].value or ""
            if link is not None:
                if os.path.isdir(link) and target_dir is None:
                    link = os.path.join(link, os.path.basename(src))
                base = os.path.dirname(link)
                self.links[link] = os.path.normpath(os.path.join(base, self.host(src)))

    def dd(self, inv: Invocation, args: list[Word], cwd: str | None) -> None:
        for a in args:
            if a.value is None:
                self.unseen(inv, f"gives dd an argument from a variable or substitution ({a.raw})")
                return
            if a.value.startswith("of="):
                value = a.value[3:]
                self.write(inv, Word(value, a.raw, a.glob), cwd, "writes")

    def in_place(self, args: list[Word]) -> bool:
        return any((a.value or "").startswith(("-i", "--in-place")) or
                   re.fullmatch(r"-[a-zA-Z]*i.*", a.value or "") is not None for a in args)

    def in_place_files(self, name: str, args: list[Word]) -> list[Word]:
        if name == "perl":
            with_value = "eEIMmx"
            ops = _operands(args, with_value=with_value)
            has_code = any((a.value or "").lstrip("-").startswith(("e", "E")) or "e" in (a.value or "")[1:]
                           for a in args if (a.value or "").startswith("-"))
            return ops if has_code else ops[1:]
        ops = _operands(args, with_value="ef", long_values=("--expression", "--file", "-l", "--line-length"))
        has_script = any(a.value in ("-e", "--expression", "-f", "--file") or
                         (a.value or "").startswith(("--expression=", "--file=")) for a in args)
        return ops if has_script else ops[1:]

    def permissions(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        options = [a.value or "" for a in _options(args)]
        operands = _operands(args)
        reference = any(o.startswith("--reference") for o in options)
        if name == "chmod" and not reference and operands and operands[0].value is not None and \
                re.search(r"[ugoa]*[+=][rwxXt]*s|^[0-7]*[4-7][0-7]{3}$", operands[0].value):
            self.find(PRIVILEGES, inv, "sets a setuid or setgid bit")
            return
        targets = operands if reference or (name in ("chattr",) and not operands[:1]) else operands[1:]
        recursive = any(o in ("-R", "--recursive") or (not o.startswith("--") and "R" in o) for o in options)
        for target in targets:
            paths = self.targets(inv, target, cwd, "changes")
            if paths is None:
                return
            home = os.path.realpath(self.where.home)
            if recursive and any(p == "/" or p == home or self.where.root.startswith(p.rstrip("/") + "/")
                                 for p in paths):
                self.find(DEVICES, inv, f"changes every file under {paths[0]}")
                return
            self.write(inv, target, cwd, "changes")

    def archive(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        values = [a.value or "" for a in args]
        if name in ("tar", "bsdtar"):
            first = values[0] if values else ""
            extract = any(v in ("-x", "--extract", "--get") or (v.startswith("-") and not v.startswith("--")
                                                                and "x" in v) for v in values) or \
                (not first.startswith("-") and "x" in first)
            for i, v in enumerate(values):
                if extract and v in ("-C", "--directory") and i + 1 < len(args):
                    self.write(inv, args[i + 1], cwd, "extracts into")
                elif extract and v.startswith("--directory="):
                    d = v.split("=", 1)[1]
                    self.write(inv, Word(d, d), cwd, "extracts into")
        elif name == "unzip":
            for i, v in enumerate(values):
                if v == "-d" and i + 1 < len(args):
                    self.write(inv, args[i + 1], cwd, "extracts into")
        elif name == "7z":
            for v in values:
                if v.startswith("-o") and len(v) > 2:
                    self.write(inv, Word(v[2:], v), cwd, "extracts into")

    def fetch(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
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
                self.write(inv, nxt, cwd, "writes")
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
            self.write(inv, out, cwd, "saves a download to")
            saved = self.path_of(out.value, cwd) if out.value is not None else None
            if saved is not None:
                self.downloaded.add(saved)

    # --- git ------------------------------------------------------------------------------------

    def git(self, inv: Invocation, args: list[Word], cwd: str | None, depth: int) -> None:
        i = 0
        configs: list[str] = []
        while i < len(args):
            a = args[i].value
            if a is None:
                self.unseen(inv, f"gives git an option from a variable or substitution ({args[i].raw})")
                return
            if a in ("-c", "-C", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env",
                     "--super-prefix", "--attr-source") and i + 1 < len(args):
                given = args[i + 1].value
                if given is None:
                    self.unseen(inv, f"gives git {a} a value from a variable or substitution")
                    return
                if a == "-C":
                    cwd = None if cwd is None else os.path.normpath(os.path.join(cwd, given))
                if a == "-c":
                    configs.append(given)
                if a in ("--config-env", "--exec-path"):
                    self.unseen(inv, f"sets git {a}, which decides what git runs")
                    return
                i += 2
                continue
            if a.startswith("--exec-path=") or a.startswith("--config-env="):
                self.unseen(inv, "sets git's exec path or config from the environment")
                return
            if a.startswith("-"):
                i += 1
                continue
            break
        for item in configs:
            key = item.split("=", 1)[0]
            if _GIT_CODE_CONFIG.fullmatch(key):
                self.unseen(inv, f"sets git -c {key}, which makes git run a command")
                return
        if i >= len(args):
            return
        sub = args[i].value or ""
        rest = args[i + 1:]
        if sub not in _GIT_BUILTINS:
            self.git_alias_(inv, sub, rest, args[:i], cwd, depth)
            return
        judged = {"push", "reset", "clean", "checkout", "restore", "switch", "branch", "stash", "rm", "reflog",
                  "update-ref", "worktree", "filter-branch", "filter-repo", "gc", "prune", "replace"}
        if sub in judged:
            for w in rest:
                if w.value is None:
                    self.unseen(inv, f"gives git {sub} an argument from a variable or substitution ({w.raw})")
                    return
        values = [w.value or "" for w in rest]
        why = _git_rule(sub, values, configs, lambda p: self.path_exists(p, cwd))
        if why:
            self.find(GIT_HISTORY, inv, why)
        if sub == "config" and any(v in ("--global", "--system", "--file", "-f") or v.startswith("--file=")
                                   for v in values) and not any(v in ("--get", "--list", "-l", "--get-all",
                                                                      "--get-regexp") for v in values):
            self.find(WRITE_OUTSIDE, inv, "changes git configuration outside the session")
        if sub == "clone":
            ops = [w for w in rest if not (w.value or "").startswith("-")]
            if len(ops) >= 2:
                self.write(inv, ops[1], cwd, "clones into")

    def git_alias_(self, inv: Invocation, sub: str, rest: list[Word], options: list[Word], cwd: str | None,
                   depth: int) -> None:
        if self.git_alias is None:
            return  # not a git command and no alias known: a git-<sub> program, judged like any other
        try:
            meaning = self.git_alias(sub)
        except Exception:
            self.unseen(inv, f"runs `git {sub}`, which trails could not look up")
            return
        if meaning is None:
            return
        if depth >= MAX_DEPTH:
            self.unseen(inv, f"runs the git alias {sub}, nested too deep")
            return
        if meaning.startswith("!"):
            self.line(meaning[1:] + " " + " ".join(shlex.quote(w.value or "") for w in rest), cwd, inv.upstream,
                      depth + 1)
            return
        try:
            expanded = [Word(p, p) for p in shlex.split(meaning)]
        except ValueError:
            self.unseen(inv, f"runs the git alias {sub} ({meaning!r}), which does not parse")
            return
        self.git(inv, [*options, *expanded, *rest], cwd, depth + 1)

    def path_exists(self, value: str, cwd: str | None) -> bool:
        path = self.path_of(value, cwd)
        return path is not None and os.path.lexists(path)


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
        if words and words[0].value is not None and os.path.basename(words[0].value) in _FETCHERS:
            return True
        if any(_fetches(w.subs) for w in inv.words):
            return True
    return False


def _options(args: list[Word]) -> list[Word]:
    out = []
    for a in args:
        if a.value == "--":
            break
        if (a.value or "").startswith("-") and a.value != "-":
            out.append(a)
    return out


def _operands(args: list[Word], *, with_value: str = "", long_values: tuple[str, ...] = ()) -> list[Word]:
    """The operands of a command: its words that are not options (nor an option's value)."""
    out: list[Word] = []
    i, ended = 0, False
    while i < len(args):
        a = args[i]
        v = a.value
        if ended or v is None or not v.startswith("-") or v == "-":
            out.append(a)
            i += 1
            continue
        if v == "--":
            ended = True
        elif v in long_values:
            i += 1
        elif not v.startswith("--") and v[-1:] in with_value and len(v) >= 2:
            i += 1  # `-t DIR`: the option's value is the next word
        i += 1
    return out


def _skip(args: list[Word], *, flags: str = "", with_value: str = "",
          long_values: tuple[str, ...] = ()) -> list[Word] | None:
    """The words after a wrapper's own options (None: an option from a variable, not knowable)."""
    i = 0
    while i < len(args):
        v = args[i].value
        if v is None:
            return None
        if v == "--":
            return args[i + 1:]
        if not v.startswith("-") or v == "-":
            return args[i:]
        if v in long_values or (not v.startswith("--") and v[-1] in with_value and len(v) == 2):
            i += 2
            continue
        i += 1
    return []
