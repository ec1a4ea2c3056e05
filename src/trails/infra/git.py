"""A thin typed wrapper over git (argument lists). No policy here.

Every git trails starts is hardened: a repository's configuration can name programs for git to run
(hooks, an fsmonitor, a pager, transports), and the work trees trails looks at belong to agents. So
each command gets `HARDENING`, which switches off everything of that kind trails never needs, and
a linked worktree (`Git.linked_worktree`) is reached through the git directory its repository
records for it, never through the `.git` entry in the worktree, which the agent can replace.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from trails.core.errors import GitError
from trails.infra.proc import Pending, Result, read_output, run, start

# Files git leaves in its directory while an operation is half done.
_IN_PROGRESS = {
    "rebase-merge": "rebase",
    "rebase-apply": "rebase",
    "MERGE_HEAD": "merge",
    "CHERRY_PICK_HEAD": "cherry-pick",
    "REVERT_HEAD": "revert",
    "BISECT_LOG": "bisect",
}

_IDENTITY = {
    "GIT_AUTHOR_NAME": "trails",
    "GIT_AUTHOR_EMAIL": "trails@localhost",
    "GIT_COMMITTER_NAME": "trails",
    "GIT_COMMITTER_EMAIL": "trails@localhost",
}


# What a configuration could make git run that trails never needs, off for every command: hooks
# (`worktree add` runs post-checkout, every ref update reference-transaction, merge its commit
# hooks), the fsmonitor (any index refresh), a pager, every transport (so no ssh command, askpass,
# credential helper, upload/receive-pack or remote helper) and work inside submodules. Filter and
# merge drivers stay: their commands come only from configuration trails reads (the user's and the
# repository's own, which no container can write), and git-lfs is one. Diffs are made with
# --no-ext-diff --no-textconv.
HARDENING = (
    "--no-pager",
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "protocol.allow=never",
    "-c", "submodule.recurse=false",
)
_HARDENED_ENV = {"GIT_TERMINAL_PROMPT": "0"}
# A push to the main repository's own remote needs a transport: the ordinary ones, never `ext::`
# (a URL that runs a command). Per-protocol settings win over HARDENING's protocol.allow.
_PUSH_PROTOCOLS = tuple(arg for proto in ("https", "http", "ssh", "git", "file")
                        for arg in ("-c", f"protocol.{proto}.allow=always"))
# With the repository named explicitly, nothing in the environment may point git elsewhere.
_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
              "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_REPLACE_REF_BASE", "GIT_GRAFT_FILE", "GIT_SHALLOW_FILE")
_NO_DRIVERS = ("--no-ext-diff", "--no-textconv")

_STATUS = ("status", "--porcelain=v1", "-z", "--untracked-files=all")
# In an agent's worktree, a dirty submodule is not looked into: git would run `git status` inside
# it, with the configuration the agent gave that nested repository (its filters, say).
_STATUS_AGENT = (*_STATUS, "--ignore-submodules=dirty")
# A read must not take the index lock the user's own git commands may be waiting for.
_READ_ONLY = {"GIT_OPTIONAL_LOCKS": "0"}


@dataclass(frozen=True)
class WorktreeEntry:
    path: str
    head: str | None
    branch: str | None  # short name, None when detached
    bare: bool = False


def available() -> bool:
    return shutil.which("git") is not None


def version() -> str | None:
    res = run(["git", *HARDENING, "--version"], timeout=5)
    return res.stdout.strip() if res.ok else None


# Variables that change how git finds its repository: with any set, only git itself may decide.
_DISCOVERY_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES",
                  "GIT_DISCOVERY_ACROSS_FILESYSTEM")
_SHA = frozenset("0123456789abcdef")


def find_toplevel(path: str | os.PathLike[str]) -> Path | None:
    """The work tree containing `path`, as `git rev-parse --show-toplevel` says.

    The common case (a `.git` directory or worktree file of ours above `path`, no discovery
    variables) is read from the file system, which saves a git process on every command.
    """
    found = _toplevel_from_files(Path(path))
    if found is not None:
        return found
    res = run(["git", *HARDENING, "-C", str(path), "rev-parse", "--show-toplevel"], env=_HARDENED_ENV, timeout=10)
    return Path(res.stdout.strip()) if res.ok else None


def _toplevel_from_files(path: Path) -> Path | None:
    try:
        start = path.resolve()
        for candidate in (start, *start.parents):
            if candidate.name == ".git":
                return None  # inside a git directory: not a work tree (git says so, not us)
            if _dot_git_dirs(candidate) is not None:
                # git refuses a repository another user owns (safe.directory): leave that to it.
                return candidate if candidate.stat().st_uid == os.getuid() else None
    except OSError:
        return None
    return None


def _dot_git_dirs(root: Path) -> tuple[Path, Path] | None:
    """(git dir, common dir) of the work tree at `root`, from its `.git` entry; None when unsure
    (among others, whenever a variable that changes git's discovery is set)."""
    if any(k in os.environ for k in _DISCOVERY_ENV):
        return None
    dot_git = root / ".git"
    try:
        if dot_git.is_dir():
            git_dir = dot_git
        elif dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8").strip()
            if not text.startswith("gitdir: "):
                return None
            git_dir = (root / text[len("gitdir: "):]).resolve()
        else:
            return None
        if not (git_dir / "HEAD").is_file():
            return None
        common_file = git_dir / "commondir"
        common = (git_dir / common_file.read_text(encoding="utf-8").strip()).resolve() \
            if common_file.is_file() else git_dir
    except (OSError, UnicodeDecodeError):
        return None
    return git_dir, common


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and set(text) <= _SHA


def read_head(root: Path) -> str | None:
    """HEAD's commit for the work tree at `root`, read from git's ref files without a process.

    None when it cannot be sure (reftable storage, an unborn branch, anything unusual): ask git then.
    """
    dirs = _dot_git_dirs(root)
    return None if dirs is None else _read_head_in(*dirs)


def _read_head_in(git_dir: Path, common: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if _is_sha(head):
        return head
    if not head.startswith("ref: refs/"):
        return None
    return _read_ref_in(common, head[len("ref: "):])


def _read_ref_in(common: Path, ref: str) -> str | None:
    """A shared ref's commit from the ref files (loose, then packed-refs); None when unsure."""
    known, sha = _ref_from_files(common, ref)
    return sha if known else None


def _ref_from_files(common: Path, ref: str) -> tuple[bool, str | None]:
    """(whether the files settle it, the ref's commit or None when there is no such ref)."""
    try:
        if (common / "reftable").exists() or ".." in ref.split("/"):
            return False, None
        loose = common / ref
        if loose.is_file():
            sha = loose.read_text(encoding="utf-8").strip()
            return (True, sha) if _is_sha(sha) else (False, None)
        if loose.exists():
            return False, None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return (True, sha) if _is_sha(sha) else (False, None)
    except (OSError, UnicodeDecodeError):
        return False, None
    return True, None


def recorded_worktrees(common: Path) -> dict[Path, list[Path]]:
    """The linked worktrees git keeps a directory for under `<common>/worktrees/`: each one's path
    (resolved) → the directories whose `gitdir` file names it."""
    found: dict[Path, list[Path]] = {}
    try:
        entries = list(os.scandir(common / "worktrees"))
    except OSError:
        return found
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            recorded = Path(Path(entry.path, "gitdir").read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            continue
        if recorded.name == ".git" and recorded.is_absolute():
            found.setdefault(recorded.parent.resolve(), []).append(Path(entry.path))
    return found


def worktree_admin_dir(common: Path, worktree: Path, recorded: Mapping[Path, list[Path]] | None = None) -> Path | None:
    """The directory under `<common>/worktrees/` that git keeps for the linked worktree at `worktree`
    (the one whose `gitdir` file names it); None when there is not exactly one. `recorded`: what
    `recorded_worktrees(common)` read, for looking up many."""
    found = (recorded if recorded is not None else recorded_worktrees(common)).get(worktree.resolve(), [])
    return found[0] if len(found) == 1 else None


class Worktrees:
    """A repository's linked worktrees as git records them, read once (its common dir, its records):
    `Git.linked_worktree` for many worktrees of one repository without reading them again for each."""

    def __init__(self, repo_root: str | os.PathLike[str]) -> None:
        self.repo_root = Path(repo_root)
        self.common = Git(repo_root).common_dir()
        self.recorded = recorded_worktrees(self.common)

    def git(self, path: str | os.PathLike[str]) -> Git:
        admin = worktree_admin_dir(self.common, Path(path), self.recorded)
        if admin is None:
            raise GitError(f"{path} is not a worktree of {self.repo_root} (git has no single record of it under "
                           f"{self.common / 'worktrees'})")
        return Git(path, git_dir=admin, common_dir=self.common)


def check_branch_name(name: str) -> bool:
    return run(["git", *HARDENING, "check-ref-format", "--branch", name], env=_HARDENED_ENV, timeout=10).ok


class Git:
    """git commands in one working tree: the repository git finds from `root` (a checkout of the
    user's), or, with `git_dir`, exactly the one named (see `linked_worktree`)."""

    def __init__(self, root: str | os.PathLike[str], *, git_dir: Path | None = None,
                 common_dir: Path | None = None, alternates: tuple[Path, ...] = (), work_tree: bool = True) -> None:
        self.root = Path(root)
        self._explicit = git_dir is not None
        self._work_tree = work_tree
        self._git_dir = git_dir
        self._common_dir = (common_dir or git_dir) if git_dir is not None else None
        self._env = dict(_HARDENED_ENV)
        if self._common_dir is not None:
            # Over the `commondir` file in the git dir, which an agent may be able to write.
            self._env["GIT_COMMON_DIR"] = str(self._common_dir)
        if alternates:
            self._env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(map(str, alternates))

    @classmethod
    def linked_worktree(cls, repo_root: str | os.PathLike[str], path: str | os.PathLike[str]) -> Git:
        """git for the linked worktree at `path` of the repository at `repo_root`, through the git
        directory the repository keeps for it: whatever `path/.git` says is never read."""
        return Worktrees(repo_root).git(path)

    def argv(self, *args: str) -> list[str]:
        out = ["git", *HARDENING, "-C", str(self.root)]
        if self._explicit:
            out += [f"--git-dir={self._git_dir}", *([f"--work-tree={self.root}"] if self._work_tree else [])]
        return [*out, *args]

    def run(self, *args: str, env: Mapping[str, str] | None = None, input: str | None = None,
            stdin: IO[bytes] | None = None, check: bool = True, timeout: float | None = 300) -> Result:
        res = run(self.argv(*args), env={**self._env, **(env or {})}, unset=_REDIRECTS if self._explicit else (),
                  input=input, stdin=stdin, timeout=timeout)
        if check and not res.ok:
            raise GitError(f"git {args[0]} failed: {(res.stderr or res.stdout).strip()}")
        return res

    def out(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self.run(*args, env=env).stdout.strip()

    # --- refs -----------------------------------------------------------------------------------

    def _file_dirs(self) -> tuple[Path, Path] | None:
        """(git dir, common dir) to read git's files in: the named ones, else the work tree's `.git`."""
        if self._explicit:
            assert self._git_dir is not None and self._common_dir is not None
            return self._git_dir, self._common_dir
        return _dot_git_dirs(self.root)

    def head_branch(self) -> str | None:
        """The branch HEAD is on (short name), None when detached: from the HEAD file when plain."""
        dirs = self._file_dirs()
        if dirs is not None:
            try:
                head = (dirs[0] / "HEAD").read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                head = ""
            if head.startswith("ref: refs/heads/"):
                return head[len("ref: refs/heads/"):]
            if _is_sha(head):
                return None
        res = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return res.stdout.strip() if res.ok else None

    def head_commit(self) -> str | None:
        """HEAD's commit (None when there is none yet): from the ref files when they are plain."""
        dirs = self._file_dirs()
        return (_read_head_in(*dirs) if dirs else None) or self.rev_parse("HEAD")

    def ref_commit(self, ref: str) -> str | None:
        """The commit a full ref name points at (None when there is none): from the files when plain."""
        dirs = self._file_dirs()
        known, sha = _ref_from_files(dirs[1], ref) if dirs else (False, None)
        return sha if known else self.rev_parse(ref)

    def rev_parse(self, ref: str) -> str | None:
        res = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return res.stdout.strip() if res.ok else None

    def branch_exists(self, branch: str) -> bool:
        return self.run("show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).ok

    def _read_dirs(self) -> None:
        dirs = _dot_git_dirs(self.root)
        if dirs is not None:
            self._git_dir, self._common_dir = dirs
            return
        git_dir, common = self.out("rev-parse", "--absolute-git-dir", "--git-common-dir").splitlines()
        self._git_dir = Path(git_dir)
        path = Path(common)
        self._common_dir = path if path.is_absolute() else (self.root / path).resolve()

    def git_dir(self) -> Path:
        if self._git_dir is None:
            self._read_dirs()
        assert self._git_dir is not None
        return self._git_dir

    def common_dir(self) -> Path:
        if self._common_dir is None:
            self._read_dirs()
        assert self._common_dir is not None
        return self._common_dir

    def operation_in_progress(self) -> str | None:
        git_dir = self.git_dir()
        for marker, what in _IN_PROGRESS.items():
            if (git_dir / marker).exists():
                return what
        return None

    def update_ref(self, ref: str, sha: str, old: str | None = None, *, message: str | None = None) -> None:
        """Point `ref` at `sha` (only if it still points at `old`, when given); git refuses an object
        that does not exist, and anything but a commit for a branch."""
        self.run("update-ref", *(["-m", message] if message else []), ref, sha, *([old] if old is not None else []))

    def delete_branch(self, branch: str) -> None:
        self.run("branch", "-D", branch)

    def is_ancestor(self, commit: str, of: str) -> bool:
        return self.run("merge-base", "--is-ancestor", commit, of, check=False).ok

    # --- worktrees ------------------------------------------------------------------------------

    def worktrees(self) -> list[WorktreeEntry]:
        entries: list[WorktreeEntry] = []
        block: dict[str, str] = {}
        for line in [*self.out("worktree", "list", "--porcelain").splitlines(), ""]:
            if line:
                key, _, value = line.partition(" ")
                block[key] = value
                continue
            if block:
                branch = block.get("branch")
                entries.append(WorktreeEntry(
                    block["worktree"], block.get("HEAD"),
                    branch.removeprefix("refs/heads/") if branch else None, "bare" in block,
                ))
                block = {}
        return entries

    def worktree_add(self, path: Path, branch: str, base: str) -> None:
        self.run("worktree", "add", "-b", branch, str(path), base)

    def worktree_add_existing(self, path: Path, branch: str) -> None:
        self.run("worktree", "add", str(path), branch)

    def worktree_remove(self, path: Path, *, force: bool = False) -> None:
        # Twice forced: a lock file in the worktree's git directory does not keep it either.
        args = ["worktree", "remove", *(["--force", "--force"] if force else []), str(path)]
        self.run(*args)

    def restore_dot_git(self) -> None:
        """Make the work tree's `.git` the file pointing at the git directory in use again (an agent
        may have replaced it): `git worktree remove` refuses a worktree whose `.git` is anything else."""
        assert self._explicit and self._git_dir is not None
        dot_git = self.root / ".git"
        text = f"gitdir: {self._git_dir}\n"
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if not dot_git.is_symlink() and dot_git.is_file() and dot_git.read_text(encoding="utf-8") == text:
                return
        if dot_git.is_dir() and not dot_git.is_symlink():
            shutil.rmtree(dot_git)
        elif dot_git.is_symlink() or dot_git.exists():
            dot_git.unlink()
        dot_git.write_text(text, encoding="utf-8")

    # --- working state --------------------------------------------------------------------------

    def status_porcelain(self) -> list[str]:
        """Changed and untracked (not ignored) paths; empty when the tree is clean."""
        return self.status_result(self.run(*self._status_args(), env=_READ_ONLY))

    def _status_args(self) -> tuple[str, ...]:
        return _STATUS_AGENT if self._explicit else _STATUS

    def start_status(self) -> Pending:
        """status_porcelain, running in the background: pass `.wait()` to status_result."""
        return start(self.argv(*self._status_args()), env={**self._env, **_READ_ONLY},
                     unset=_REDIRECTS if self._explicit else ())

    @staticmethod
    def status_result(res: Result) -> list[str]:
        if not res.ok:
            raise GitError(f"git status failed: {(res.stderr or res.stdout).strip()}")
        return [p for p in res.stdout.split("\0") if p]

    def status_entries(self) -> list[tuple[str, str, str | None]]:
        """(git's two status letters, path, a rename's or copy's source) per changed or untracked path."""
        fields = self.run(*self._status_args(), env=_READ_ONLY).stdout.split("\0")
        entries: list[tuple[str, str, str | None]] = []
        i = 0
        while i < len(fields):
            record = fields[i]
            i += 1
            if len(record) < 4:
                continue
            xy, path, source = record[:2], record[3:], None
            if "R" in xy or "C" in xy:  # -z puts the source in the next field
                source = fields[i] if i < len(fields) else None
                i += 1
            entries.append((xy, path, source))
        return entries

    def files(self) -> list[str]:
        """Tracked and untracked files that are not ignored, each once, as git names them."""
        res = self.run("ls-files", "-z", "--cached", "--others", "--exclude-standard", env=_READ_ONLY)
        return list(dict.fromkeys(p for p in res.stdout.split("\0") if p))

    def blob(self, commit: str, path: str, limit: int) -> tuple[bytes, bool] | None:
        """The file `path` as `commit` holds it, at most `limit` bytes (and whether it is longer);
        None when the commit has no such file."""
        code, data, more = read_output(self.argv("cat-file", "blob", f"{commit}:{path}"), limit=limit,
                                       env={**self._env, **_READ_ONLY}, unset=_REDIRECTS if self._explicit else ())
        return (data, more) if code == 0 else None

    def ls_files(self) -> list[str]:
        return [p for p in self.run("ls-files", "-z").stdout.split("\0") if p]

    def snapshot_tree(self) -> str:
        """Tree of the working directory as it is (tracked and untracked, not ignored).

        Uses a throw-away index so the user's own index is never touched.
        """
        with tempfile.TemporaryDirectory(prefix="trails-idx-") as tmp:
            index = Path(tmp) / "index"
            real_index = self.git_dir() / "index"
            if real_index.exists():
                shutil.copyfile(real_index, index)
            env = {"GIT_INDEX_FILE": str(index)}
            self.run("add", "-A", "--", ".", env=env)
            return self.out("write-tree", env=env)

    def index_tree(self) -> str:
        return self.out("write-tree")

    def commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, "-m", message, env=_IDENTITY).stdout.strip()

    def diff(self, base: str, tree: str, *, stat: bool = False) -> str:
        args = ["diff", "--no-color", *_NO_DRIVERS]
        if stat:
            args.append("--stat")
        return self.run(*args, base, tree).stdout

    def numstat(self, base: str, tree: str) -> tuple[int, int, int]:
        """(insertions, deletions, files) between two trees."""
        added = deleted = files = 0
        for line in self.run("diff", "--numstat", *_NO_DRIVERS, base, tree).stdout.splitlines():
            a, d, _ = line.split("\t", 2)
            added += int(a) if a.isdigit() else 0
            deleted += int(d) if d.isdigit() else 0
            files += 1
        return added, deleted, files

    def read_tree(self, tree: str, *, update_worktree: bool) -> None:
        args = ["read-tree", "--reset", *(["-u"] if update_worktree else []), tree]
        self.run(*args)

    # --- the session lifecycle: rebase, merge strategies, remotes (see core/merge.py, core/pr.py) ----

    def unmerged_files(self) -> list[str]:
        """Paths with conflicts in the index (during a merge or rebase that stopped)."""
        res = self.run("diff", "--name-only", "--diff-filter=U", "-z", check=False)
        return [p for p in res.stdout.split("\0") if p]

    def rebase(self, onto: str) -> Result:
        """`git rebase onto` of the checked-out branch; the caller aborts it when it stops."""
        return self.run("rebase", "--no-autostash", "--no-update-refs", onto, check=False)

    def rebase_abort(self) -> None:
        self.run("rebase", "--abort")

    def merge_tree(self, ours: str, theirs: str) -> tuple[str | None, list[str]]:
        """The tree merging `theirs` into `ours` would give, computed without touching any checkout:
        (tree, []) when clean, (None, conflicting paths) otherwise."""
        res = self.run("merge-tree", "--write-tree", "--name-only", "--no-messages", ours, theirs, check=False)
        lines = res.stdout.splitlines()
        if res.returncode == 0 and lines:
            return lines[0].strip(), []
        if res.returncode == 1 and lines:
            return None, sorted({line for line in lines[1:] if line})
        raise GitError(f"git merge-tree failed: {(res.stderr or res.stdout).strip()}")

    def merge_ff_only(self, commit: str) -> Result:
        return self.run("merge", "--ff-only", "--no-edit", commit, check=False)

    def commit_tree_as_user(self, tree: str, parents: list[str], message: str) -> str:
        """commit-tree with the user's own identity (a merge or squash the user asked for)."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, "-F", "-", input=message).stdout.strip()

    def config_get(self, key: str) -> str | None:
        res = self.run("config", "--get", key, check=False)
        return res.stdout.strip() if res.ok else None

    def remotes(self) -> list[str]:
        return [r for r in self.out("remote").splitlines() if r]

    def push(self, remote: str, branch: str) -> Result:
        """Push `branch` to the branch of the same name on `remote` and set it as upstream."""
        return self.run(*_PUSH_PROTOCOLS, "push", "--set-upstream", "--porcelain", remote,
                        f"refs/heads/{branch}:refs/heads/{branch}", check=False, env={"GIT_TERMINAL_PROMPT": "0"})

    def ignored_entries(self) -> list[str]:
        """Ignored paths in the work tree as git lists them (a wholly ignored directory once, with '/')."""
        res = self.run("ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z", env=_READ_ONLY)
        return [p for p in res.stdout.split("\0") if p]
