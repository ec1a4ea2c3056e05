"""trails rebase on real git: a clean rebase moves only the branch; a conflict is aborted with
everything as before (files, index, HEAD, branch), flagged on the session, and can go to the agent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers import as_user, git, trails, wait_until
from trails.core.engine import Engine
from trails.core.errors import InvalidInput, UncommittedWork
from trails.core.rebase import RebaseConflict

ECHO_AGENT = f"{sys.executable} {Path(__file__).parent / 'echo_agent.py'}"


def _commit(where: Path, name: str, content: str, message: str) -> str:
    (where / name).write_text(content)
    git(where, "add", name)
    git(where, "commit", "-qm", message)
    return git(where, "rev-parse", "HEAD")


def _state(where: Path) -> dict[str, object]:
    files = {str(p.relative_to(where)): p.read_bytes() for p in sorted(where.rglob("*"))
             if p.is_file() and ".git" not in p.parts}
    return {"head": git(where, "rev-parse", "HEAD"), "branch": git(where, "symbolic-ref", "-q", "HEAD"),
            "index": git(where, "ls-files", "-s"), "files": files,
            "status": git(where, "status", "--porcelain=v1", "--untracked-files=all", "--ignored")}


def _session(engine: Engine, repo: Path, agent: str = "sleep 600") -> Path:
    return Path(engine.create_session("r1", agent, mode="worktree", cwd=repo,
                                      caller=as_user()).session.worktree_path or "")


def test_clean_rebase_onto_the_base_branch_tip(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    old = _commit(wt, "a.txt", "a\n", "agent a")
    main_tip = _commit(repo, "other.txt", "o\n", "user commit")
    (wt / "scratch.txt").write_text("untracked, kept\n")
    result = engine.rebase("r1", caller=as_user())
    assert result.onto == "main" and result.before == old
    assert git(wt, "rev-parse", "HEAD^") == main_tip and git(wt, "log", "-1", "--format=%s") == "agent a"
    assert (wt / "scratch.txt").read_text() == "untracked, kept\n" and (wt / "other.txt").exists()
    kept = next(n.split()[-1] for n in result.notes if "kept at" in n)
    assert git(repo, "rev-parse", kept) == old  # the old tip is not lost
    assert engine.get_session("r1", caller=as_user()).status.live
    again = engine.rebase("r1", caller=as_user())
    assert again.before == again.after and "already contains" in again.notes[0]


def test_conflicting_rebase_is_aborted_and_nothing_changes(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "README.md", "agent version\n", "agent edit")
    _commit(wt, "a.txt", "a\n", "agent a")
    _commit(repo, "README.md", "user version\n", "user edit")
    (wt / "scratch.txt").write_text("untracked\n")
    (wt / "a.txt").write_text("a\n")  # unchanged content, touched
    git(wt, "add", "-N", "scratch.txt")  # an intent-to-add entry in the index, too
    with pytest.raises(UncommittedWork):  # intent-to-add is a tracked change: refused, nothing done
        engine.rebase("r1", caller=as_user())
    git(wt, "rm", "-q", "--cached", "scratch.txt")
    before = _state(wt)
    main_before = _state(repo)
    with pytest.raises(RebaseConflict) as info:
        engine.rebase("r1", caller=as_user())
    assert info.value.files == ["README.md"] and info.value.to_dict()["code"] == "rebase_conflict"
    assert _state(wt) == before and _state(repo) == main_before
    assert not (Path(git(wt, "rev-parse", "--absolute-git-dir")) / "rebase-merge").exists()
    session = engine.get_session("r1", caller=as_user())
    assert session.status.live  # the agent keeps running; the conflict is a flag
    assert session.conflict is not None
    assert session.conflict["files"] == ["README.md"] and session.conflict["onto"] == "main"
    ls = trails("ls", cwd=repo).stdout
    assert "conflict" in ls.splitlines()[1]
    assert "rebase onto main conflicts in README.md" in trails("show", "r1", cwd=repo).stdout
    # Once resolved (here: the agent's commits dropped), a rebase clears the flag.
    git(wt, "reset", "-q", "--hard", "main")
    engine.rebase("r1", caller=as_user())
    assert engine.get_session("r1", caller=as_user()).conflict is None


def test_to_agent_sends_the_conflict_to_the_agent(engine: Engine, repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    wt = Path(engine.create_session("r1", ECHO_AGENT, mode="worktree", cwd=repo,
                                    env={"ECHO_LOG": str(log)}, caller=as_user()).session.worktree_path or "")
    wait_until(lambda: engine.output("r1", caller=as_user()).rstrip().endswith(">"), message="the agent's prompt")
    _commit(wt, "README.md", "agent version\n", "agent edit")
    _commit(repo, "README.md", "user version\n", "user edit")
    res = trails("rebase", "r1", "--to-agent", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "rebase_conflict" and res.error["sent_to_agent"] is True
    wait_until(lambda: log.exists() and "git rebase main" in log.read_text(), message="the message")
    assert "README.md" in log.read_text()


def test_onto_and_refusals(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "agent a")
    git(repo, "branch", "release")
    release_tip = _commit(repo, "r.txt", "r\n", "on main")
    git(repo, "branch", "-f", "release", release_tip)
    result = engine.rebase("r1", onto="release", caller=as_user())
    assert result.onto == "release" and git(wt, "rev-parse", "HEAD^") == release_tip
    with pytest.raises(InvalidInput, match="does not name a commit"):
        engine.rebase("r1", onto="no-such-branch", caller=as_user())
    (wt / "a.txt").write_text("changed, not committed\n")
    with pytest.raises(UncommittedWork):
        engine.rebase("r1", caller=as_user())
    engine.create_session("d1", "sleep 600", mode="direct", cwd=repo, caller=as_user())
    with pytest.raises(InvalidInput, match="nothing to rebase"):
        engine.rebase("d1", caller=as_user())
