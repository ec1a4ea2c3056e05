"""What trails made that no session record accounts for any more, and its removal (`trails doctor
--check` / `--repair`).

The engine finishes or undoes what a dead operation left as soon as it reads the session
(core/recovery.py): that adopts nearly everything. What is left after that is an orphan: a worktree
on a trails branch (or at a path a session once had), a branch under the branch prefix, a tmux
session on trails' own server, or a container labelled for this TRAILS_HOME, that no session row
names. They come from state lost outside trails (a state.db deleted or restored from a backup), from
a create whose agent had committed before the create died (the branch is kept), or from a clean-up
that could not finish.

`find` lists them (changing nothing); `repair` removes them, each only after saving what it holds:
a worktree's uncommitted work and a branch's tip go to refs under refs/trails/orphans/, a tmux
session's last screen into the audit log. Anything of a session whose lock is held (an operation is
under way) is left alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core import recovery
from trails.core.errors import GitError, TrailsError
from trails.core.models import Mode, Session
from trails.core.names import session_of_tmux_name
from trails.infra.git import Git

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine

ORPHANS_REF = "refs/trails/orphans"


@dataclass(frozen=True)
class Orphan:
    kind: str  # "worktree" | "branch" | "tmux" | "container"
    name: str  # the worktree's path, the branch, the tmux session, the container's id
    session: str | None  # the session it was made for, as far as its name tells
    repo: str | None = None  # worktrees and branches: their repository
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Known:
    """What the session rows account for."""

    worktrees: set[str]
    branches: set[tuple[str, str]]  # (repository, branch)
    tmux: set[str]
    containers: set[str]  # session names with a live container-mode row
    repos: set[str]


def _known(sessions: list[Session]) -> Known:
    known = Known(set(), set(), set(), set(), set())
    for s in sessions:
        if s.repo_root:
            known.repos.add(s.repo_root)
            if s.branch:  # an ended session's branch is kept on purpose: its row names it
                known.branches.add((s.repo_root, s.branch))
        if s.ended_at is not None:
            continue
        known.tmux.add(s.tmux_session)
        if s.worktree_path:
            known.worktrees.add(s.worktree_path)
        if s.mode is Mode.CONTAINER or recovery.pending(s):
            known.containers.add(s.name)
        # What an operation under way (its lock held, so not settled) noted it is making.
        for note in (s.extra.get(recovery.CREATING), (s.extra.get(recovery.MOVING) or {}).get("state", {}).get("made")):
            if isinstance(note, dict) and note.get("worktree_path") and s.repo_root:
                known.worktrees.add(str(note["worktree_path"]))
                if note.get("branch"):
                    known.branches.add((s.repo_root, str(note["branch"])))
    return known


def _prefix(repo_root: Path) -> str:
    from trails.core import config as config_mod

    try:
        return config_mod.load(repo_root).branch_prefix
    except TrailsError:  # settings that no longer load: the default prefix still finds most
        return config_mod.DEFAULT_BRANCH_PREFIX


def find(engine: Engine, *, caller: Caller) -> list[Orphan]:
    """The orphans of this TRAILS_HOME (in the repositories its sessions use and the caller's), after
    letting every session settle what a dead operation left."""
    from trails.infra import git as gitinfra

    sessions = engine.list_sessions(include_ended=True, caller=caller)  # settles, and so adopts
    known = _known(sessions)
    repos = set(known.repos)
    here = gitinfra.find_toplevel(Path(caller.cwd)) if gitinfra.available() else None
    if here is not None:
        repos.add(str(here))
    found: list[Orphan] = []
    for root in sorted(repos):
        if Path(root).is_dir():
            found += _in_repo(Path(root), known)
    for tmux_session in sorted(engine.tmux.list_panes()):
        if tmux_session not in known.tmux:
            found.append(Orphan("tmux", tmux_session, session_of_tmux_name(tmux_session),
                                detail="a tmux session on trails' server that no session runs in"))
    found += _containers(known)
    return found


def _in_repo(root: Path, known: Known) -> list[Orphan]:
    try:
        repo = Git(root)
        entries = repo.worktrees()
        prefix = _prefix(root)
        branches = repo.run("for-each-ref", "--format=%(refname:short)", f"refs/heads/{prefix}").stdout.split()
    except GitError:
        return []
    found: list[Orphan] = []
    main, linked = entries[:1], entries[1:]  # git lists the main checkout first
    held = {e.branch for e in main if e.branch}  # branches git will not delete, or that are known to be used
    for entry in linked:
        on_prefix = (entry.branch or "").startswith(prefix)
        if entry.path in known.worktrees or not on_prefix:
            if entry.branch:
                held.add(entry.branch)  # a session's, or the user's own worktree on a branch of their own
            continue
        name = (entry.branch or "")[len(prefix):] or None
        found.append(Orphan("worktree", entry.path, name, str(root),
                            detail=f"a worktree on branch {entry.branch} that no session works in"))
    for branch in branches:
        if (str(root), branch) not in known.branches and branch not in held:
            found.append(Orphan("branch", branch, branch[len(prefix):], str(root),
                                detail="a session branch that no session record names"))
    return found


def _containers(known: Known) -> list[Orphan]:
    try:
        from trails.infra import docker as d
        from trails.isolation.container import LABEL_HOME, LABEL_SESSION, home_tag
    except ModuleNotFoundError:  # container support is not installed: none of ours can exist
        return []
    try:
        if not d.engine_available()[0]:
            return []
        containers = d.find_by_label(LABEL_HOME, home_tag())
    except Exception:  # no container engine answers: there is nothing of ours to see there
        return []
    return [Orphan("container", c.id, c.labels.get(LABEL_SESSION),
                   detail=f"container {c.name} ({c.status}) of no live container session")
            for c in containers if c.labels.get(LABEL_SESSION) not in known.containers]


# --- repair --------------------------------------------------------------------------------------


def repair(engine: Engine, *, caller: Caller) -> dict[str, Any]:
    """Remove every orphan `find` lists, saving first what it holds; what was saved where."""
    from trails.core.locks import file_lock

    done: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    # Worktrees before branches: git deletes no branch a worktree still has checked out.
    for orphan in sorted(find(engine, caller=caller), key=lambda o: _ORDER.index(o.kind)):
        with file_lock(f"session:{orphan.session or orphan.name}", wait=False) as free:
            if not free:
                skipped.append({**orphan.to_dict(), "why": "an operation on its session is under way"})
                continue
            try:
                done.append({**orphan.to_dict(), **_remove(engine, orphan)})
            except TrailsError as exc:
                skipped.append({**orphan.to_dict(), "why": exc.message})
    for entry in done:
        engine.store.audit("orphan_removed", entry.get("session"), **entry, caller=caller.label)
    return {"repaired": done, "skipped": skipped, "orphans": [o.to_dict() for o in find(engine, caller=caller)]}


_ORDER = ("tmux", "container", "worktree", "branch")  # what runs first, then its place, then its branch


def _remove(engine: Engine, orphan: Orphan) -> dict[str, Any]:
    if orphan.kind == "worktree":
        return _remove_worktree(orphan)
    if orphan.kind == "branch":
        assert orphan.repo is not None
        repo = Git(orphan.repo)
        tip = repo.rev_parse(f"refs/heads/{orphan.name}")
        ref = f"{ORPHANS_REF}/{_leaf(orphan.name)}/{recovery.stamp()}-branch"
        if tip is not None:
            repo.update_ref(ref, tip)
        repo.delete_branch(orphan.name)
        return {"saved_ref": ref if tip else None, "removed": f"branch {orphan.name}"}
    if orphan.kind == "tmux":
        screen = engine.tmux.capture(orphan.name, history=200)
        engine.tmux.kill_session(orphan.name)
        return {"last_screen": screen[-4000:], "removed": f"tmux session {orphan.name}"}
    from trails.infra import docker as d

    d.remove(orphan.name, force=True)  # what the agent wrote is in its worktree and home, on the host
    return {"removed": f"container {orphan.name[:12]}"}


def _remove_worktree(orphan: Orphan) -> dict[str, Any]:
    from trails.core import workstate
    from trails.isolation.worktree import remove_worktree

    assert orphan.repo is not None
    repo, path = Git(orphan.repo), Path(orphan.name)
    saved: str | None = None
    try:
        wt = Git.linked_worktree(repo.root, path) if (path / ".git").exists() else None
    except GitError:
        wt = None
    # A checkout cut short is still locked "initializing": its missing files are not work.
    if wt is not None and not (wt.git_dir() / "locked").exists() and workstate.has_uncommitted_work(wt):
        saved = f"{ORPHANS_REF}/{_leaf(orphan.session or path.name)}/{recovery.stamp()}"
        workstate.save_work(wt, saved, f"trails: work found in the orphaned worktree {path}")
    elif wt is None and path.is_dir() and any(path.iterdir()):
        # Not a worktree git can read any more: its files are kept beside it, never deleted.
        kept = path.with_name(f"{path.name}.orphaned-{recovery.stamp()}")
        path.rename(kept)
        repo.run("worktree", "prune", check=False)
        return {"saved_ref": None, "kept_at": str(kept), "removed": f"git's record of worktree {path}"}
    remove_worktree(repo, path)
    return {"saved_ref": saved, "removed": f"worktree {path}"}


def _leaf(name: str) -> str:
    from trails.isolation.worktree import sanitize_branch_for_path

    return sanitize_branch_for_path(name)
