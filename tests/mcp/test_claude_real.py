"""Issue #12's done-when flows on the REAL Claude Code CLI (tests/agents, pinned): two sessions of one
repository, configured by trails at start to use its MCP server (nothing set up by hand), their model
scripted (tests/fakes/anthropic_server.py) to call the trails tools. What each tool answered is what
Claude sends back to the model as its tool_result."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import Reply, ScriptedAnthropicServer, last_user_text, tool_results, working_directory
from tests.fakes.claude_env import PERMISSION_PROMPT, claude_bin, make_claude_env
from tests.helpers import TrailsServer, as_user
from tests.monitor.conftest import screen_of, statuses, wait_status

try:
    CLAUDE = claude_bin()
except FileNotFoundError as exc:  # ./dev test installs it; a missing CLI must fail, never skip
    raise RuntimeError(str(exc)) from None

pytestmark = pytest.mark.timeout(150)
CALL = re.compile(r"CALL (\S+) (\{.*\})\s*$", re.S)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedAnthropicServer]:
    """The scripted API, and Claude's environment pointed at it (as tests/monitor's `api`). The model
    does what the prompt says: `CALL TOOL {json}` calls that tool; a tool's result is answered "done"."""
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    with ScriptedAnthropicServer() as server:
        for key in list(os.environ):
            if key.startswith(("ANTHROPIC_", "CLAUDE_")):
                monkeypatch.delenv(key)
        for key, value in make_claude_env(tmp_path, server.base_url).items():
            monkeypatch.setenv(key, value)
        server.script.set_responder(_responder)
        yield server


def _responder(body: dict[str, Any]) -> Reply | str:
    last = body["messages"][-1]
    content = last.get("content")
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return "done"
    found = CALL.search(last_user_text(body))
    return Reply.tool_use(found[1], json.loads(found[2])) if found else "ok"


@pytest.fixture
def pair(engine: Any, repo: Path, api: ScriptedAnthropicServer) -> Iterator[dict[str, Path]]:
    """Sessions a and b (real Claude, worktrees of `repo`), both ready, with this home's server watching."""
    server = TrailsServer(engine.home)
    server.start()
    places = {}
    for name in ("a", "b"):
        session = engine.create_session(name, str(CLAUDE), mode="worktree", cwd=repo, caller=as_user()).session
        places[name] = Path(session.worktree_path)
    for name in ("a", "b"):
        wait_status(engine, name, "ready", timeout=60)
    yield places
    server.stop()


def _ask(engine: Any, api: ScriptedAnthropicServer, name: str, place: Path, tool: str,
         arguments: dict[str, Any]) -> dict[str, Any]:
    """Have session `name`'s model call trails' `tool`; the tool_result Claude sent back for it."""
    engine.send(name, f"CALL mcp__trails__{tool} {json.dumps(arguments)}", caller=as_user())
    try:
        body = api.wait_for(lambda b: working_directory(b) == str(place) and bool(tool_results(b))
                            and f"mcp__trails__{tool}" in json.dumps(b["messages"][-2]), timeout=40)
    except TimeoutError:
        raise AssertionError(f"no result of {tool} from {name}; screen: {screen_of(engine, name)!r}") from None
    result: dict[str, Any] = tool_results(body)[-1]
    return result


def _text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict))
    return str(content)


def test_two_claude_sessions_coordinate_through_trails(engine: Any, pair: dict[str, Path],
                                                       api: ScriptedAnthropicServer) -> None:
    a, b = pair["a"], pair["b"]
    # A sends B a message: the server types it into B's pane once B is ready, and B's model reads it.
    sent = _ask(engine, api, "a", a, "agent_message", {"to": "b", "text": "please take the parser"})
    assert not sent.get("is_error"), sent
    typed = api.wait_for(lambda body: working_directory(body) == str(b)
                         and "from a to you: please take the parser" in last_user_text(body), timeout=40)
    assert "[trails] message" in last_user_text(typed)
    wait_status(engine, "b", "ready", timeout=30)

    # A claims src/app.py; B's claim of src/* overlaps it and is refused, naming A.
    claimed = _ask(engine, api, "a", a, "claim_resource", {"path": "src/app.py", "reason": "refactoring"})
    assert not claimed.get("is_error") and "src/app.py" in _text(claimed), claimed
    wait_status(engine, "a", "ready", timeout=30)
    refused = _ask(engine, api, "b", b, "claim_resource", {"path": "src/*"})
    assert refused.get("is_error"), refused
    assert "claim_conflict: 'src/*' overlaps 'src/app.py', claimed by a (refactoring)" in _text(refused), refused
    wait_status(engine, "b", "ready", timeout=30)

    # An artifact A shares is what B reads.
    shared = _ask(engine, api, "a", a, "share_artifact", {"name": "plan", "content": "1. parse\n2. print\n"})
    assert not shared.get("is_error"), shared
    read = _ask(engine, api, "b", b, "get_artifact", {"name": "plan"})
    assert not read.get("is_error") and "1. parse\\n2. print" in _text(read), read

    # The trails tools needed no permission: no prompt on screen, neither session ever `waiting`.
    for name in ("a", "b"):
        assert not re.search(PERMISSION_PROMPT, screen_of(engine, name))
        assert "waiting" not in statuses(engine, name), statuses(engine, name)

    # Each agent's credential reached its `trails mcp` through the environment, never a command line.
    credentials = _credentials_in_environments()
    assert len(credentials) >= 2, "each session's `trails mcp` holds its credential in its environment"
    for cmdline in _cmdlines():
        assert not any(c in cmdline for c in credentials), cmdline


