"""The REAL pinned Codex CLI's `notify` program reports its finished turns to trails (against the
scripted Responses API): the status after a turn comes from Codex itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_responses_server import ScriptedResponsesServer
from tests.fakes.record_codex_screens import codex_command, make_codex_home
from tests.helpers import TrailsServer, as_user, wait_until
from tests.monitor.conftest import wait_status

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedResponsesServer]:
    with ScriptedResponsesServer() as server:
        for key in list(os.environ):
            if key.startswith(("OPENAI_", "CODEX_")):
                monkeypatch.delenv(key)
        for key, value in make_codex_home(tmp_path, server.base_url).items():
            monkeypatch.setenv(key, value)
        yield server


def test_a_finished_codex_turn_is_reported_by_codex(engine: Any, supervisor: int, repo: Path,
                                                     api: ScriptedResponsesServer) -> None:
    session = engine.create_session("x1", " ".join(codex_command()), cwd=repo, caller=as_user()).session
    assert session.extra["hooks"] == "codex"
    wait_status(engine, "x1", "ready", timeout=60)
    api.script.reply_text("All good.")
    engine.send("x1", "Think about it", caller=as_user())

    def from_codex() -> list[dict[str, Any]]:
        return [e["data"] for e in TrailsServer(engine.home).events(session="x1")
                if e["kind"] == "status" and e["data"].get("status_source") == "hook"]

    try:
        told = wait_until(from_codex, timeout=30, message="a status from Codex's notify")
    except AssertionError as exc:  # say whether Codex took the prompt at all, and what it shows
        pane = engine.tmux.capture(engine.store.get_session("x1").tmux_session)
        raise AssertionError(f"{exc}\nmodel requests: {len(api.requests)}\npane:\n{pane}") from None
    assert told[0]["status"] == "ready" and told[0]["reason"] == "turn finished", told
