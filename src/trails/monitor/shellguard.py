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

from trails.core.guardnames import (
    BUILTIN,
    DELETE_OUTSIDE,
    DEVICES,
    DOWNLOADED_CODE,
    DROP_DATABASE,
    GIT_HISTORY,
    PRIVILEGES,
    RECURSIVE_DELETE,
    UNSEEN,
    WRITE_OUTSIDE,
)
from trails.monitor import shellcode, shellgit
from trails.monitor.shellparse import Invocation, Word, parse

__all__ = ["BUILTIN", "DELETE_OUTSIDE", "DEVICES", "DOWNLOADED_CODE", "DROP_DATABASE", "GIT_HISTORY", "PRIVILEGES",
           "RECURSIVE_DELETE", "UNSEEN", "WRITE_OUTSIDE", "Finding", "Judgment", "Where", "judge", "normalized"]


MAX_DEPTH = 4  # `sh -c 'sh -c …'` nested deeper is not followed
MAX_GLOB = 200  # pattern matches checked per word

_DEV_OK = frozenset({"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/full"})
_PRIVILEGE = frozenset({"sudo", "su", "doas", "pkexec", "run0", "chroot", "nsenter", "setpriv", "capsh", "sg",
                        "newgrp", "machinectl"})
_DEVICE_TOOLS = frozenset({
    "mkfs", "mke2fs", "mkswap", "swapon", "swapoff", "mount", "umount", "fdisk", "sfdisk", "cfdisk", "parted",
    "gdisk", "sgdisk", "cgdisk", "wipefs", "losetup", "cryptsetup", "blkdiscard", "hdparm", "sdparm", "mdadm",
    "dmsetup", "pvcreate", "pvremove", "vgcreate", "vgremove", "lvcreate", "lvremove", "lvresize", "zpool",
    "tune2fs", "resize2fs", "e2fsck", "fsck", "debugfs", "xfs_repair", "mkfs.ext4", "insmod", "rmmod", "modprobe",
    "reboot", "shutdown", "halt", "poweroff", "telinit", "kexec", "efibootmgr", "grub-install", "flashrom",
    "nvme", "badblocks", "fstrim", "mountpoint",
})
# Environment variables whose value is a command some program runs, or code it loads.
_CODE_VARS = re.compile(r"GIT_SSH_COMMAND|GIT_SSH|GIT_EDITOR|GIT_SEQUENCE_EDITOR|GIT_PAGER|GIT_EXTERNAL_DIFF|"
                        r"GIT_ASKPASS|SSH_ASKPASS|EDITOR|VISUAL|PAGER|MANPAGER|PROMPT_COMMAND|BASH_ENV|ENV|"
                        r"LD_PRELOAD|LD_AUDIT|LD_LIBRARY_PATH|PERL5OPT|RUBYOPT|NODE_OPTIONS|PYTHONSTARTUP|"
                        r"PYTHONPATH|GIT_CONFIG_PARAMETERS|GIT_CONFIG_COUNT|GIT_CONFIG_KEY_\d+|GIT_CONFIG_VALUE_\d+|"
                        r"GIT_CONFIG|GIT_CONFIG_GLOBAL|GIT_DIR|GIT_WORK_TREE|GIT_EXEC_PATH|PATH")


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
    judge_ = Judge(where, allow, git_alias)
    judge_.line(command, where.start, (), 0)
    return Judgment(judge_.findings, judge_.commands)


def normalized(words: Iterable[str]) -> str:
    """A simple command's words as one line, quoted only where the shell would need it."""
    return shlex.join(words)


def _short(text: str, limit: int = 72) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