def _cmdlines() -> Iterator[str]:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                yield (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue


def _credentials_in_environments() -> set[str]:
    """TRAILS_MCP_TOKEN of every `trails mcp` process running now."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-m" in cmdline and b"trails" in cmdline and b"mcp" in cmdline:
            found |= {v.split(b"=", 1)[1].decode() for v in environ if v.startswith(b"TRAILS_MCP_TOKEN=")}
    return found


def test_a_claude_coordinator_creates_prompts_waits_for_reads_and_merges_a_worker(
        engine: Any, repo: Path, api: ScriptedAnthropicServer) -> None:
    """The coordinator's done-when flow with the real Claude CLI: its model calls trails' orchestration
    tools, which only a coordinator's agent is given."""
    from tests.helpers import git, wait_until
    from tests.mcp.test_coordinator import WORKER

    server = TrailsServer(engine.home)
    server.start()
    try:
        lead = Path(engine.create_session("lead", str(CLAUDE), mode="worktree", cwd=repo, coordinator=True,
                                          caller=as_user()).session.worktree_path)
        wait_status(engine, "lead", "ready", timeout=60)

        def ask(tool: str, arguments: dict[str, Any]) -> str:
            result = _ask(engine, api, "lead", lead, tool, arguments)
            assert not result.get("is_error"), result
            wait_status(engine, "lead", "ready", timeout=30)
            return _text(result)

        made = ask("create_session", {"name": "w1", "agent": WORKER})
        assert '"parent":"lead"' in made.replace(" ", ""), made
        waited = ask("wait_for_status", {"names": ["w1"], "statuses": ["ready"], "timeout": 30})
        assert '"reached":true' in waited.replace(" ", ""), waited
        ask("send_prompt", {"name": "w1", "text": "write notes.txt hello from w1"})
        branch = engine.store.get_session("w1").branch
        wait_until(lambda: git(repo, "log", "--format=%s", f"main..{branch}") == "write notes.txt",
                   timeout=20, message="the worker's commit")
        assert "+hello from w1" in ask("get_diff", {"name": "w1"})
        ask("merge_session", {"name": "w1"})
        assert (repo / "notes.txt").read_text() == "hello from w1\n"  # merged into the main checkout
        assert not re.search(PERMISSION_PROMPT, screen_of(engine, "lead"))
    finally:
        server.stop()


@pytest.mark.usefixtures("containers")
def test_claude_in_a_container_calls_the_trails_tools_through_the_relay(
        engine: Any, repo: Path, api: ScriptedAnthropicServer) -> None:
    """A container session's Claude is configured with the relay in the mounted hook directory
    (tests/mcp/test_container_relay.py) and uses it as any MCP server: its calls are its session's."""
    from tests.helpers import wait_until
    from tests.mcp.test_container_relay import relayed_servers
    from trails.api.client import Client
    from trails.api.types import Events

    server = TrailsServer(engine.home)
    pid = server.start()
    try:
        # Host networking only so the CLI inside reaches the scripted API on this machine's loopback;
        # MCP goes through the mounted socket, not a network.
        engine.create_session("box", str(CLAUDE), mode="container", network="host", cwd=repo, caller=as_user())
        wait_status(engine, "box", "ready", timeout=90)
        # Claude starts its MCP servers as it comes up: the relay is through once the server runs a
        # `trails mcp` for it (typing while Claude still redraws for that can lose the Enter).
        relayed = wait_until(lambda: relayed_servers(pid), timeout=30, message="the relay's trails mcp")
        claimed = _ask(engine, api, "box", Path("/workspace"), "claim_resource",
                       {"path": "src/app.py", "reason": "from the container"})
        assert not claimed.get("is_error"), claimed
        assert '"session":"box"' in _text(claimed), claimed
        events = Client(engine.home, local=False).call(Events()).events
        assert [e.caller for e in events if e.kind == "claim"] == ["agent:box"], events
        assert not re.search(PERMISSION_PROMPT, screen_of(engine, "box"))
        assert "waiting" not in statuses(engine, "box"), statuses(engine, "box")
        # The `trails mcp` the server runs for the relay holds the credential in its environment only.
        ((credential,),) = relayed.values()
        assert not any(credential in cmdline for cmdline in _cmdlines())
    finally:
        server.stop()
