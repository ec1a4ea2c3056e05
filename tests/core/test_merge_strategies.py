"""Engine.merge's strategies (no-ff, squash, rebase), messages from the session, and --cleanup, on real git."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import as_user, git, trails
from trails.core.engine import Engine
from trails.core.errors import InvalidInput, SessionNotFound, UncommittedWork
from trails.core.merge import MergeConflict


def _session(engine: Engine, repo: Path, name: str = "m1", prompt: str | None = None) -> Path:
    result = engine.create_session(name, "sleep 600", mode="worktree", cwd=repo, prompt=prompt, caller=as_user())
    return Path(result.session.worktree_path or "")


def _commit(where: Path, name: str, content: str, message: str) -> str:
    (where / name).write_text(content)
    git(where, "add", name)
    git(where, "commit", "-qm", message)
    return git(where, "rev-parse", "HEAD")


def _state(where: Path) -> tuple[str, str, str, str]:
    """HEAD, branch, index tree and the full status: what "nothing changed" compares."""
    return (git(where, "rev-parse", "HEAD"), git(where, "symbolic-ref", "-q", "HEAD"), git(where, "write-tree"),
            git(where, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"))


def test_squash_makes_one_commit_with_the_sessions_message(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo, prompt="Add the feature files\nand test them")
    _commit(wt, "a.txt", "a\n", "agent a")
    _commit(wt, "b.txt", "b\n", "agent b")
    head = git(repo, "rev-parse", "HEAD")
    result = engine.merge("m1", strategy="squash", caller=as_user())
    assert result.strategy == "squash" and git(repo, "rev-parse", "HEAD") == result.commit
    assert git(repo, "rev-list", "--parents", "-n", "1", "HEAD").split()[1:] == [head]  # one parent
    assert (repo / "a.txt").read_text() == "a\n" and (repo / "b.txt").read_text() == "b\n"
    message = git(repo, "log", "-1", "--format=%B")
    assert message.splitlines()[0] == "Add the feature files"
    assert "Session: m1" in message and "Agent: sleep 600" in message and "  and test them" in message
    assert git(repo, "status", "--porcelain") == ""
    again = engine.merge("m1", strategy="squash", caller=as_user())  # squashed before: nothing new, no empty commit
    assert again.commit is None and git(repo, "rev-parse", "HEAD") == result.commit


def test_squash_conflict_changes_nothing(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "README.md", "session version\n", "session edit")
    _commit(repo, "README.md", "main version\n", "main edit")
    (repo / "untracked.txt").write_text("mine\n")
    before = _state(repo)
    with pytest.raises(MergeConflict) as info:
        engine.merge("m1", strategy="squash", caller=as_user())
    assert info.value.files == ["README.md"]
    assert _state(repo) == before and (repo / "README.md").read_text() == "main version\n"


def test_rebase_strategy_lands_the_agents_commits_linearly(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "agent a")
    main_tip = _commit(repo, "other.txt", "o\n", "user commit")
    result = engine.merge("m1", strategy="rebase", caller=as_user())
    assert git(repo, "rev-parse", "HEAD") == result.commit == git(repo, "rev-parse", "trails/m1")
    assert git(repo, "log", "--format=%s", f"{main_tip}..HEAD") == "agent a"  # replayed, no merge commit
    assert git(wt, "rev-parse", "HEAD") == result.commit  # the agent's worktree is on the new tip
    with pytest.raises(InvalidInput, match="--message does not apply to --rebase"):
        engine.merge("m1", strategy="rebase", message="x", caller=as_user())


def test_default_strategy_and_message_option(engine: Engine, repo: Path, trails_env: dict[str, Path]) -> None:
    (trails_env["home"] / "settings.json").write_text(json.dumps({"merge_strategy": "squash"}))
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "agent a")
    result = engine.merge("m1", message="Land the feature\n\nwritten by me", caller=as_user())
    assert result.strategy == "squash"
    assert git(repo, "log", "-1", "--format=%B").strip() == "Land the feature\n\nwritten by me"
    with pytest.raises(InvalidInput, match="unknown merge strategy"):
        engine.merge("m1", strategy="octopus", caller=as_user())


def test_no_ff_message_names_the_session(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo, prompt="fix the login")
    _commit(wt, "a.txt", "a\n", "agent a")
    engine.merge("m1", caller=as_user())
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("Merge session m1 (trails/m1) into main") and "  fix the login" in message


@pytest.mark.parametrize("strategy", ["no-ff", "squash", "rebase"])
def test_cleanup_ends_the_session_and_keeps_the_tip(engine: Engine, repo: Path, strategy: str) -> None:
    wt = _session(engine, repo)
    tip = _commit(wt, "a.txt", "a\n", "agent a")
    result = engine.merge("m1", strategy=strategy, cleanup=True, caller=as_user())
    assert result.cleaned_up and result.kept_ref and result.kept_ref.startswith("refs/trails/merged/m1/")
    kept = git(repo, "rev-parse", result.kept_ref)
    assert kept == (tip if strategy != "rebase" else result.commit)
    assert not wt.exists() and git(repo, "branch", "--list", "trails/m1") == ""
    with pytest.raises(SessionNotFound):
        engine.get_session("m1", caller=as_user())
    assert (repo / "a.txt").read_text() == "a\n"


def test_cleanup_refuses_uncommitted_work_before_merging(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "agent a")
    (wt / "loose.txt").write_text("not committed\n")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(UncommittedWork, match="--cleanup would remove it unmerged"):
        engine.merge("m1", strategy="squash", cleanup=True, caller=as_user())
    assert git(repo, "rev-parse", "HEAD") == head and (wt / "loose.txt").exists()
    assert engine.get_session("m1", caller=as_user()).status.live


def test_cleanup_keeps_a_branch_with_commits_after_the_squash(engine: Engine, repo: Path) -> None:
    wt = _session(engine, repo)
    _commit(wt, "a.txt", "a\n", "agent a")
    engine.merge("m1", strategy="squash", caller=as_user())
    later = _commit(wt, "b.txt", "b\n", "agent b, after the merge")
    result = engine.merge("m1", strategy="no-ff", cleanup=True, caller=as_user())  # merges b, then cleans up
    assert result.commit and git(repo, "branch", "--list", "trails/m1") == ""
    assert git(repo, "rev-parse", result.kept_ref or "") == later


def test_cli_merge_flags(repo: Path) -> None:
    wt = Path(trails("new", "c1", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    _commit(wt, "f.txt", "f\n", "agent")
    both = trails("merge", "c1", "--squash", "--rebase", "--json", cwd=repo)
    assert both.code == 2 and both.error["code"] == "usage"
    res = trails("merge", "c1", "--squash", "--cleanup", "-m", "Squashed", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["strategy"] == "squash" and res.json["cleaned_up"] is True
    assert git(repo, "log", "-1", "--format=%s") == "Squashed" and not wt.exists()
