"""Shadow git: a bare repository outside the work directory that snapshots it between sessions.

Git is pointed at the work directory with GIT_DIR/GIT_WORK_TREE, so a `.git` the work directory
has of its own is never read or written, and runs hardened (infra.git.HARDENING) like every git
trails starts. Nothing here moves HEAD: snapshots are `commit-tree` +
a tag, and every work tree gets its own index file, so several copies of the start state (parallel
replicates) can snapshot into one repository at once without touching each other's state.
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
            check: bool = True, timeout: float | None = 600) -> Result:
        env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
        env["GIT_DIR"] = str(self.git_dir)
        if tree is not None:
            env["GIT_WORK_TREE"] = str(tree)
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        env.update(_IDENTITY)
        env["GIT_TERMINAL_PROMPT"] = "0"
        res = _run_env(["git", *HARDENING, *args], cwd=tree, env=env, timeout=timeout)
        if check and not res.ok:
            raise GitError(f"shadow git {args[0]} failed: {(res.stderr or res.stdout).strip()}")
        return res

    def git_bytes(self, *args: str, stdin: bytes | None = None) -> bytes:
        """A git command whose output is binary (a bundle)."""
        import subprocess

        env = {k: v for k, v in os.environ.items() if k not in _GIT_REDIRECTS}
        env["GIT_DIR"] = str(self.git_dir)
        cp = subprocess.run(["git", *args], input=stdin, env=env, capture_output=True, timeout=600, check=False)
        if cp.returncode != 0:
            raise GitError(f"shadow git {args[0]} failed: {cp.stderr.decode(errors='replace').strip()}")
        return cp.stdout

    def fetch_bundle(self, bundle: bytes, tag: str) -> None:
        """Take the tag (and the objects it needs) from a bundle made by `bundle create`."""
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".bundle", dir=self.git_dir) as fh:
            fh.write(bundle)
            fh.flush()
            # A bundle file is read through git's `file` transport, which HARDENING turns off for the rest.
            self.git("-c", "protocol.file.allow=always", "fetch", "--quiet", "--no-tags", fh.name,
                     f"+refs/tags/{tag}:refs/tags/{tag}")

    def tree(self, work_tree: Path, index: Path) -> WorkTree:
        return WorkTree(self, work_tree, index)

    def commit_of(self, tag: str) -> str | None:
        res = self.git("rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}", check=False)
        return res.stdout.strip() if res.ok else None

    def tree_of(self, tag: str) -> str:
        return self.git("rev-parse", f"refs/tags/{tag}^{{tree}}").stdout.strip()

    def tags(self) -> list[str]:
        return self.git("tag", "--list").stdout.split()

    def diff(self, base: str, head: str) -> str:
        return self.git("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--binary", f"refs/tags/{base}",
                        f"refs/tags/{head}").stdout

    def changed_files(self, base: str, head: str) -> list[dict[str, str]]:
        out = self.git("diff", "--name-status", "-z", "--no-renames", "--no-ext-diff", "--no-textconv",
                       f"refs/tags/{base}", f"refs/tags/{head}").stdout
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

    def snapshot(self, tag: str, parent: str | None, message: str) -> str:
        """Commit everything in the directory (untracked files too) and tag it; return the commit."""
        self.index.parent.mkdir(parents=True, exist_ok=True)
        self._git("add", "--all", "--", ".")
        tree = self._git("write-tree").stdout.strip()
        args = ["commit-tree", tree, "-m", message]
        if parent:
            args += ["-p", f"refs/tags/{parent}"]
        commit = self._git(*args).stdout.strip()
        self._git("update-ref", f"refs/tags/{tag}", commit)
        return commit

    def reset(self, tag: str) -> None:
        """Make the directory hold exactly the tagged files: `reset --hard` + `clean`, without HEAD."""
        self.index.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        # Refresh first, so files the agent touched but left equal are not rewritten.
        if self.index.exists():
            self.repo.git("update-index", "-q", "--refresh", tree=self.path, index=self.index, check=False)
        self._git("read-tree", "--reset", "-u", f"refs/tags/{tag}")
        self._git("clean", "-d", "--force", "--quiet")


def _run_env(argv: list[str], *, cwd: Path | None, env: dict[str, str], timeout: float | None) -> Result:
    import subprocess

    try:
        cp = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        return Result(tuple(argv), 127, "", f"{argv[0]}: command not found")
    return Result(tuple(argv), cp.returncode, cp.stdout, cp.stderr)