class Judge:
    max_depth = MAX_DEPTH

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
                    shellcode.code(self, inv, "sh", code, cwd, depth)
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
                shellcode.code(self, inv, "sh", code, cwd, depth)
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
            shellcode.code(self, inv, "sh", args[0], cwd, depth)
        elif name in ("source", "."):
            shellcode.source(self, inv, args, cwd)
        elif name in shellcode.SHELLS:
            shellcode.shell(self, inv, name, args, cwd, depth)
        elif name in shellcode.AWK:
            program = next((w for w in _operands(args, with_value="fvF")), None)
            if program is not None and not any(a.value in ("-f", "--file") for a in args):
                shellcode.code(self, inv, name, program, cwd, depth)
                if program.value is not None and re.search(r">\s*\"|>>\s*\"", program.value):
                    self.unseen(inv, "writes files from awk code, which trails does not judge")
        elif shellcode.INTERPRETER.fullmatch(name):
            shellcode.interpreter(self, inv, name, args, cwd)
        elif name in shellcode.DB_CLIENTS or name in ("dropdb", "mysqladmin"):
            shellcode.database(self, inv, name, args, cwd)
        elif name in ("rm", "unlink", "rmdir", "shred", "srm"):
            self.remove(inv, name, args, cwd)
        elif name == "find":
            self.find_(inv, args, cwd, depth)
        elif name in ("cp", "mv", "install", "ln", "rsync", "scp"):
            self.copy(inv, name, args, cwd)
        elif name == "sort":
            for i, a in enumerate(args):
                if a.value in ("-o", "--output") and i + 1 < len(args):
                    self.write(inv, args[i + 1], cwd, "writes")
                elif a.value is not None and a.value.startswith(("--output=", "-o")) and len(a.value) > 2:
                    value = a.value.split("=", 1)[1] if a.value.startswith("--") else a.value[2:]
                    self.write(inv, Word(value, a.raw), cwd, "writes")
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
                shellcode.interpreter(self, inv, name, args, cwd)
        elif name in ("chmod", "chown", "chgrp", "chattr", "setfacl"):
            self.permissions(inv, name, args, cwd)
        elif name in ("tar", "bsdtar", "unzip", "7z", "unrar"):
            self.archive(inv, name, args, cwd)
        elif name == "git":
            shellgit.git(self, inv, args, cwd, depth)
        elif name in ("docker", "podman", "nerdctl") and args and args[0].value in ("run", "create", "exec"):
            self.container(inv, name, args[1:], cwd)
        elif name in shellcode.FETCHERS:
            shellcode.fetch(self, inv, name, args, cwd)
        elif name in _DEVICE_TOOLS or name.startswith(("mkfs", "fsck.")) or (
                name == "zfs" and args and args[0].value in ("destroy", "rollback")):
            self.find(DEVICES, inv, f"runs {name}, which works on devices or file systems")
        elif name == "crontab" and not any(a.value in ("-l",) for a in args):
            self.find(WRITE_OUTSIDE, inv, "changes your crontab, outside the session")
        elif name == "sysctl" and any((a.value or "").startswith("-w") or "=" in (a.value or "") for a in args):
            self.find(DEVICES, inv, "changes kernel settings")
        elif name in ("kill", "pkill", "killall") and any(a.value in ("-1", "1") for a in args[-1:]):
            self.find(DEVICES, inv, "signals every process or init")

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

    def container(self, inv: Invocation, name: str, args: list[Word], cwd: str | None) -> None:
        """A container with host privileges or host directories is a way out of the session."""
        for i, a in enumerate(args):
            v = a.value
            if v is None:
                continue
            if v in ("--privileged", "--pid=host", "--net=host", "--network=host", "--userns=host") or \
                    v.startswith(("--cap-add", "--device", "--security-opt")):
                self.find(PRIVILEGES, inv, f"runs a container with {v}")
                return
            spec = None
            if v in ("-v", "--volume", "--mount") and i + 1 < len(args):
                spec = args[i + 1].value
                if spec is None:
                    self.unseen(inv, "mounts a host path from a variable or substitution")
                    return
            elif v.startswith(("--volume=", "--mount=")):
                spec = v.split("=", 1)[1]
            if spec is None:
                continue
            source = spec.split(":", 1)[0] if not spec.startswith(("type=", "source=", "src=")) else next(
                (p.split("=", 1)[1] for p in spec.split(",") if p.startswith(("source=", "src="))), "")
            if source.startswith(("/", ".", "~")):
                path = self.path_of(os.path.expanduser(source) if source.startswith("~") else source, cwd)
                if path is None or not self.inside(path):
                    self.find(PRIVILEGES, inv, f"gives a container the host's {source}")
                    return

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

    def path_exists(self, value: str, cwd: str | None) -> bool:
        path = self.path_of(value, cwd)
        return path is not None and os.path.lexists(path)


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
