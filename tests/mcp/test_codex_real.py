"""The REAL pinned Codex CLI, configured by trails at session start, calls trails' MCP tools (against
the scripted Responses API): the credential reached `trails mcp` through Codex's `env_vars`, and the
tool ran without an approval prompt."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_responses_server import Reply, ScriptedResponsesServer, last_user_text, tool_names, tool_outputs
from tests.fakes.record_codex_screens import codex_command, make_codex_home
from tests.helpers import TrailsServer, as_user
from tests.monitor.conftest import screen_of, statuses, wait_status
from trails.api import types as t
from trails.api.client import Client

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
