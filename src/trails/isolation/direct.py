"""direct: the agent works in the directory itself (a repo or any folder), in its own tmux session."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from trails.core import workstate
from trails.core.models import Mode, Session
from trails.infra.git import Git
from trails.isolation.base import CreateRequest, IsolationProvider, Placement, Recorder, Released


class Provider(IsolationProvider):
    mode = Mode.DIRECT

    def unavailable_reason(self, cwd: Path, repo_root: Path | None) -> str | None:
        return None

    def prepare(self, request: CreateRequest) -> Placement:
        base = Git(request.repo_root).head_commit() if request.repo_root else None
        placement = Placement(workdir=request.cwd, repo_root=request.repo_root, base_commit=base)
        if request.repo_root is not None:
            repo, main_status = Git(request.repo_root), request.main_status

            def record() -> None:
                # The main checkout as it was before the agent touched it: a later move to a worktree
                # puts it back exactly so (see core/moves.py). Its `git status` is the slowest read of
                # a create, so this runs while the agent's terminal starts (the agent waits for it).
                dirty = bool(repo.status_result(main_status.wait())) if main_status else None
                placement.extra["start"] = workstate.record_start(repo, request.name, head=base, dirty=dirty)

            placement.before_agent = record
        return placement

    def discard(self, placement: Placement) -> None:
        return None

    def check_release(self, session: Session, *, force: bool, delete_branch: bool) -> None:
        return None  # the work stays where it is: in the user's own directory

    def release(self, session: Session, *, force: bool, delete_branch: bool, stamp: str,
                record: Recorder | None = None, env: Mapping[str, str]) -> Released:
        return Released(notes=[f"changes stay in {session.workdir} (direct mode works in place)"])
