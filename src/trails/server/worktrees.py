"""The worktree-scoped git and file operations (trails.core.worktree_files), for the repositories this
home knows: every session's, and the caller's own (which a missing `worktree` defaults to)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.api import types as t
from trails.api.caller import Caller
from trails.core import worktree_files as wf
from trails.infra.git import find_toplevel

if TYPE_CHECKING:
    from trails.core.models import Session
    from trails.server.jobs import Job
    from trails.server.service import Service


class WorktreeOps:
    def __init__(self, service: Service) -> None:
        self.service = service

    def ops(self) -> dict[type[t.Request[Any]], Callable[[Any, Caller, Job], Any]]:
        return {t.GitStatus: self.status, t.GitDiff: self.diff, t.GitFile: self.file, t.ListFiles: self.list,
                t.FindFiles: self.find, t.ListWorktrees: self.worktrees}

    def _sessions(self) -> list[Session]:
        with self.service.engines.engine() as engine:
            return engine.store.list_sessions(include_ended=True)

    @staticmethod
    def _own_repo(caller: Caller) -> Path | None:
        return find_toplevel(caller.cwd) if Path(caller.cwd).is_dir() else None

    def _repos(self, caller: Caller, sessions: list[Session] | None = None) -> tuple[list[Path], Path | None]:
        own = self._own_repo(caller)
        roots = [Path(s.repo_root) for s in (sessions if sessions is not None else self._sessions()) if s.repo_root]
        return [*([own] if own else []), *roots], own

    def _resolve(self, value: str | None, caller: Caller) -> wf.Worktree:
        repos, own = self._repos(caller)
        return wf.resolve(value, repos, own)

    def status(self, req: t.GitStatus, caller: Caller, job: Job) -> t.GitStatusResult:
        return wf.status(self._resolve(req.worktree, caller))

    def diff(self, req: t.GitDiff, caller: Caller, job: Job) -> t.GitDiffResult:
        return wf.diff(self._resolve(req.worktree, caller), stat=req.stat)

    def file(self, req: t.GitFile, caller: Caller, job: Job) -> t.GitFileResult:
        return wf.read_file(self._resolve(req.worktree, caller), req.path)

    def list(self, req: t.ListFiles, caller: Caller, job: Job) -> t.FileList:
        return wf.list_dir(self._resolve(req.worktree, caller), req.path)

    def find(self, req: t.FindFiles, caller: Caller, job: Job) -> t.FileMatches:
        return wf.find(self._resolve(req.worktree, caller), req.q, req.limit)

    def worktrees(self, req: t.ListWorktrees, caller: Caller, job: Job) -> t.WorktreeList:
        sessions = self._sessions()
        repos, _ = self._repos(caller, sessions)
        by_place = {s.worktree_path or s.workdir: s.name for s in sessions if s.ended_at is None}
        return t.WorktreeList(worktrees=[
            t.WorktreeInfo(path=str(wt.path), repo=str(wt.repo), primary=wt.primary, branch=wt.branch, head=wt.head,
                           session=by_place.get(str(wt.path)))
            for wt in wf.worktrees(repos)])
