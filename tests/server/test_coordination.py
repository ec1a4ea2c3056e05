"""Agents' coordination over the real server: who acts is the server's decision, from the caller alone
(a session's credential makes it that session's agent; the user names the session it acts for)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tests.helpers import SessionRef, as_user, credential, start
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client
from trails.core import mcpwire
from trails.core.errors import TrailsError


def as_agent(home: Path, token: str, cwd: Path) -> Client:
    # What `trails mcp` sends: the user's own socket, a credential, no claim of who it is.
    return Client(home, caller=Caller(trust=Trust.USER, cwd=str(cwd), credential=token), local=False)


@pytest.fixture
def pair(client: Client, repo: Path, trails_env: dict[str, Path]) -> tuple[SessionRef, SessionRef]:
    return start(client, repo, "a"), start(client, repo, "b")


def test_each_launch_gets_its_own_credential_whose_digest_only_is_stored(
        client: Client, pair: tuple[SessionRef, SessionRef], trails_env: dict[str, Path]) -> None:
    a, b = pair
    token_a, token_b = credential(trails_env["socket"], a), credential(trails_env["socket"], b)
    assert token_a != token_b
    extra = client.call(t.Get(name="a")).extra
    assert extra[mcpwire.TOKEN_KEY] == mcpwire.digest(token_a)
    assert token_a not in msgspec.json.encode(client.call(t.Show(name="a"))).decode()


def test_an_agent_speaks_only_as_itself_and_the_user_names_a_session(
        client: Client, pair: tuple[SessionRef, SessionRef], repo: Path, trails_env: dict[str, Path]) -> None:
    a = pair[0]
    agent_a = as_agent(trails_env["home"], credential(trails_env["socket"], a), repo)
    sent = agent_a.call(t.AgentMessage(to="b", text="hi from a"))
    assert sent.from_session == "a"
    with pytest.raises(TrailsError) as other:
        agent_a.call(t.AgentMessage(to="b", text="I am b", as_session="b"))
    assert (other.value.code, other.value.field) == ("not_permitted", "as_session")
    with pytest.raises(TrailsError) as reads_other:
        agent_a.call(t.ReadMessages(as_session="b"))
    assert reads_other.value.code == "not_permitted"
    # The user acts for the session it names, and must name one.
    with pytest.raises(TrailsError) as none:
        client.call(t.AgentMessage(to="a", text="from nobody"))
    assert (none.value.code, none.value.field) == ("needs_session", "as_session")
    client.call(t.AgentMessage(to="a", text="from b, by the user", as_session="b"))
    inbox = client.call(t.ReadMessages(as_session="b"))
    assert [(m.from_session, m.text) for m in inbox.messages] == [("a", "hi from a")]
    assert [(m.from_session, m.text) for m in agent_a.call(t.ReadMessages()).messages] == \
        [("b", "from b, by the user")]
    callers = {e.data["text"]: e.caller for e in client.call(t.Events()).events if e.kind == "message"}
    assert callers == {"hi from a": "agent:a", "from b, by the user": "user"}


def test_a_forged_credential_is_refused_never_taken_for_the_user(
        client: Client, pair: tuple[SessionRef, SessionRef], repo: Path, trails_env: dict[str, Path]) -> None:
    forged = as_agent(trails_env["home"], "not-a-credential", repo)
    for request in (t.AgentMessage(to="b", text="forged", as_session="a"), t.ListClaims(), t.ListSessions()):
        with pytest.raises(TrailsError) as refused:
            forged.call(request)
        assert (refused.value.code, refused.value.field) == ("not_permitted", "credential")
    assert client.call(t.ReadMessages(as_session="b")).messages == []
    # A session's credential dies with it.
    token_a = credential(trails_env["socket"], pair[0])
    client.call(t.Kill(name="a"))
    with pytest.raises(TrailsError) as gone:
        as_agent(trails_env["home"], token_a, repo).call(t.ListClaims())
    assert gone.value.code == "not_permitted"


def test_query_sessions_shows_claims_and_last_messages(
        client: Client, pair: tuple[SessionRef, SessionRef], repo: Path, trails_env: dict[str, Path]) -> None:
    client.call(t.ClaimResource(path="src/app.py", reason="mine", as_session="a"))
    client.call(t.AgentMessage(to="*", text="starting on the app", as_session="a"))
    client = Client(trails_env["home"], caller=as_user(repo), local=False)  # in the repository: its sessions
    listed = client.call(t.QuerySessions(stats=True))
    assert listed.repo == str(repo)
    by_name = {p.name: p for p in listed.sessions}
    assert by_name["a"].claims == ["src/app.py"] and by_name["b"].claims == []
    assert by_name["a"].last_message == "starting on the app" and by_name["b"].last_message is None
    assert by_name["a"].diff is not None and by_name["a"].diff.files == 0
    assert [p.name for p in client.call(t.QuerySessions(filter="b")).sessions] == ["b"]


def test_query_sessions_stats_are_each_sessions_own_diff_counts(
        client: Client, pair: tuple[SessionRef, SessionRef], repo: Path, trails_env: dict[str, Path]) -> None:
    from tests.helpers import git

    start(client, repo, "c")
    worktrees = {name: Path(client.call(t.Get(name=name)).worktree_path or "") for name in ("a", "b", "c")}
    (worktrees["a"] / "committed.txt").write_text("one\ntwo\n")
    git(worktrees["a"], "add", "committed.txt")
    git(worktrees["a"], "commit", "-qm", "a's commit")
    (worktrees["a"] / "untracked.txt").write_text("u\n")
    (worktrees["c"] / "README.md").write_text("changed\n")
    client = Client(trails_env["home"], caller=as_user(repo), local=False)
    listed = {p.name: p.diff for p in client.call(t.QuerySessions(stats=True)).sessions}
    # The same counts as each session's own diff, read in one listing.
    for name in ("a", "b", "c"):
        stat = client.call(t.Diff(name=name, stat=True)).stat
        assert listed[name] == t.DiffStat(insertions=stat.insertions, deletions=stat.deletions, files=stat.files)
    assert (listed["a"].files, listed["b"].files, listed["c"].files) == (2, 0, 1)  # type: ignore[union-attr]


def test_an_agents_event_stream_holds_only_its_own_repositorys_sessions(
        client: Client, pair: tuple[SessionRef, SessionRef], repo: Path, tmp_path: Path,
        trails_env: dict[str, Path]) -> None:
    from tests.helpers import make_repo

    other = make_repo(tmp_path / "elsewhere" / "repo")
    start(client, other, "x")
    agent = as_agent(trails_env["home"], credential(trails_env["socket"], pair[0]), repo)
    client.call(t.Pause(name="x"))
    client.call(t.Pause(name="b"))  # after x's: once b's pause shows, x's would have shown before it
    seen: list[str | None] = []
    for event in agent.subscribe(since=0, timeout=10):
        seen.append(event.session)
        if event.session == "b" and event.data.get("status") == "paused":
            break
    assert "b" in seen and "a" in seen and "x" not in seen and None not in seen, seen
    # The user's own stream holds them all.
    assert "x" in {e.session for e in client.call(t.Events(since=0)).events}
