"""The REAL pinned Codex CLI, configured by trails at session start, calls trails' MCP tools (against
the scripted Responses API): the credential reached `trails mcp` through Codex's `env_vars`, and the
tool ran without an approval prompt; in a container session, through the MCP relay."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_responses_server import Reply, ScriptedResponsesServer, last_user_text, tool_names, tool_outputs
from tests.fakes.record_codex_screens import DUMMY_API_KEY, TEST_MODEL, codex_command, make_codex_home
from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import screen_of, statuses, wait_status
from trails.api import types as t
from trails.api.client import Client
from trails.core import mcpwire

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedResponsesServer]:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)
    with ScriptedResponsesServer() as server:
        for key in list(os.environ):
            if key.startswith(("OPENAI_", "CODEX_")):
                monkeypatch.delenv(key)
        for key, value in make_codex_home(tmp_path, server.base_url).items():
            monkeypatch.setenv(key, value)
        yield server


def _responder(body: dict[str, Any]) -> Reply | str:
    """Look the trails tool up (Codex offers MCP tools only through its tool_search; a search made
    while `trails mcp` is still starting finds nothing, and is made again), call it, finish."""
    kinds = [item.get("type") for item in body.get("input") or [] if isinstance(item, dict)]
    if "function_call_output" in kinds:
        return "done"
    found = [(space["name"], tool["name"]) for item in body.get("input") or []
             if isinstance(item, dict) and item.get("type") == "tool_search_output"
             for space in item.get("tools") or [] for tool in space.get("tools") or []
             if tool["name"] == "claim_resource"]
    if found:
        return Reply.function_call("claim_resource", {"path": "src/parser.py", "reason": "rewriting it"},
                                   namespace=found[0][0])
    if "claim the parser" in last_user_text(body) and kinds.count("tool_search_output") < 20:
        return Reply.tool_search("trails claim_resource", delay=0.5 if "tool_search_output" in kinds else 0.0)
    return "ok"


def test_codex_claims_a_file_through_trails(engine: Any, repo: Path, api: ScriptedResponsesServer) -> None:
    server = TrailsServer(engine.home)
    server.start()
    try:
        api.script.set_responder(_responder)
        engine.create_session("x1", " ".join(codex_command()), mode="worktree", cwd=repo, caller=as_user())
        wait_status(engine, "x1", "ready", timeout=60)
        engine.send("x1", "claim the parser", caller=as_user())
        try:
            body = api.wait_for(lambda b: bool(tool_outputs(b)), timeout=40)
        except TimeoutError:
            raise AssertionError(f"no tool output; screen: {screen_of(engine, 'x1')!r}; "
                                 f"tools: {[tool_names(b) for b in api.requests][-1:]}") from None
        output = json.dumps(tool_outputs(body))
        assert "src/parser.py" in output and "not_permitted" not in output, output
        claims = Client(engine.home, caller=as_user(repo), local=False).call(t.ListClaims(as_session="x1")).claims
        assert [(c.session, c.path, c.reason) for c in claims] == [("x1", "src/parser.py", "rewriting it")]
        wait_status(engine, "x1", "ready", timeout=30)
        assert "waiting" not in statuses(engine, "x1")  # no approval was asked for it
    finally:
        server.stop()


@pytest.mark.usefixtures("containers")
def test_codex_in_a_container_claims_a_file_through_the_relay(engine: Any, repo: Path, api: ScriptedResponsesServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A container session's Codex is configured with the relay in the mounted hook directory
    (tests/mcp/test_container_relay.py) and calls trails' tool through it: the claim is its session's."""
    from tests.mcp.test_container_relay import relayed_servers

    server = TrailsServer(engine.home)
    pid = server.start()
    try:
        api.script.set_responder(_responder)
        # The container sees nothing of the host's CODEX_HOME: the scripted provider is given on the
        # command line, its key in OPENAI_API_KEY (passed into containers by name). Host networking
        # only so the CLI inside reaches the scripted API on this machine's loopback; MCP goes
        # through the socket.
        monkeypatch.setenv("OPENAI_API_KEY", DUMMY_API_KEY)
        provider = {"model": TEST_MODEL, "model_provider": "trails", "approval_policy": "on-request",
                    "sandbox_mode": "read-only", "check_for_update_on_startup": False,
                    "model_providers.trails.name": "trails fake", "model_providers.trails.base_url": api.base_url,
                    "model_providers.trails.env_key": "OPENAI_API_KEY", "model_providers.trails.wire_api": "responses",
                    "model_providers.trails.request_max_retries": 0, "model_providers.trails.stream_max_retries": 0,
                    "analytics.enabled": False}
        overrides = [a for key, value in provider.items() for a in ("-c", f"{key}={json.dumps(value)}")]
        overrides += ["-c", f'notice.model_migrations={{"{TEST_MODEL}" = "gpt-6-sol"}}']  # no model switch
        engine.create_session("box", shlex.join([*codex_command(), *overrides]), mode="container", network="host",
                              cwd=repo, caller=as_user())
        wait_status(engine, "box", "ready", timeout=90)
        # Its footer (model · folder) comes last as it starts; an Enter typed before it can be lost.
        wait_until(lambda: "· /workspace" in screen_of(engine, "box"), timeout=30, message="Codex's footer")
        engine.send("box", "claim the parser", caller=as_user())
        try:
            body = api.wait_for(lambda b: bool(tool_outputs(b)), timeout=60)
        except TimeoutError:
            raise AssertionError(f"no tool output; screen: {screen_of(engine, 'box')!r}") from None
        output = json.dumps(tool_outputs(body))
        assert '"session":"box","path":"src/parser.py"' in tool_outputs(body)[-1]["output"], output
        events = Client(engine.home, local=False).call(t.Events()).events
        assert [e.caller for e in events if e.kind == "claim"] == ["agent:box"], events
        ((credential,),) = relayed_servers(pid).values()  # the relayed trails mcp has this launch's credential
        assert mcpwire.digest(credential) == engine.store.get_session("box").extra[mcpwire.TOKEN_KEY]
        assert "waiting" not in statuses(engine, "box")  # no approval was asked for it
    finally:
        server.stop()
