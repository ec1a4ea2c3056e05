"""Callers with trust: an agent may not weaken isolation, whatever it sends; the engine works in the
caller's directory and environment, never its own process's; the audit log names who asked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import agent, as_user, git, wait_until
from trails.api.caller import Caller, Trust
from trails.core.errors import NotPermitted

SLEEPER = "sleep 600"


def _nothing_made(engine: Any, repo: Path, name: str) -> None:
    assert name not in [s.name for s in engine.store.list_sessions(include_ended=True)]
    assert not engine.tmux.has_session(f"trails-{name}")
    assert git(repo, "branch", "--list", f"trails/{name}") == ""
    assert not (repo.parent / f"repo-wt-trails-{name}").exists()


def _caller_of(entry: dict[str, Any]) -> Any:
    # In the entry's detail today; a column of its own once the store gives it one.
    return entry.get("caller") or entry["detail"].get("caller")


@pytest.mark.parametrize(("options", "field"), [
    ({"network": "bridge"}, "network"),
    ({"network": "host"}, "network"),
    ({"privileged": True}, "privileged"),
    ({"mounts": ["/etc:/host-etc"]}, "mounts"),
    ({"auto_yes": True}, "auto_yes"),
])
def test_an_agent_may_not_create_a_session_with_weaker_isolation(engine: Any, repo: Path, options: dict[str, Any],
                                                                 field: str) -> None:
    with pytest.raises(NotPermitted) as raised:
        engine.create_session("w1", SLEEPER, mode="container", cwd=repo, caller=agent("a1"), **options)
    assert raised.value.code == "not_permitted" and raised.value.field == field
    assert "agent:a1" in raised.value.message
    _nothing_made(engine, repo, "w1")
    # The same request in a mode the options do not even apply to is refused all the same.
    with pytest.raises(NotPermitted):
        engine.create_session("w1", SLEEPER, mode="worktree", cwd=repo, caller=agent("a1"), **options)
    _nothing_made(engine, repo, "w1")


def test_an_agent_starts_sessions_only_as_isolated_as_its_own(engine: Any, repo: Path) -> None:
    engine.create_session("a1", SLEEPER, mode="worktree", cwd=repo, caller=as_user())
    with pytest.raises(NotPermitted) as raised:
        engine.create_session("d1", SLEEPER, mode="direct", cwd=repo, caller=agent("a1"))
    assert raised.value.field == "mode"
    _nothing_made(engine, repo, "d1")
    # An agent trails does not know (no session of that name) gets nothing below a container.
    with pytest.raises(NotPermitted):
        engine.create_session("d1", SLEEPER, mode="worktree", cwd=repo, caller=agent("nobody"))
    _nothing_made(engine, repo, "d1")
    # As isolated as its own: allowed, and the audit log says who asked.
    made = engine.create_session("w2", SLEEPER, mode="worktree", cwd=repo, caller=agent("a1"))
    assert made.session.mode.value == "worktree"
    created = [e for e in engine.audit_log("w2", caller=as_user()) if e["action"] == "session_created"]
    assert [_caller_of(e) for e in created] == ["agent:a1"]


def test_an_agent_may_not_turn_auto_yes_on_move_out_or_trust(engine: Any, repo: Path) -> None:
    engine.create_session("a1", SLEEPER, mode="worktree", cwd=repo, caller=as_user())
    before = engine.store.get_session("a1")

    with pytest.raises(NotPermitted) as raised:
        engine.set_auto_yes("a1", True, caller=agent("a1"))
    assert raised.value.field == "auto_yes"
    assert engine.set_auto_yes("a1", False, caller=agent("a1")).auto_yes is False  # narrowing is fine

    with pytest.raises(NotPermitted) as raised:
        engine.upgrade_session("a1", "container", network="bridge", caller=agent("a1"))
    assert raised.value.field == "network"
    with pytest.raises(NotPermitted) as raised:
        engine.export_session("a1", "direct", force=True, caller=agent("a1"))
    assert raised.value.field == "to"
    with pytest.raises(NotPermitted) as raised:
        engine.trust_repository(repo, caller=agent("a1"))
    assert raised.value.field == "path"

    after = engine.store.get_session("a1")
    assert (after.mode, after.auto_yes, after.worktree_path) == (before.mode, False, before.worktree_path)
    assert engine.trusted_repositories(caller=as_user()) == []
    assert not [e for e in engine.audit_log(caller=as_user()) if e["action"] in ("session_moved", "repository_trusted")]


def test_a_user_gets_what_an_agent_is_refused(engine: Any, repo: Path, tmp_path: Path, containers: None) -> None:
    from trails.infra import docker as d

    shared = tmp_path / "shared"
    shared.mkdir()
    made = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, network="bridge",
                                 mounts=[f"{shared}:/data"], auto_yes=True, caller=as_user())
    s = made.session
    assert s.auto_yes is True
    attrs = d.client().containers.get(s.container_id).attrs
    assert attrs["HostConfig"]["NetworkMode"] == "bridge"
    assert any(m["Source"] == str(shared) and m["Destination"] == "/data" for m in attrs["Mounts"])
    # A privileged container cannot start in every sandbox (runc may not apply the capabilities):
    # that the user's request passes the engine is what counts here (test_container checks the rest).
    other = engine.create_session("p1", SLEEPER, mode="worktree", cwd=repo, privileged=True, caller=as_user())
    assert any("apply to container mode only" in n for n in other.notes)
    assert engine.set_auto_yes("p1", True, caller=as_user()).auto_yes is True
    assert engine.trust_repository(repo, caller=as_user())["trusted"] is True
    trusted = [e for e in engine.audit_log(caller=as_user()) if e["action"] == "repository_trusted"]
    assert [_caller_of(e) for e in trusted] == ["user"]


def test_the_engine_works_in_the_callers_directory_and_environment(engine: Any, repo: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the process is not where the caller is
    monkeypatch.setenv("PROBE", "the process's")
    env = {**os.environ, "PROBE": "the caller's", "ONLY_IN_CALLER": "caller", "TRAILS_MODE": "direct"}
    caller = Caller(trust=Trust.USER, cwd=str(repo), env=env)
    agent_cmd = "sh -c 'echo \"$ONLY_IN_CALLER, $PROBE\" > seen.txt; exec sleep 600'"

    made = engine.create_session("e1", agent_cmd, caller=caller)  # no cwd, no --mode: the caller's decide
    s = made.session
    assert (s.mode.value, Path(s.workdir), made.decision["source"]) == ("direct", repo, "env")
    seen = wait_until(lambda: (repo / "seen.txt").exists() and (repo / "seen.txt").read_text(),
                      message="the agent to write what it sees")
    assert seen == "caller, the caller's\n"
    assert not (elsewhere / "seen.txt").exists()

    # A relative cwd is the caller's too; and so is the path `trust` is given.
    (repo / "sub").mkdir()
    rel = engine.create_session("e2", SLEEPER, cwd=Path("sub"), caller=caller).session
    assert Path(rel.workdir) == repo / "sub"
    assert engine.trust_repository(Path("sub"), caller=caller)["root"] == str(repo)


def test_every_action_is_audited_with_its_caller(engine: Any, repo: Path) -> None:
    web = Caller(trust=Trust.WEB, cwd=str(repo), env=dict(os.environ))
    engine.create_session("u1", "cat", mode="worktree", cwd=repo, caller=as_user())
    engine.send("u1", "hello", caller=web)
    engine.pause("u1", caller=as_user())
    engine.resume("u1", caller=web)
    engine.set_auto_yes("u1", False, caller=agent("u1"))
    engine.kill("u1", force=True, caller=as_user())
    entries = {e["action"]: _caller_of(e) for e in engine.audit_log("u1", caller=as_user())}
    assert entries == {"mode_selected": "user", "session_created": "user", "sent": "web",
                       "session_paused": "user", "session_resumed": "web", "auto_yes_set": "agent:u1",
                       "session_killed": "user"}


def test_a_read_only_token_changes_nothing(engine: Any, repo: Path) -> None:
    reader = Caller(trust=Trust.WEB, read_only=True, cwd=str(repo), env=dict(os.environ))
    with pytest.raises(NotPermitted):
        engine.create_session("r1", SLEEPER, mode="worktree", cwd=repo, caller=reader)
    _nothing_made(engine, repo, "r1")
    engine.create_session("r1", "cat", mode="worktree", cwd=repo, caller=as_user())
    for act in (lambda: engine.send("r1", "hi", caller=reader), lambda: engine.pause("r1", caller=reader),
                lambda: engine.kill("r1", force=True, caller=reader)):
        with pytest.raises(NotPermitted):
            act()
    assert engine.get_session("r1", caller=reader).status.live  # reading is allowed
    assert [e["action"] for e in engine.audit_log("r1", caller=reader)] == ["mode_selected", "session_created"]
