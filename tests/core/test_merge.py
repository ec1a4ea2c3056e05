"""Engine.merge with real git: --no-ff merge into the main checkout's branch, refusals, conflicts aborted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import as_user, git
from trails.core.engine import Engine
from trails.core.errors import InvalidInput, UncommittedWork
from trails.core.merge import MergeConflict


def _session(engine: Engine, repo: Path, name: str = "m1") -> Path:
    result = engine.create_session(name, "sleep 600", mode="worktree", cwd=repo, caller=as_user())
    return Path(result.session.worktree_path or "")


def _commit(where: Path, name: str, content: str, message: str) -> None:
    (where / name).write_text(content)
    git(where, "add", name)
    git(where, "commit", "-qm", message)


def test_merge_makes_a_no_ff_merge_commit_on_the_base_branch(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "feature.txt", "new\n", "add feature")
    result = engine.merge("m1", caller=as_user())
    assert result.into == "main" and result.branch == "trails/m1"
    assert git(repo, "rev-parse", "HEAD") == result.commit
    parents = git(repo, "rev-list", "--parents", "-n", "1", "HEAD").split()
    assert len(parents) == 3  # a real merge commit, even though a fast-forward was possible
    assert (repo / "feature.txt").read_text() == "new\n"
    assert any(e["action"] == "session_merged" for e in engine.audit_log("m1", caller=as_user()))


def test_merge_with_nothing_new_says_so(engine: Engine, repo: Path) -> None:
    _session(engine, repo)
    head = git(repo, "rev-parse", "HEAD")
    result = engine.merge("m1", caller=as_user())
    assert result.commit is None and "already merged" in result.notes[0]
    assert git(repo, "rev-parse", "HEAD") == head


def test_merge_notes_uncommitted_work_left_out(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "a")
    (wt / "loose.txt").write_text("not committed\n")
    result = engine.merge("m1", caller=as_user())
    assert result.commit and any("not part of the merge" in n for n in result.notes)
    assert not (repo / "loose.txt").exists()


def test_merge_refuses_a_dirty_main_checkout(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "a")
    head = git(repo, "rev-parse", "HEAD")
    (repo / "README.md").write_text("edited, not committed\n")
    with pytest.raises(UncommittedWork, match="uncommitted changes"):
        engine.merge("m1", caller=as_user())
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "README.md").read_text() == "edited, not committed\n"


def test_conflict_is_aborted_and_files_reported(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "README.md", "session version\n", "session edit")
    _commit(repo, "README.md", "main version\n", "main edit")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(MergeConflict) as info:
        engine.merge("m1", caller=as_user())
    assert info.value.files == ["README.md"] and info.value.to_dict()["code"] == "merge_conflict"
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert (repo / "README.md").read_text() == "main version\n"


def test_direct_session_has_nothing_to_merge(engine: Engine, repo: Path) -> None:
    engine.create_session("d1", "sleep 600", mode="direct", cwd=repo, caller=as_user())
    with pytest.raises(InvalidInput, match="no branch"):
        engine.merge("d1", caller=as_user())


def test_cli_merge_and_conflict_json(repo: Path) -> None:
    from tests.helpers import trails

    wt = Path(trails("new", "c1", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    _commit(wt, "feature.txt", "from the agent\n", "agent")
    res = trails("merge", "c1", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["into"] == "main" and (repo / "feature.txt").read_text() == "from the agent\n"
    wt2 = Path(trails("new", "c2", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    _commit(wt2, "README.md", "agent version\n", "agent edit")
    _commit(repo, "README.md", "user version\n", "user edit")
    head = git(repo, "rev-parse", "HEAD")
    conflict = trails("merge", "c2", "--json", cwd=repo)
    assert conflict.code == 1 and conflict.error["code"] == "merge_conflict"
    assert conflict.error["files"] == ["README.md"]
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""


def test_merge_goes_back_into_the_branch_the_session_started_from(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    assert engine.get_session("m1", caller=as_user()).extra["base_branch"] == "main"
    _commit(wt, "feature.txt", "new\n", "add feature")
    git(repo, "checkout", "-qb", "elsewhere")
    with pytest.raises(InvalidInput, match="branched from 'main', but the main checkout is on 'elsewhere'"):
        engine.merge("m1", caller=as_user())
    assert not (repo / "feature.txt").exists()
    git(repo, "checkout", "-q", "main")
    assert engine.merge("m1", caller=as_user()).into == "main"
