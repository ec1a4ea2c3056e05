"""worktree: the agent gets its own branch and git worktree (a sibling directory), plus tmux."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from trails.core import faults, inputs, recovery, workstate
from trails.core.config import DEFAULT_MAX_WORKTREES, EffectiveConfig
from trails.core.errors import (
    BranchError,
    GitError,
    InvalidInput,
    RepoBusy,
    UncommittedWork,
    WorktreeError,
    WorktreeLimit,
)
from trails.core.locks import file_lock
from trails.core.models import Mode, Session
from trails.core.recovery import Teardown, worktree_state
from trails.core.userfiles import expand_user
from trails.core.workstate import SavedWork
from trails.infra import git as gitinfra
from trails.infra.git import Git, Worktrees
from trails.isolation.base import CreateRequest, IsolationProvider, Placement, Recorder, Released


class SideWork(Protocol):
    """Set-up running beside the worktree checkout: finished into the placement, or abandoned."""

    def finish(self, placement: Placement) -> None: ...
    def abandon(self) -> None: ...


_UNSAFE_PATH_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def sanitize_branch_for_path(branch: str) -> str:
    """`trails/fix login` → `trails-fixlogin`: slashes become dashes, other unsafe characters go."""
    return _UNSAFE_PATH_CHARS.sub("", branch.replace("/", "-")).strip(".-") or "session"


def worktree_path_for(repo_root: Path, branch: str, config: EffectiveConfig) -> Path:
    leaf = sanitize_branch_for_path(branch)
    if config.worktree_dir:
        base = expand_user(config.worktree_dir)
        base = base if base.is_absolute() else repo_root / base
        return base / leaf
    return repo_root.parent / f"{repo_root.name}-wt-{leaf}"


def max_worktrees(config: EffectiveConfig, env: Mapping[str, str]) -> int:
    value = env.get("MAX_WORKTREES_PER_WORKSPACE")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise InvalidInput(f"MAX_WORKTREES_PER_WORKSPACE must be a whole number ≥ 1, not {value!r}")
        return int(value)
    return config.max_worktrees or DEFAULT_MAX_WORKTREES


def worktree_git(session: Session, records: Worktrees | None = None) -> Git | None:
    """git for the session's worktree, through the git directory trails knows for it (an agent can
    replace the worktree's own `.git`): a container session's own (see container.container_git),
    else the one its repository records (`records`: its repository's, read once for many sessions).
    None when the session has no worktree on disk."""
    if not (session.worktree_path and session.repo_root and Path(session.worktree_path).is_dir()):
        return None
    if session.mode is Mode.CONTAINER:
        from trails.isolation.container import container_git  # container mode builds on this module

        git = container_git(session.name, Path(session.repo_root), Path(session.worktree_path))
        if git is not None:
            return git
    if records is not None and records.repo_root == Path(session.repo_root):
        return records.git(session.worktree_path)
    return Git.linked_worktree(session.repo_root, session.worktree_path)


def _branch_named(repo: Git, base: str | None) -> str | None:
    """The branch a session forks from (what `merge` goes back into): --base if it names a local
    branch, else the branch the main checkout is on."""
    if base:
        return base if repo.branch_exists(base) else None
    return repo.head_branch()


class Provider(IsolationProvider):
    mode = Mode.WORKTREE

    def unavailable_reason(self, cwd: Path, repo_root: Path | None) -> str | None:
        if repo_root is None:
            return f"{cwd} is not inside a git repository"
        if Git(repo_root).head_commit() is None:
            return f"{repo_root} has no commits yet: a worktree needs a commit to start from"
        return None

    def prepare(self, request: CreateRequest) -> Placement:
        assert request.repo_root is not None
        repo = Git(request.repo_root)
        config = request.config
        branch = request.branch or f"{config.branch_prefix}{request.name}"
        # Here too, not only in create_session: moves give a branch, and branch_prefix is a setting.
        inputs.check_branch(branch, given_as="--branch" if request.branch else "the session's branch")
        if not gitinfra.check_branch_name(branch):
            raise BranchError(f"{branch!r} is not a valid branch name (git check-ref-format refused it)")
        busy = repo.operation_in_progress()
        if busy and not request.force:
            raise RepoBusy(
                f"a {busy} is in progress in {request.repo_root}",
                hint="finish or abort it first, or pass --force to create the session anyway",
            )
        base_ref = request.base or "HEAD"
        base_commit = repo.head_commit() if base_ref == "HEAD" else repo.rev_parse(base_ref)
        if base_commit is None:
            raise InvalidInput(f"--base {base_ref!r} does not name a commit in {request.repo_root}")
        if request.carry_changes and base_commit != repo.rev_parse("HEAD"):
            raise InvalidInput("--carry-changes needs the session to start at HEAD (drop --base)")
        path = worktree_path_for(request.repo_root, branch, config)
        notes: list[str] = []

        # Whether the main tree is dirty only decides a note (unless carrying): learn it while git
        # checks the worktree out, off the critical path.
        main_status = request.main_status or repo.start_status()
        # One creator per repository at a time: the worktree count and the add must not interleave.
        try:
            with file_lock(f"worktrees:{repo.common_dir()}"):
                if path.exists() or path.is_symlink():
                    raise WorktreeError(f"the worktree path {path} already exists", hint="use --branch to pick another")
                tip = repo.ref_commit(f"refs/heads/{branch}")  # from the ref files: no process
                created_branch = tip is None
                if request.will_make is not None:
                    request.will_make({"worktree_path": str(path), "branch": branch, "created_branch": created_branch,
                                       "base_commit": base_commit})
                # Started before the checks below: it is abandoned if one of them fails.
                side = self.beside_worktree_add(request, path)
                try:
                    entries = repo.worktrees()
                    limit = max_worktrees(config, request.env)
                    if len(entries) + 1 > limit:
                        raise WorktreeLimit(
                            f"{request.repo_root} already has {len(entries)} worktrees (counting the main one);"
                            f" the limit is {limit}",
                            hint="end a session, or raise max_worktrees / MAX_WORKTREES_PER_WORKSPACE",
                        )
                    holder = next((e for e in entries if e.branch == branch), None)
                    if holder is not None:
                        raise BranchError(f"branch {branch!r} is already checked out at {holder.path}")
                    if created_branch:
                        repo.worktree_add(path, branch, base_commit)
                    else:
                        repo.worktree_add_existing(path, branch)
                        base_commit = tip
                        notes.append(f"branch {branch} already existed: the session continues it")
                    self.worktree_added(request.name, repo, path, branch, created=created_branch)
                    faults.point("worktree", "added")
                except BaseException:
                    if side is not None:
                        side.abandon()
                    raise
        except BaseException:
            if main_status is not None:
                main_status.wait()  # reap it: nothing will read its answer
            raise

        placement = Placement(
            workdir=path, repo_root=request.repo_root, worktree_path=path, branch=branch,
            base_commit=base_commit, created_branch=created_branch, notes=notes,
            extra={"base_branch": _branch_named(repo, request.base)},
        )
        try:
            dirty = bool(repo.status_result(main_status.wait())) if main_status else None
            self._carry_or_note(repo, request.name, placement, request.carry_changes, dirty)
        except Exception:
            if side is not None:
                side.abandon()
            self.discard(placement)
            raise
        if side is not None:
            # Finished only when the agent is about to run: its terminal starts meanwhile (gated).
            placement.before_agent = lambda: side.finish(placement)
        return placement

    def beside_worktree_add(self, request: CreateRequest, path: Path) -> SideWork | None:
        """Work a subclass runs while `git worktree add` checks out `path` (which does not exist yet)."""
        return None

    def worktree_added(self, name: str, repo: Git, path: Path, branch: str, *, created: bool) -> None:
        """Called once `git worktree add` made session `name`'s worktree; on failure a subclass removes
        the worktree (and the branch, when `created`) itself."""
        return None

    def readd_worktree(self, name: str, repo: Git, path: Path, branch: str) -> None:
        """Make a paused session's worktree again, on its branch."""
        repo.worktree_add_existing(path, branch)
        faults.point("worktree", "added")

    def placement_git(self, name: str, placement: Placement) -> Git:
        """git for a new session's worktree (see `worktree_git`)."""
        assert placement.repo_root is not None and placement.worktree_path is not None
        return Git.linked_worktree(placement.repo_root, placement.worktree_path)

    def _carry_or_note(self, repo: Git, name: str, placement: Placement, carry: bool, dirty: bool | None) -> None:
        if dirty is None:
            dirty = workstate.has_uncommitted_work(repo)
        if not dirty:
            return
        if not carry:
            placement.notes.append(
                "the main working tree has uncommitted changes; they were not carried into the worktree"
                " (use --carry-changes to bring them)"
            )
            return
        ref = f"refs/trails/carry/{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        saved = workstate.save_work(repo, ref, "trails: changes carried into a new session")
        assert placement.worktree_path is not None
        workstate.restore_work(self.placement_git(name, placement), saved.commit)
        repo.run("update-ref", "-d", ref)
        placement.notes.append("uncommitted changes (staged, unstaged, untracked) were carried into the worktree")

    def discard(self, placement: Placement) -> None:
        assert placement.repo_root is not None and placement.worktree_path is not None
        repo = Git(placement.repo_root)
        with contextlib.suppress(WorktreeError):  # the error that led here is the one to report
            remove_worktree(repo, placement.worktree_path)
        if placement.created_branch and placement.branch:
            repo.run("branch", "-D", placement.branch, check=False)

    # --- ending a session ------------------------------------------------------------------------

    def check_release(self, session: Session, *, force: bool, delete_branch: bool) -> None:
        # After an interrupted pause or kill the work is in a ref already: what is left goes.
        if not force and Teardown.of(session) is None:
            state = worktree_state(session)
            if state == "broken":
                raise UncommittedWork(
                    f"the worktree {session.worktree_path} of session {session.name!r} is no longer a git worktree"
                    " (its .git is gone): git cannot tell what in it is unsaved",
                    hint="copy out what you need, or pass --force to remove what is left",
                )
            wt = self._worktree(session)
            if wt is not None and workstate.has_uncommitted_work(wt):
                raise UncommittedWork(
                    f"session {session.name!r} has uncommitted work in {session.worktree_path}",
                    hint="commit it, or pass --force to save it to refs/trails/saved/… and remove the worktree",
                )
        if not force and delete_branch and session.branch and session.repo_root and session.base_commit:
            repo = Git(session.repo_root)
            tip = repo.rev_parse(f"refs/heads/{session.branch}")
            if tip and not repo.is_ancestor(tip, session.base_commit) and not self._merged_anywhere(repo, tip):
                raise UncommittedWork(
                    f"branch {session.branch!r} has commits not merged anywhere",
                    hint="merge it first, or pass --force to save its tip to refs/trails/saved/… and delete it",
                )

    @staticmethod
    def _merged_anywhere(repo: Git, tip: str) -> bool:
        res = repo.run("branch", "--format=%(refname:short)", "--contains", tip, check=False)
        return len([b for b in res.stdout.split() if b]) > 1

    def _worktree(self, session: Session) -> Git | None:
        """The session's worktree, when it still is one (git pointed at the admin dir trails knows)."""
        return worktree_git(session) if session.worktree_path and worktree_state(session) == "ok" else None

    def retire_worktree(self, session: Session, *, ref: str, message: str, even_clean: bool,
                        record: Recorder | None) -> tuple[SavedWork | None, list[str]]:
        """Save the worktree's uncommitted work to `ref` (even a clean one with `even_clean`), let
        `record` note that before the ref is written, then remove the worktree. After an interrupted
        pause or kill (a Teardown in the row) the work is saved already: only what is left goes."""
        assert session.repo_root is not None and session.worktree_path is not None
        repo, path = Git(session.repo_root), Path(session.worktree_path)
        notes: list[str] = []
        teardown = Teardown.of(session)
        saved: SavedWork | None = None
        if teardown is not None:
            if teardown.ref and teardown.commit:
                saved = workstate.SavedWork(teardown.commit, teardown.ref, None, changed=teardown.dirty)
                if repo.rev_parse(teardown.ref) is None:  # noted, then the process died before writing it
                    workstate.write_ref(repo, teardown.ref, teardown.commit)
            notes.append(f"finished the interrupted {teardown.op}")
        else:
            wt = self._worktree(session)
            if wt is not None and (even_clean or workstate.has_uncommitted_work(wt)):
                saved = workstate.snapshot_work(wt, ref, message)
            if record is not None:
                record(saved)
            if saved is not None:
                workstate.write_ref(repo, ref, saved.commit)
            faults.point("teardown", "saved")
        if path.exists() or path.is_symlink() or any(Path(e.path) == path for e in repo.worktrees()):
            remove_worktree(repo, path)
            notes.append(f"worktree {path} removed")
        else:
            repo.run("worktree", "prune", check=False)
            notes.append(f"worktree {path} was already gone")
        faults.point("teardown", "removed")
        return saved, notes

    def discard_made(self, session: Session, made: dict[str, Any], *, save_dirty: bool = True) -> list[str]:
        return discard_made(session, made, save_dirty=save_dirty) if made.get("worktree_path") else []

    def release(self, session: Session, *, force: bool, delete_branch: bool, stamp: str,
                record: Recorder | None = None, env: Mapping[str, str]) -> Released:
        out = Released()
        assert session.repo_root is not None
        repo = Git(session.repo_root)
        if session.worktree_path:
            ref = f"refs/trails/saved/{session.name}/{stamp}"
            saved, notes = self.retire_worktree(session, ref=ref, message=f"trails: work of session {session.name}"
                                                " saved at kill", even_clean=False, record=record)
            if saved is not None:
                out.saved_refs.append(saved.ref)
                notes.insert(0, f"uncommitted work saved to {saved.ref} ({saved.commit[:12]})")
            out.notes += notes
        if session.branch:
            if delete_branch:
                tip = repo.rev_parse(f"refs/heads/{session.branch}")
                ref = f"refs/trails/saved/{session.name}/{stamp}-branch"
                if tip:
                    repo.update_ref(ref, tip)
                    repo.delete_branch(session.branch)
                    out.saved_refs.append(ref)
                    out.notes.append(f"branch {session.branch} deleted (its tip is kept at {ref})")
                elif repo.rev_parse(ref):  # an interrupted kill got this far
                    out.saved_refs.append(ref)
                    out.notes.append(f"branch {session.branch} was deleted (its tip is kept at {ref})")
            else:
                out.notes.append(f"branch {session.branch} kept")
        return out


def remove_worktree(repo: Git, path: Path | str) -> None:
    """Remove the worktree at `path`, whose work is saved, from whatever state it is in: whole, locked
    half way through its checkout, half deleted without its .git, or gone with git's entry left."""
    path = Path(path)
    if (path / ".git").exists():
        # Whatever the agent left as its `.git` (`git worktree remove` refuses one that is not its own file).
        with contextlib.suppress(GitError):
            Git.linked_worktree(repo.root, path).restore_dot_git()
        # --force twice: also a worktree an interrupted `git worktree add` left locked ("initializing").
        res = repo.run("worktree", "remove", "--force", "--force", str(path), check=False)
        if not res.ok:
            raise WorktreeError(f"could not remove worktree {path}: {(res.stderr or res.stdout).strip()}")
        return
    # No .git: git no longer sees a worktree there (nor what in it is unsaved); its work is in a ref.
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise WorktreeError(f"could not remove what is left of the worktree {path}: {exc.strerror or exc}") \
                from None
    repo.run("worktree", "prune", check=False)


def discard_made(session: Session, made: dict[str, Any], *, save_dirty: bool = True) -> list[str]:
    """Undo the worktree and branch a create or a move had made (see `will_make`), from whatever state
    it reached. Uncommitted work found in the worktree is saved to a ref first (with `save_dirty`)."""
    assert session.repo_root is not None
    repo, path, notes = Git(session.repo_root), Path(str(made["worktree_path"])), []
    try:  # through the git dir the repository records (never what the worktree's .git says)
        wt = Git.linked_worktree(repo.root, path) if save_dirty and (path / ".git").exists() else None
    except GitError:
        wt = None
    if wt is not None:
        # A checkout that was cut short is still locked "initializing": its missing files are not work.
        finished = not (wt.git_dir() / "locked").exists()
        if finished and workstate.has_uncommitted_work(wt):
            ref = f"refs/trails/saved/{session.name}/{recovery.stamp()}"
            saved = workstate.save_work(wt, ref, f"trails: work found in the unfinished session {session.name}")
            notes.append(f"uncommitted work found in {path} saved to {ref} ({saved.commit[:12]})")
    if path.exists() or path.is_symlink() or any(Path(e.path) == path for e in repo.worktrees()):
        remove_worktree(repo, path)
        notes.append(f"worktree {path} removed")
    branch = made.get("branch")
    if made.get("created_branch") and isinstance(branch, str):
        tip = repo.rev_parse(f"refs/heads/{branch}")
        if tip is not None and tip == made.get("base_commit"):
            repo.run("branch", "-D", branch, check=False)
            notes.append(f"branch {branch} removed")
        elif tip is not None:
            notes.append(f"branch {branch} kept: it has commits of its own")
    return notes
