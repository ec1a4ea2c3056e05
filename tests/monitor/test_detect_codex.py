"""Codex detectors on screens recorded from the real CLI (@openai/codex 0.169.0), plus the fake Responses API.

The screens come from ``python -m tests.fakes.record_codex_screens`` (see its docstring).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_responses_server import (
    Reply,
    ScriptedResponsesServer,
    add_line_patch,
    is_main_request,
)
from trails.monitor.detect import detect, keys_for_option, load_patterns

SCREENS = Path(__file__).resolve().parent.parent / "data" / "screens" / "codex"

RECORDED: dict[str, tuple[str, str | None]] = {
    "trust.txt": ("prompt", "trust"),
    "idle.txt": ("ready", None),
    "busy.txt": ("busy", None),
    "approval_edit.txt": ("prompt", "edit"),
    "approval_command.txt": ("prompt", "command"),
    "finished.txt": ("ready", None),
}
PROMPTS = [name for name, (state, _) in RECORDED.items() if state == "prompt"]

# Wording of older Codex versions (the table), kept as pattern alternatives.
OLDER_SCREENS: dict[str, tuple[str, str | None]] = {
    """> You are running Codex in /tmp/demo

  Since this folder is version controlled, you may wish to allow Codex to work in this folder
  without asking for approval.

› 1. Yes, allow Codex to work in this folder without asking for approval
  2. No, ask me to approve edits and commands

  Press enter to continue""": ("prompt", "trust"),
    """› run the tests

Would you like to run the following command?

  $ pytest -q

› 1. Yes, proceed
  2. Yes, and don't ask again for this command
  3. No, and tell Codex what to do differently

  Press enter to confirm or esc to cancel""": ("prompt", "command"),
    "› fix the bug\n\n• Working (3s • esc to interrupt)\n\n›": ("busy", None),
    "› fix the bug\n\n• Done.\n\n›\n\n  ⏎ send   ⌃J newline   ⌃T transcript   ⌃C quit": ("ready", None),
}


def screen(name: str) -> list[str]:
    return (SCREENS / name).read_text().splitlines()


def test_every_recorded_screen_is_covered_and_none_is_hand_made() -> None:
    assert sorted(p.name for p in SCREENS.glob("*.txt")) == sorted(RECORDED)
    for name in RECORDED:
        assert "HAND-MADE" not in (SCREENS / name).read_text()


@pytest.mark.parametrize(("name", "state", "kind"), [(n, s, k) for n, (s, k) in RECORDED.items()])
def test_recorded_screens_are_classified(name: str, state: str, kind: str | None) -> None:
    got = detect(load_patterns("codex"), screen(name))
    assert (got.state, got.kind) == (state, kind)


@pytest.mark.parametrize("name", PROMPTS)
def test_prompts_find_the_approving_option(name: str) -> None:
    got = detect(load_patterns("codex"), screen(name))
    assert got.response is not None and got.response.option is not None
    # The cursor ("›") starts on the approving option (1.), so one Enter answers.
    assert keys_for_option(got.text, got.response.option) == ["Enter"]
    # With the cursor elsewhere, the detector walks back to it.
    moved = got.text.replace("› 1.", "  1.").replace("  2.", "› 2.", 1)
    assert keys_for_option(moved, got.response.option) == ["Up"]


def test_dialog_texts_hold_the_question_and_its_subject() -> None:
    patterns = load_patterns("codex")
    command = detect(patterns, screen("approval_command.txt")).text
    assert command.lstrip().startswith("Would you like to run the following command?")
    assert "$ python3 hello.py" in command and "Run it" not in command
    assert command.rstrip().endswith("Press enter to confirm or esc to cancel")
    edit = detect(patterns, screen("approval_edit.txt")).text
    assert "Destination: /tmp/trails-screens/codex-demo/hello.py" in edit and "Create hello.py" not in edit
    trust = detect(patterns, screen("trust.txt")).text
    assert trust.splitlines()[0].strip() == "Folder access" and "/tmp/trails-screens/codex-demo" in trust


def test_prompt_words_in_the_conversation_are_not_a_dialog() -> None:
    lines = [*screen("finished.txt"), "• Would you like to run the following command? I can do that."]
    assert detect(load_patterns("codex"), lines).state == "ready"


@pytest.mark.parametrize(("text", "expected"), list(OLDER_SCREENS.items()), ids=["trust", "command", "busy", "ready"])
def test_older_wording_still_matches(text: str, expected: tuple[str, str | None]) -> None:
    got = detect(load_patterns("codex"), text.splitlines())
    assert (got.state, got.kind) == expected
    if got.response is not None and got.response.option is not None:
        assert keys_for_option(got.text, got.response.option) == ["Enter"]


# --------------------------------------------------------------------------- the fake Responses API


def _post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}, method="POST"
    )
    events: list[dict[str, Any]] = []
    with urllib.request.urlopen(request, timeout=10) as response:
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    return events


TOOLS = [
    {"type": "function", "name": "exec_command", "parameters": {}},
    {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
]


def test_fake_server_streams_text_tool_calls_and_holds_a_gate() -> None:
    gate = threading.Event()
    with ScriptedResponsesServer() as server:
        server.script.reply_text("hello there", gate=gate)
        server.script.reply_shell("python3 hello.py", escalate="Run it?")
        server.script.reply(Reply.apply_patch(add_line_patch("a.txt", ["hi"])))
        url = f"{server.base_url}/responses"
        body = {"model": "gpt-5.5", "stream": True, "tools": TOOLS, "input": []}

        results: list[list[dict[str, Any]]] = []
        worker = threading.Thread(target=lambda: results.append(_post(url, body)))
        worker.start()
        server.wait_for_requests(1, timeout=10)
        with pytest.raises(TimeoutError):  # the stream is held open by the gate
            server.wait_for_requests(1, timeout=0.3, answered=True)
        assert worker.is_alive()
        gate.set()
        worker.join(timeout=10)
        kinds = [e["type"] for e in results[0]]
        assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
        text = "".join(e["delta"] for e in results[0] if e["type"] == "response.output_text.delta")
        assert text == "hello there"

        shell = _post(url, body)[-1]["response"]["output"][0]
        assert shell["type"] == "function_call" and shell["name"] == "exec_command"
        assert json.loads(shell["arguments"]) == {
            "cmd": "python3 hello.py", "sandbox_permissions": "require_escalated", "justification": "Run it?",
        }
        patch = _post(url, body)[-1]["response"]["output"][0]
        assert patch["type"] == "custom_tool_call" and patch["input"].startswith("*** Begin Patch\n*** Add File: a.txt")

        # The thread-title side request does not consume the script.
        title_body = {"stream": True, "input": [], "tools": TOOLS[:1],
                      "text": {"format": {"type": "json_schema", "schema": {"properties": {"title": {}}}}}}
        title = _post(url, title_body)[-1]["response"]["output"][0]["content"][0]["text"]
        assert json.loads(title) == {"title": server.side_text}
        assert len(server.requests) == 3 and len(server.side_requests) == 1
        assert not is_main_request({"tools": TOOLS}, {"x-codex-turn-metadata": '{"thread_source": "thread_title"}'})
