"""The coordinator (issue #12) through the MCP SDK's own client: a session the user made a coordinator
creates a worker, prompts it, waits for it to be ready, reads its diff and merges it; and the server's
scope — a non-coordinator gets none of it, a coordinator nothing that weakens isolation and no change
to a session that is not its worker — each a clear error with nothing changed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.helpers import SessionRef, TrailsServer, as_user, credential, git, wait_until
from tests.mcp.test_mcp_stdio import TOOLS, call, mcp_session
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client
from trails.core.errors import NotPermitted
from trails.core.models import Status

ECHO_AGENT = Path(__file__).resolve().parent.parent / "core" / "echo_agent.py"
WORKER = f"{sys.executable} {Path(__file__).resolve().parent / 'worker_agent.py'}"
ORCHESTRATION = {"create_session", "send_prompt", "get_session_status", "wait_for_status", "get_session_output",
                 "get_diff", "merge_session", "pause_session", "kill_session"}


@pytest.fixture
def client(trails_env: dict[str, Path], repo: Path) -> Client:
    return Client(trails_env["home"], caller=as_user(repo), local=False)


def _start(client: Client, repo: Path, name: str, *, coordinator: bool = False) -> SessionRef:
    made = client.call(t.Create(name=name, agent=f"{sys.executable} {ECHO_AGENT}", mode="worktree", cwd=str(repo),
                                coordinator=coordinator))
    return SessionRef(name, made.session.tmux_session)


def _as_agent(trails_env: dict[str, Path], token: str, cwd: Path) -> Client:
    return Client(trails_env["home"], caller=Caller(trust=Trust.USER, cwd=str(cwd), credential=token), local=False)


def _names(client: Client) -> set[str]:
    return {s.name for s in client.call(t.ListSessions()).sessions}


def test_a_coordinator_creates_prompts_waits_for_diffs_and_merges_a_worker(
        trails_env: dict[str, Path], repo: Path, client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)  # `ready` comes from the supervisor's watch
    TrailsServer(trails_env["home"]).start()
    lead = _start(client, repo, "lead", coordinator=True)
    token = credential(trails_env["socket"], lead)

    async def body() -> None:
        async with mcp_session(trails_env, repo, token) as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS | ORCHESTRATION
            failed, made = await call(session, "create_session", name="w1", agent=WORKER)
            assert not failed, made
            assert (made["session"]["parent"], made["session"]["mode"]) == ("lead", "worktree"), made
            failed, waited = await call(session, "wait_for_status", names=["w1"], statuses=["ready"], timeout=30)
            assert not failed and waited["reached"] and waited["statuses"] == {"w1": "ready"}, waited
            failed, sent = await call(session, "send_prompt", name="w1", text="write notes.txt hello from w1")
            assert not failed, sent
            branch = client.call(t.Get(name="w1")).branch
            assert branch is not None
            wait_until(lambda: git(repo, "log", "--format=%s", f"main..{branch}") == "write notes.txt",
                       timeout=20, message="the worker's commit")
            failed, diff = await call(session, "get_diff", name="w1")
            assert not failed and "+hello from w1" in diff["diff"], diff
            failed, shown = await call(session, "get_session_output", name="w1")
            assert not failed and "wrote notes.txt" in shown["output"], shown
            failed, status = await call(session, "get_session_status", name="w1")
            assert not failed and status["parent"] == "lead", status
            failed, merged = await call(session, "merge_session", name="w1")
            assert not failed and merged["commit"], merged
            failed, killed = await call(session, "kill_session", name="w1")
            assert not failed, killed

    anyio.run(body)
    assert (repo / "notes.txt").read_text() == "hello from w1\n"  # merged into the main checkout
    created = [e for e in client.call(t.Events(session="w1")).events if e.kind == "created"]
    assert [e.caller for e in created] == ["agent:lead"]


def test_ls_and_the_api_show_the_tree(trails_env: dict[str, Path], repo: Path, client: Client) -> None:
    from tests.helpers import trails

    made = trails("new", "lead", "cat", "--coordinator", "--mode", "worktree", cwd=repo)
    assert made.code == 0 and "created lead (worktree, coordinator)" in made.stdout, made.stderr
    lead = SessionRef("lead", client.call(t.Get(name="lead")).tmux_session)
    _start(client, repo, "solo")
    coordinator = _as_agent(trails_env, credential(trails_env["socket"], lead), repo)
    coordinator.call(t.Create(name="w1", agent="cat"))
    infos = {s.name: s for s in client.call(t.ListSessions()).sessions}
    assert (infos["lead"].coordinator, infos["lead"].parent) == (True, None)
    assert (infos["w1"].coordinator, infos["w1"].parent) == (False, "lead")
    listed = trails("ls", cwd=repo)
    assert listed.code == 0, listed.stderr
    names = [line.split("  ")[0] for line in listed.stdout.splitlines()[1:]]
    assert names == ["lead", "└ w1", "solo"], listed.stdout
    assert "coordinator" in listed.stdout.splitlines()[1]
    as_json = trails("ls", "--json", cwd=repo)
    import json

    parents = {s["name"]: (s["coordinator"], s["parent"]) for s in json.loads(as_json.stdout)["sessions"]}
    assert parents == {"lead": (True, None), "w1": (False, "lead"), "solo": (False, None)}


@pytest.mark.parametrize("how", ["flag", "setting", "env"])
def test_a_coordinator_without_mcp_is_refused_and_show_says_when_mcp_is_off(
        trails_env: dict[str, Path], repo: Path, client: Client, how: str) -> None:
    """Its agent would have no tools to run workers with: refused under `coordinator`, nothing made."""
    from tests.helpers import trails

    args, env = ["--no-mcp"] if how == "flag" else [], {"TRAILS_MCP": "off"} if how == "env" else {}
    if how == "setting":
        (trails_env["home"] / "settings.json").write_text('{"mcp": false}')
    refused = trails("new", "lead", "cat", "--coordinator", "--mode", "direct", *args, "--json", cwd=repo, env=env)
    assert refused.code == 2, refused.stderr
    error = refused.error
    assert (error["code"], error["field"]) == ("invalid_input", "coordinator"), error
    assert "a coordinator needs trails' MCP server" in error["message"] and "nothing was done" in error["message"]
    assert {"flag": "--no-mcp", "setting": "settings.json", "env": "TRAILS_MCP=off"}[how] in error["message"]
    assert "lead" not in _names(client)

    made = trails("new", "quiet", "cat", "--mode", "direct", *args, cwd=repo, env=env)
    assert made.code == 0, made.stderr
    assert trails("show", "quiet", "--json", cwd=repo).json["session"]["extra"]["mcp"] is False
    shown = trails("show", "quiet", cwd=repo).stdout
    assert "mcp:              off: its agent is not given trails' MCP server" in shown, shown
    if how != "setting":  # the setting is for every session; the others were this one's own
        _start(client, repo, "loud")
        assert "mcp:" not in trails("show", "loud", cwd=repo).stdout


def test_a_non_coordinator_sees_no_orchestration_tools_and_the_server_refuses_them(
        trails_env: dict[str, Path], repo: Path, client: Client) -> None:
    plain, other = _start(client, repo, "plain"), _start(client, repo, "other")
    token = credential(trails_env["socket"], plain)

    async def body() -> None:
        async with mcp_session(trails_env, repo, token) as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS

    anyio.run(body)
    agent = _as_agent(trails_env, token, repo)
    assert agent.call(t.Whoami()) == t.WhoamiResult(caller="agent:plain", session="plain", coordinator=False)
    for request in (t.Create(name="w1", agent="cat"), t.Send(name=other.name, text="rm -rf"), t.Get(name="other"),
                    t.Output(name="other"), t.Diff(name="other"), t.Merge(name="other"), t.Pause(name="other"),
                    t.Kill(name="other"), t.WaitForStatus(names=["other"], statuses=[Status.READY], timeout=1)):
        with pytest.raises(NotPermitted) as raised:
            agent.call(request)
        assert "for coordinators" in raised.value.message and "plain is not one" in raised.value.message
    # Nor anything else beyond coordination: no run, no server stop, no moves.
    for request in (t.ServerStop(), t.AutoYes(name="plain", on=False), t.Resume(name="other")):  # type: ignore[assignment]
        with pytest.raises(NotPermitted) as raised:
            agent.call(request)
        assert "not available to an agent (agent:plain)" in raised.value.message
    assert _names(client) == {"plain", "other"}
    assert client.call(t.Get(name="other")).status.live


@pytest.mark.parametrize(("options", "field"), [
    ({"network": "bridge"}, "network"), ({"privileged": True}, "privileged"), ({"mounts": ["/etc:/etc"]}, "mounts"),
    ({"auto_yes": True}, "auto_yes"), ({"coordinator": True}, "coordinator"), ({"mode": "direct"}, "mode"),
    ({"env": {"X": "1"}}, "env"), ({"cwd": "/"}, "cwd"), ({"image": "alpine"}, "image"),
])
def test_a_coordinator_may_not_create_with_weaker_isolation_or_other_options(
        trails_env: dict[str, Path], repo: Path, client: Client, options: dict[str, Any], field: str) -> None:
    lead = _start(client, repo, "lead", coordinator=True)
    coordinator = _as_agent(trails_env, credential(trails_env["socket"], lead), repo)
    with pytest.raises(NotPermitted) as raised:
        coordinator.call(t.Create(name="w1", agent="cat", **options))
    assert raised.value.field == field and "agent:lead" in raised.value.message, raised.value.message
    assert _names(client) == {"lead"}
    assert git(repo, "branch", "--list", "trails/w1") == ""


def test_a_user_makes_a_coordinator_an_agent_does_not(trails_env: dict[str, Path], repo: Path,
                                                     client: Client) -> None:
    plain = _start(client, repo, "plain")
    agent = _as_agent(trails_env, credential(trails_env["socket"], plain), repo)
    with pytest.raises(NotPermitted) as raised:
        agent.call(t.Create(name="boss", agent="cat", coordinator=True))
    assert raised.value.field == "coordinator" and "only the user" in raised.value.message
    assert _names(client) == {"plain"}


def test_a_coordinator_changes_only_its_own_workers(trails_env: dict[str, Path], repo: Path, client: Client,
                                                    tmp_path: Path) -> None:
    lead = _start(client, repo, "lead", coordinator=True)
    _start(client, repo, "other")
    token = credential(trails_env["socket"], lead)
    coordinator = _as_agent(trails_env, token, repo)
    coordinator.call(t.Create(name="w1", agent="cat"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(elsewhere, "init", "-q")
    client.call(t.Create(name="far", agent="cat", mode="direct", cwd=str(elsewhere)))

    async def body() -> None:
        async with mcp_session(trails_env, repo, token) as session:
            for tool, args in (("kill_session", {"name": "other"}), ("merge_session", {"name": "other"}),
                               ("send_prompt", {"name": "other", "text": "hi"}), ("pause_session", {"name": "other"}),
                               ("kill_session", {"name": "lead"})):
                failed, text = await call(session, tool, **args)
                assert failed and text.startswith("not_permitted:") and "only its own workers" in text, text
            failed, text = await call(session, "get_session_status", name="far")  # another repository
            assert failed and text.startswith("not_permitted:") and "repository" in text, text
            failed, status = await call(session, "get_session_status", name="other")  # a read of its repository
            assert not failed and status["name"] == "other"
            failed, waited = await call(session, "wait_for_status", names=["other", "w1"], statuses=["paused"],
                                        timeout=0.5)
            assert not failed and waited["timed_out"] and not waited["reached"], waited
            failed, text = await call(session, "wait_for_status", names=["w1"], statuses=["bogus"])
            assert failed and text.startswith("invalid_input:") and "ready" in text, text

    anyio.run(body)
    # A read of another session hides its --env values (the user's, API keys often), not their names.
    client.call(t.Create(name="keyed", agent="cat", mode="worktree", cwd=str(repo), env={"API_KEY": "s3cret"}))
    for shown in (coordinator.call(t.Get(name="keyed")), coordinator.call(t.Show(name="keyed")).session):
        assert shown.env == {"API_KEY": "(hidden from agents)"}
    assert client.call(t.Get(name="keyed")).env == {"API_KEY": "s3cret"}
    client.call(t.Kill(name="keyed"))
    with pytest.raises(NotPermitted) as raised:
        coordinator.call(t.Kill(name="w1", force=True))  # never with force semantics
    assert raised.value.field == "force"
    assert _names(client) == {"lead", "other", "w1", "far"}
    assert all(client.call(t.Get(name=n)).status.live for n in ("lead", "other", "w1"))
    changed = [e for e in client.call(t.Events()).events if e.kind in ("sent", "paused", "merged", "killed")]
    assert [(e.session, e.caller) for e in changed] == [("keyed", "user")]


def test_a_later_coordinator_of_the_same_name_does_not_inherit_the_workers(
        trails_env: dict[str, Path], repo: Path, client: Client) -> None:
    first = _start(client, repo, "lead", coordinator=True)
    _as_agent(trails_env, credential(trails_env["socket"], first), repo).call(t.Create(name="w1", agent="cat"))
    client.call(t.Kill(name="lead"))
    second = _start(client, repo, "lead", coordinator=True)
    again = _as_agent(trails_env, credential(trails_env["socket"], second), repo)
    with pytest.raises(NotPermitted) as raised:
        again.call(t.Kill(name="w1"))
    assert "only its own workers" in raised.value.message
    assert client.call(t.Get(name="w1")).status.live


def test_a_merge_conflict_is_reported_with_its_files_and_changes_nothing(
        trails_env: dict[str, Path], repo: Path, client: Client) -> None:
    lead = _start(client, repo, "lead", coordinator=True)
    token = credential(trails_env["socket"], lead)
    _as_agent(trails_env, token, repo).call(t.Create(name="w1", agent="cat"))
    worktree = Path(client.call(t.Get(name="w1")).workdir)
    (worktree / "README.md").write_text("the worker's\n")
    git(worktree, "commit", "-qam", "worker")
    (repo / "README.md").write_text("main's\n")
    git(repo, "commit", "-qam", "main")
    head = git(repo, "rev-parse", "HEAD")

    async def body() -> None:
        async with mcp_session(trails_env, repo, token) as session:
            failed, text = await call(session, "merge_session", name="w1")
            assert failed and text.startswith("merge_conflict:") and "files: README.md" in text, text

    anyio.run(body)
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    assert (repo / "README.md").read_text() == "main's\n"


def test_a_coordinator_cannot_kill_a_worker_with_unsaved_work(trails_env: dict[str, Path], repo: Path,
                                                              client: Client) -> None:
    lead = _start(client, repo, "lead", coordinator=True)
    token = credential(trails_env["socket"], lead)
    _as_agent(trails_env, token, repo).call(t.Create(name="w1", agent="cat"))
    (Path(client.call(t.Get(name="w1")).workdir) / "draft.txt").write_text("not committed\n")

    async def body() -> None:
        async with mcp_session(trails_env, repo, token) as session:
            failed, text = await call(session, "kill_session", name="w1")
            assert failed and text.startswith("uncommitted_work:"), text

    anyio.run(body)
    assert client.call(t.Get(name="w1")).status.live
