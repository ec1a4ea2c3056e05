"""Moving sessions between modes: every change survives, and a move that fails at any step changes nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import as_user, git, trails, wait_until
from tests.isolation.conftest import SLEEPER, pane_alive

pytestmark = pytest.mark.usefixtures("containers")


def _user_dirt(repo: Path) -> None:
    """The user's own uncommitted state before the session starts."""
    (repo / "user.txt").write_text("user staged\n")
    git(repo, "add", "user.txt")
    (repo / "scratch.txt").write_text("user untracked\n")


def _agent_work(root: Path) -> None:
    """What an agent leaves: unstaged, staged, untracked, a deletion, a nested new directory."""
    (root / "README.md").write_text("hello\nagent unstaged\n")
    (root / "staged.txt").write_text("agent staged\n")
    git(root, "add", "staged.txt")
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "untracked.txt").write_text("agent untracked\n")
    (root / "gone.txt").unlink()


def _state(root: Path) -> dict[str, Any]:
    """Files, index and status of a checkout: what 'nothing changed' compares."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            if name == ".git":
                continue
            path = Path(dirpath) / name
            files[str(path.relative_to(root))] = path.read_text()
    return {"files": files, "index": git(root, "ls-files", "-s"), "status": git(root, "status", "--porcelain"),
            "head": git(root, "rev-parse", "HEAD")}


@pytest.fixture
def repo2(repo: Path) -> Path:
    (repo / "gone.txt").write_text("to be deleted\n")
    git(repo, "add", "gone.txt")
    git(repo, "commit", "-qm", "second")
    return repo


def _row(engine: Any, name: str) -> dict[str, Any]:
    s = engine.get_session(name, caller=as_user())
    return {k: getattr(s, k) for k in ("mode", "workdir", "worktree_path", "branch", "base_commit", "container_id")}


def test_direct_to_worktree_to_container_and_back_keeps_every_change(repo2: Path, engine: Any) -> None:
    from trails.infra import docker as d

    repo = repo2
    _user_dirt(repo)
    before_session = _state(repo)
    engine.create_session("m1", SLEEPER, mode="direct", cwd=repo, caller=as_user())
    _agent_work(repo)
    agent_state = _state(repo)

    res = trails("upgrade-session", "m1", "--to", "worktree", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    moved = res.json["session"]
    wt = Path(moved["worktree_path"])
    assert moved["mode"] == "worktree" and moved["branch"] == "trails/m1" and wt.is_dir()
    # The worktree holds everything as the agent left it (the user's dirt was in the same tree).
    got = _state(wt)
    assert got["files"] == agent_state["files"] and got["index"] == agent_state["index"]
    assert got["status"] == agent_state["status"]
    # The main checkout is exactly as before the session.
    assert _state(repo) == before_session
    assert not (repo / "deep").exists()
    assert pane_alive(engine, "m1")

    res = trails("upgrade-session", "m1", "--to", "container", "--memory", "256m", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    moved = res.json["session"]
    cid = moved["container_id"]
    assert moved["mode"] == "container" and moved["worktree_path"] == str(wt) and d.status(cid) == "running"
    assert moved["limits"]["memory"] == "256m"
    assert _state(wt)["files"] == agent_state["files"]
    code, out = d.exec_run(cid, ["sh", "-c", "echo in-container > /workspace/more.txt"], f"{os.getuid()}:{os.getgid()}")
    assert code == 0, out

    refused = trails("export-session", "m1", "--to", "worktree", "--json", cwd=repo)
    assert refused.code == 1 and refused.error["code"] == "session_state"
    assert "loses isolation" in refused.error["message"] and "--force" in refused.error["hint"]
    assert d.status(cid) == "running"
    res = trails("export-session", "m1", "--to", "worktree", "--force", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    moved = res.json["session"]
    assert moved["mode"] == "worktree" and moved["container_id"] is None and d.status(cid) is None
    assert any("isolation lost" in n for n in res.json["notes"])
    final = _state(wt)
    assert final["files"] == {**agent_state["files"], "more.txt": "in-container\n"}
    assert final["index"] == agent_state["index"]
    assert _state(repo) == before_session
    assert pane_alive(engine, "m1")
    actions = [e["action"] for e in engine.audit_log("m1", caller=as_user())]
    assert actions.count("session_moved") == 3


def test_wrong_directions_are_refused(repo: Path, engine: Any) -> None:
    engine.create_session("w1", SLEEPER, mode="worktree", cwd=repo, caller=as_user())
    up = trails("export-session", "w1", "--to", "worktree", "--json", cwd=repo)
    assert up.code == 2 and "already" in up.error["message"]
    engine.create_session("d1", SLEEPER, mode="direct", cwd=repo, caller=as_user())
    res = trails("export-session", "d1", "--to", "worktree", "--force", "--json", cwd=repo)
    assert res.code == 2 and "upgrade" in res.error["message"]


# --- a failure at any step leaves the session as it was ---------------------------------------------


def _fail(monkeypatch: pytest.MonkeyPatch, step: str, when: str) -> None:
    from trails.core import moves

    real = getattr(moves, step)

    def failing(ctx: Any) -> None:
        if when == "after":
            real(ctx)
        raise RuntimeError(f"injected failure in {step}")

    monkeypatch.setattr(moves, step, failing)


def _steps(source: str, target: str) -> list[str]:
    from trails.core.models import Mode
    from trails.core.moves import AFTER_RECORD, STEPS

    return [s for s in STEPS[(Mode(source), Mode(target))] if s not in AFTER_RECORD]


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("step", _steps("direct", "worktree"))
def test_failed_direct_to_worktree_changes_nothing(repo2: Path, engine: Any, monkeypatch: pytest.MonkeyPatch,
                                                   step: str, when: str) -> None:
    from trails.core.errors import MoveFailed

    repo = repo2
    _user_dirt(repo)
    engine.create_session("m1", SLEEPER, mode="direct", cwd=repo, caller=as_user())
    _agent_work(repo)
    before, row = _state(repo), _row(engine, "m1")
    _fail(monkeypatch, step, when)
    with pytest.raises(MoveFailed) as err:
        engine.upgrade_session("m1", "worktree", caller=as_user())
    assert step in err.value.message and "put back" in err.value.message
    assert _state(repo) == before and _row(engine, "m1") == row
    assert git(repo, "branch", "--list", "trails/m1") == "" and len(git(repo, "worktree", "list").splitlines()) == 1
    wait_until(lambda: pane_alive(engine, "m1"), message="the agent running again")
    assert engine.audit_log("m1", caller=as_user())[-1]["action"] == "session_move_failed"


@pytest.mark.parametrize("step", _steps("worktree", "container"))
def test_failed_worktree_to_container_changes_nothing(repo: Path, engine: Any, monkeypatch: pytest.MonkeyPatch,
                                                      step: str) -> None:
    from trails.core.errors import MoveFailed
    from trails.infra import docker as d
    from trails.isolation.container import LABEL_HOME, home_tag

    s = engine.create_session("m1", SLEEPER, mode="worktree", cwd=repo, caller=as_user()).session
    wt = Path(s.worktree_path)
    _agent_work_simple(wt)
    before, row = _state(wt), _row(engine, "m1")
    _fail(monkeypatch, step, "after")
    with pytest.raises(MoveFailed):
        engine.upgrade_session("m1", "container", caller=as_user())
    assert _state(wt) == before and _row(engine, "m1") == row
    assert d.find_by_label(LABEL_HOME, home_tag()) == []
    wait_until(lambda: pane_alive(engine, "m1"), message="the agent running again")


@pytest.mark.parametrize("step", _steps("container", "worktree"))
def test_failed_export_changes_nothing(repo: Path, engine: Any, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    from trails.core.errors import MoveFailed
    from trails.infra import docker as d

    s = engine.create_session("m1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    wt = Path(s.worktree_path)
    _agent_work_simple(wt)
    before, row = _state(wt), _row(engine, "m1")
    _fail(monkeypatch, step, "after")
    with pytest.raises(MoveFailed):
        engine.export_session("m1", "worktree", force=True, caller=as_user())
    assert _state(wt) == before and _row(engine, "m1") == row
    assert d.status(s.container_id) == "running"
    wait_until(lambda: pane_alive(engine, "m1"), message="the agent running again")


def test_failure_after_the_move_is_recorded_is_reported_not_undone(repo: Path, engine: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine.create_session("m1", SLEEPER, mode="container", cwd=repo, caller=as_user())
    _fail(monkeypatch, "remove_container", "before")
    result = engine.export_session("m1", "worktree", force=True, caller=as_user())
    assert result.session.mode.value == "worktree"
    assert any("remove container failed" in n for n in result.notes)


def _agent_work_simple(wt: Path) -> None:
    (wt / "README.md").write_text("changed\n")
    (wt / "staged.txt").write_text("s\n")
    git(wt, "add", "staged.txt")
    (wt / "untracked.txt").write_text("u\n")


def test_restart_continues_the_conversation_where_the_profile_can() -> None:
    from trails.core.models import Mode, Session, Status
    from trails.core.moves import continuation_argv

    def session(profile: str, argv: list[str], conversation: str | None) -> Session:
        return Session(id=1, name="s", agent=profile, command=[*argv, "first prompt"], mode=Mode.DIRECT,
                       status=Status.RUNNING, workdir="/w", repo_root="/w", worktree_path=None, branch=None,
                       base_commit=None, tmux_session="t", conversation_id=conversation,
                       extra={"agent_profile": profile, "base_argv": argv})

    assert continuation_argv(session("claude", ["claude"], "abc"), cwd_changed=True) == (
        ["claude", "--resume", "abc"], "resume")
    assert continuation_argv(session("claude", ["claude"], None), cwd_changed=True) == (
        ["claude", "--continue"], "continue")
    assert continuation_argv(session("claude", ["claude"], "abc"), cwd_changed=False) == (
        ["claude", "--continue"], "continue")
    assert continuation_argv(session("command", ["sleep", "600"], None), cwd_changed=True) == (
        ["sleep", "600"], "fresh")


def test_an_upgrade_audits_the_repository_settings_it_ignored(repo: Path, engine: Any) -> None:
    import json

    (repo / ".trails").mkdir()
    (repo / ".trails" / "settings.json").write_text(json.dumps({"network": "bridge"}))
    engine.create_session("m1", SLEEPER, mode="worktree", cwd=repo, caller=as_user())
    result = engine.upgrade_session("m1", "container", caller=as_user())
    assert any("ignored network='bridge'" in n for n in result.notes), result.notes
    [ignored] = [a for a in engine.audit_log("m1", caller=as_user()) if a["action"] == "settings_ignored"]
    assert [s["key"] for s in ignored["detail"]["settings"]] == ["network"] and ignored["caller"] == "user"
    kinds = [e.kind for e in engine.store.events(session="m1")]
    assert kinds[-2:] == ["moved", "settings_ignored"], kinds
