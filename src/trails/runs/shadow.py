"""Shadow git: a bare repository outside the work directory that snapshots it between sessions.

Git is pointed at the work directory with GIT_DIR/GIT_WORK_TREE, so a `.git` the work directory
has of its own is never read or written, and runs hardened (infra.git.HARDENING) like every git
trails starts. Nothing here moves HEAD: snapshots are `commit-tree` +
a tag, and every work tree gets its own index file, so several copies of the start state (parallel
replicates) can snapshot into one repository at once without touching each other's state.

A run's tags are `refs/tags/<tag>`; a Ray node's cache keeps many runs in one repository, each
under its own prefix (`refs/runs/<run>/<tag>`), so the same class serves both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trails.core.errors import GitError
from trails.infra.git import HARDENING
from trails.infra.proc import Result, run

_IDENTITY = {
    "GIT_AUTHOR_NAME": "trails",
    "GIT_AUTHOR_EMAIL": "trails@localhost",
    "GIT_COMMITTER_NAME": "trails",
    "GIT_COMMITTER_EMAIL": "trails@localhost",
}
# Variables a user's shell or a git hook may have set that would redirect our commands.
_GIT_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                  "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES")


@dataclass(frozen=True)
class ShadowRepo:
    """The bare repository of one run (`<out>/.shadow_git`)."""

    git_dir: Path
    prefix: str = "refs/tags/"  # where this run's tags live

    def ref(self, tag: str) -> str:
        return f"{self.prefix}{tag}"

    @classmethod
    def create(cls, git_dir: Path, *, exclude: Sequence[str] = ()) -> ShadowRepo:
        """Make the bare repository; `exclude` holds work-dir-relative paths never to track."""
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        res = run(["git", *HARDENING, "init", "--quiet", "--bare", str(git_dir)], timeout=60)
        if not res.ok:
            raise GitError(f"cannot create the shadow repository {git_dir}: {res.stderr.strip()}")
        repo = cls(git_dir)
        # Parallel replicates write into one object store: never let an automatic gc race them.
        for key, value in (("gc.auto", "0"), ("core.bare", "false"), ("core.autocrlf", "false"),
                           ("core.quotepath", "false")):
            repo.git("config", key, value)
        if exclude:
            info = git_dir / "info"
            info.mkdir(exist_ok=True)
            with (info / "exclude").open("a") as fh:
                fh.writelines(f"/{p.strip('/')}/\n" for p in exclude)
        return repo

    def git(self, *args: str, tree: Path | None = None, index: Path | None = None,
            check: bool = True, timeout: float | None = 600, input: str | None = None) -> Result:
        env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
        env["GIT_DIR"] = str(self.git_dir)
        if tree is not None:
            env["GIT_WORK_TREE"] = str(tree)
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        env.update(_IDENTITY)
        env["GIT_TERMINAL_PROMPT"] = "0"
        res = _run_env(["git", *HARDENING, *args], cwd=tree, env=env, timeout=timeout, input=input)
        if check and not res.ok:
            raise GitError(f"shadow git {args[0]} failed: {(res.stderr or res.stdout).strip()}")
        return res

    def git_bytes(self, *args: str, stdin: bytes | None = None) -> bytes:
        """A git command whose input or output is binary (a bundle, a pack, a raw object)."""
        import subprocess

        env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
        env["GIT_DIR"] = str(self.git_dir)
        env.update(_IDENTITY)
        cp = subprocess.run(["git", *HARDENING, *args], input=stdin, env=env, capture_output=True, timeout=600,
                            check=False)
        if cp.returncode != 0:
            raise GitError(f"shadow git {args[0]} failed: {cp.stderr.decode(errors='replace').strip()}")
        return cp.stdout

    def bundle(self, tag: str, since: str | None = None) -> bytes:
        """A bundle of the tag, holding only what `since` (a tag or commit this side has) lacks."""
        return self.git_bytes("bundle", "create", "-", self.ref(tag),
                              *([f"^{since}" if _is_id(since) else f"^{self.ref(since)}"] if since else []))

    def fetch_bundle(self, bundle: bytes, tag: str, *, source: str | None = None) -> None:
        """Take the tag (and the objects it needs) from a bundle made by `bundle`; `source` is the
        bundle's ref when the sender keeps its tags elsewhere (default: this repository's ref for the tag).

        `bundle unbundle` checks that this side holds the bundle's prerequisites and indexes its pack;
        a `fetch` would also walk the repository's history for a connectivity check (10x slower).
        """
        import tempfile

        want = source or self.ref(tag)
        with tempfile.NamedTemporaryFile(suffix=".bundle", dir=self.git_dir) as fh:
            fh.write(bundle)
            fh.flush()
            heads = self.git("bundle", "unbundle", fh.name).stdout.split("\n")
        commit = next((line.split()[0] for line in heads if line.endswith(f" {want}")), None)
        if commit is None:
            raise GitError(f"the bundle for {tag} holds no {want}")
        self.set_ref(tag, commit)

    def set_ref(self, tag: str, commit: str) -> None:
        self.git("update-ref", self.ref(tag), commit)

    def present(self, objects: Sequence[str]) -> set[str]:
        """The ones of these object ids this repository holds."""
        out = self.git("cat-file", "--batch-check=%(objectname)", input="".join(f"{o}\n" for o in objects)).stdout
        return {line for line in out.splitlines() if " " not in line} & set(objects)  # "<id> missing" otherwise

    def add_pack(self, pack: bytes) -> None:
        """Index a pack (made by `pack-objects`) into the repository."""
        self.git_bytes("index-pack", "--stdin", stdin=pack)

    def write_commit(self, raw: bytes) -> str:
        """Store a commit object given as its raw bytes (`cat-file commit`); returns its id."""
        return self.git_bytes("hash-object", "-t", "commit", "-w", "--stdin", stdin=raw).decode().strip()

    def tree(self, work_tree: Path, index: Path) -> WorkTree:
        return WorkTree(self, work_tree, index)

    def commit_of(self, tag: str) -> str | None:
        res = self.git("rev-parse", "--verify", "--quiet", f"{self.ref(tag)}^{{commit}}", check=False)
        return res.stdout.strip() if res.ok else None

    def tree_of(self, tag: str) -> str:
        return self.git("rev-parse", f"{self.ref(tag)}^{{tree}}").stdout.strip()

    def tags(self) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname)", self.prefix).stdout.split()
        return [name[len(self.prefix):] for name in out]

    def diff(self, base: str, head: str) -> str:
        return self.git("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--binary", self.ref(base),
                        self.ref(head)).stdout

    def changed_files(self, base: str, head: str) -> list[dict[str, str]]:
        out = self.git("diff", "--name-status", "-z", "--no-renames", "--no-ext-diff", "--no-textconv",
                       self.ref(base), self.ref(head)).stdout
        parts = [p for p in out.split("\0") if p]
        return [{"status": parts[i], "path": parts[i + 1]} for i in range(0, len(parts) - 1, 2)]


@dataclass(frozen=True)
class WorkTree:
    """One directory tracked through the shadow repository, with its own index."""

    repo: ShadowRepo
    path: Path
    index: Path

    def _git(self, *args: str) -> Result:
        return self.repo.git(*args, tree=self.path, index=self.index)

    def tree_now(self) -> str:
        """The tree of everything in the directory (untracked files too), as a snapshot would take it."""
        self.index.parent.mkdir(parents=True, exist_ok=True)
        self._git("add", "--all", "--", ".")
        return self._git("write-tree").stdout.strip()

    def snapshot(self, tag: str, parent: str | None, message: str) -> str:
        """Commit everything in the directory (untracked files too) and tag it; return the commit."""
        tree = self.tree_now()
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", self.repo.ref(parent)]
        commit = self._git(*args).stdout.strip()
        self._git("update-ref", self.repo.ref(tag), commit)
        return commit

    def reset(self, tag: str, *, ignored: bool = False) -> None:
        """Make the directory hold exactly the tagged files: `reset --hard` + `clean`, without HEAD.

        Only files that differ from the tag are written (the index's stat data says which are
        unchanged). `ignored` also removes files the work dir's .gitignore ignores (`clean -x`).
        """
        self.index.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        # Refresh first, so files the agent touched but left equal are not rewritten.
        if self.index.exists():
            self.repo.git("update-index", "-q", "--refresh", tree=self.path, index=self.index, check=False)
        self._git("read-tree", "--reset", "-u", self.repo.ref(tag))
        self.clean(ignored=ignored)

    def clean(self, *, ignored: bool = False) -> None:
        """Remove untracked files (and, with `ignored`, those the .gitignore files ignore)."""
        self._git("clean", "-d", "--force", "--quiet", *(["-x"] if ignored else []))


def _is_id(rev: str) -> bool:
    return len(rev) in (40, 64) and all(c in "0123456789abcdef" for c in rev)


def _run_env(argv: list[str], *, cwd: Path | None, env: dict[str, str], timeout: float | None,
             input: str | None = None) -> Result:
    import subprocess

    try:
        cp = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
                            input=input)
    except FileNotFoundError:
        return Result(tuple(argv), 127, "", f"{argv[0]}: command not found")
    return Result(tuple(argv), cp.returncode, cp.stdout, cp.stderr)
