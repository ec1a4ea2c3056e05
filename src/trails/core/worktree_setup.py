"""Making a new worktree ready to work in, and the hooks around a worktree's life.

* `worktree_include`: globs of ignored files (`.env`, `.envrc`) copied from the main checkout into a
  new worktree; `worktree_link`: ignored directories (`node_modules`, `.venv`) symlinked instead.
  Only what git itself lists as ignored in the main checkout qualifies (`git ls-files --others
  --ignored --exclude-standard --directory`), and nothing that resolves out of the repository.
* `post_create` / `pre_remove`: a command run in the worktree after it is made / before it is
  removed — an argument list, or a string run by `sh -c` (it is the user's own command). Output is
  shown as it comes and kept in `$TRAILS_HOME/output/<session>.hooks.log`. A failing post_create fails
  the create (which then leaves nothing behind); a failing pre_remove is reported and the removal goes on
  (the session's work is saved by the removal itself). A repository's own hooks run only while the
  user trusts the repository (`trails trust`, core/trust.py), the way direnv asks before an `.envrc`.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from trails.core.config import EffectiveConfig, Hook
from trails.core.errors import TrailsError
from trails.infra.git import Git

HOOK_TIMEOUT = 900.0  # an `npm install` may take minutes; a hung hook must not hang trails forever

Progress = Callable[[str], None]


class HookFailed(TrailsError):
    """A post_create (or pre_remove) command exited non-zero or timed out."""

    code = "hook_failed"


@dataclass(frozen=True)
class HookRun:
    name: str  # post_create / pre_remove
    source: str  # "user" or the repository's settings file
    argv: list[str]


def copy_ignored(repo_root: Path, worktree: Path, config: EffectiveConfig) -> list[str]:
    """Copy `worktree_include` matches and link `worktree_link` matches into the new worktree; notes."""
    include = [*config.user.worktree_include, *config.project.worktree_include]
    link = [*config.user.worktree_link, *config.project.worktree_link]
    if not include and not link:
        return []  # the common case: no git process
    root = repo_root.resolve()
    entries = [e.rstrip("/") for e in Git(repo_root).ignored_entries()]
    notes: list[str] = []
    linked: set[str] = set()
    for entry in entries:
        if any(fnmatch.fnmatchcase(entry, pattern) for pattern in link):
            why = _outside(root, entry, want_dir=True) or _outside(worktree, entry, parent_only=True)
            if why:
                notes.append(f"worktree_link: skipped {entry}: {why}")
                continue
            target = worktree / entry
            if not target.exists() and not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(root / entry, target_is_directory=True)
                linked.add(entry)
                notes.append(f"linked {entry} → {root / entry}")
    if linked:
        _ignore_links(Git(worktree), sorted(linked))
    for entry in entries:
        if entry in linked or not any(fnmatch.fnmatchcase(entry, pattern) for pattern in include):
            continue
        why = _outside(root, entry) or _outside(worktree, entry, parent_only=True)
        if why:
            notes.append(f"worktree_include: skipped {entry}: {why}")
            continue
        source, target = root / entry, worktree / entry
        if target.exists() or target.is_symlink():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)  # links inside are copied as links, not followed
        else:
            shutil.copy2(source, target, follow_symlinks=False)
        notes.append(f"copied {entry}")
    return notes


def _ignore_links(wt: Git, linked: list[str]) -> None:
    """A `dir/` ignore pattern does not match a symlink: without this, each link would show as an
    untracked file (in diffs, and as work a kill refuses to drop). Listed in the repository's
    info/exclude, anchored to exactly these paths."""
    res = wt.run("check-ignore", "--no-index", "-z", *linked, check=False)
    ignored = {p for p in res.stdout.split("\0") if p}
    missing = [p for p in linked if p not in ignored]
    if not missing:
        return
    exclude = wt.common_dir() / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with open(exclude, "a", encoding="utf-8") as out:
        out.write("# trails: symlinks made by worktree_link\n")
        out.writelines(f"/{_glob_escape(p)}\n" for p in missing)


def _glob_escape(path: str) -> str:
    return "".join(f"\\{c}" if c in "*?[\\!# " else c for c in path)


def _outside(root: Path, entry: str, *, want_dir: bool = False, parent_only: bool = False) -> str | None:
    """Why `root/entry` may not be used: it (or, with parent_only, its parent) resolves out of `root`,
    it is a symbolic link, or it is not a directory when one is wanted."""
    path = root / entry
    checked = path.parent if parent_only else path
    resolved = checked.resolve()
    base = root.resolve()
    if resolved != base and base not in resolved.parents:
        return f"it resolves to {resolved}, outside {base}"
    if parent_only:
        return None
    if path.is_symlink():
        return "it is a symbolic link"
    if want_dir and not path.is_dir():
        return "it is not a directory"
    return None


def hooks(config: EffectiveConfig, name: str, repo_trusted: Callable[[], bool]) -> tuple[list[HookRun], list[str]]:
    """The `name` hooks to run (the user's, then the repository's while it is trusted), and notes."""
    runs: list[HookRun] = []
    notes: list[str] = []
    user_hook: Hook | None = getattr(config.user, name)
    if user_hook:
        runs.append(HookRun(name, "your settings", _argv(user_hook)))
    repo_hook: Hook | None = getattr(config.project, name)
    if repo_hook:
        if repo_trusted():
            runs.append(HookRun(name, str(config.project_path), _argv(repo_hook)))
        else:
            notes.append(f"{config.project_path} defines a {name} hook, which was not run: you have not trusted "
                         f"this repository (or it changed since); read it, then `trails trust "
                         f"{config.repo_root}` to allow it")
    return runs, notes


def _argv(hook: Hook) -> list[str]:
    return ["sh", "-c", hook] if isinstance(hook, str) else list(hook)


def run_hook(run: HookRun, cwd: Path, env: Mapping[str, str], log: Path, progress: Progress | None) -> None:
    """Run one hook in `cwd` with environment `env` (the caller's, with trails' variables), its output
    shown line by line and appended to `log`; raise HookFailed."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {run.name} ({run.source}): {run.argv}\n")
        try:
            proc = subprocess.Popen(run.argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        except OSError as exc:
            out.write(f"could not start: {exc}\n")
            raise HookFailed(f"{run.name} hook {run.argv[0]!r} (from {run.source}) could not start: "
                             f"{exc.strerror}") from None
        timer = threading.Timer(HOOK_TIMEOUT, proc.kill)
        timer.start()
        tail: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                tail = [*tail[-19:], line.rstrip("\n")]
                if progress is not None:
                    progress(f"{run.name}: {line.rstrip()}")
            code = proc.wait()
        except BaseException:  # interrupted or cancelled (progress raises then): the hook goes too
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
        out.write(f"--- exit status {code}\n")
    if code != 0:
        shown = "\n".join(tail[-5:])
        raise HookFailed(f"{run.name} hook (from {run.source}) exited with status {code}" +
                         (f":\n{shown}" if shown else ""), hint=f"its whole output is in {log}")


def hooks_log(home: Path, tmux_session: str) -> Path:
    from trails.core import outputlog

    return outputlog.output_dir(home) / f"{tmux_session}.hooks.log"


def _hook_env(caller_env: Mapping[str, str], name: str, worktree: Path, repo_root: Path,
              branch: str | None) -> dict[str, str]:
    return {**caller_env, "TRAILS_SESSION": name, "TRAILS_WORKTREE": str(worktree), "TRAILS_REPO_ROOT": str(repo_root),
            "TRAILS_BRANCH": branch or ""}


def after_create(home: Path, *, name: str, tmux_session: str, repo_root: Path, worktree: Path, branch: str | None,
                 config: EffectiveConfig, no_hooks: bool, progress: Progress | None,
                 env: Mapping[str, str]) -> list[str]:
    """Make a new worktree ready: copy and link ignored files, then run post_create (raises HookFailed).
    Hooks run in `env`, the caller's environment."""
    notes = copy_ignored(repo_root, worktree, config)
    if no_hooks:
        return notes
    from trails.core import trust

    runs, hook_notes = hooks(config, "post_create", lambda: trust.is_trusted(repo_root))
    notes += hook_notes
    for run in runs:
        run_hook(run, worktree, _hook_env(env, name, worktree, repo_root, branch), hooks_log(home, tmux_session),
                 progress)
        notes.append(f"ran post_create from {run.source}")
    return notes


def before_remove(home: Path, *, name: str, tmux_session: str, repo_root: Path, worktree: Path,
                  branch: str | None, no_hooks: bool, env: Mapping[str, str]) -> list[str]:
    """Run pre_remove in a worktree about to go; a failure becomes a note (the removal goes on)."""
    if no_hooks or not worktree.is_dir():
        return []
    from trails.core import config as config_mod
    from trails.core import trust

    config = config_mod.load(repo_root)
    runs, notes = hooks(config, "pre_remove", lambda: trust.is_trusted(repo_root))
    for run in runs:
        try:
            run_hook(run, worktree, _hook_env(env, name, worktree, repo_root, branch), hooks_log(home, tmux_session),
                     None)
            notes.append(f"ran pre_remove from {run.source}")
        except HookFailed as exc:
            notes.append(exc.message)
    return notes
