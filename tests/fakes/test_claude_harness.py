"""The harness itself: the fake API, and the real Claude Code CLI driven against it (no mocks)."""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.fakes.anthropic_server import (
    Reply,
    ScriptedAnthropicServer,
    assistant_texts,
    last_user_text,
    session_id,
    tool_results,
    user_texts,
    working_directory,
)
from tests.fakes.claude_env import (
    BUSY,
    IDLE,
    TRUST_PROMPT,
    accept_trust_prompt,
    answer_permission,
    claude_process_env,
    make_claude_env,
    submit_prompt,
)
from tests.fakes.tmux_screen import new_session, send_keys, wait_for_screen

# --------------------------------------------------------------------------- the fake server alone


def _post(server: ScriptedAnthropicServer, path: str, body: dict[str, Any]) -> tuple[str, bytes]:
    req = urllib.request.Request(
        server.base_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.read()


MAIN_BODY: dict[str, Any] = {
    "model": "m",
    "tools": [{"name": "Bash"}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>\n - Primary working directory: /w/x\n</system-reminder>"},
                {"type": "text", "text": "do it"},
            ],
        }
    ],
}


def test_server_json_stream_and_side_requests(anthropic_server: ScriptedAnthropicServer) -> None:
    anthropic_server.script.reply_tool_use("Bash", {"command": "ls"}, tool_id="toolu_1")
    anthropic_server.script.reply_text("second")

    ctype, raw = _post(anthropic_server, "/v1/messages?beta=true", MAIN_BODY)
    assert ctype == "application/json"
    message = json.loads(raw)
    assert message["stop_reason"] == "tool_use"
    assert message["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]

    # a side request (no tools) does not consume the script
    _, raw = _post(anthropic_server, "/v1/messages", {"model": "m", "messages": [{"role": "user", "content": "t"}]})
    assert json.loads(raw)["content"][0]["text"] == anthropic_server.side_text

    ctype, raw = _post(anthropic_server, "/v1/messages", MAIN_BODY | {"stream": True})
    assert ctype == "text/event-stream"
    events = [line.split(": ", 1)[1] for line in raw.decode().splitlines() if line.startswith("event: ")]
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    text = "".join(
        json.loads(line[6:])["delta"]["text"]
        for line in raw.decode().splitlines()
        if line.startswith("data: ") and '"text_delta"' in line
    )
    assert text == "second"

    _, raw = _post(anthropic_server, "/v1/messages", MAIN_BODY)
    assert json.loads(raw)["content"][0]["text"] == "ok"  # script empty: default text

    _, raw = _post(anthropic_server, "/v1/messages/count_tokens", MAIN_BODY)
    assert json.loads(raw)["input_tokens"] > 0
    _, raw = _post(anthropic_server, "/some/unknown/path", {})
    assert json.loads(raw) == {}

    assert len(anthropic_server.requests) == 3
    assert len(anthropic_server.side_requests) == 1
    assert user_texts(anthropic_server.requests[0]) == ["do it"]
    assert working_directory(anthropic_server.requests[0]) == "/w/x"


def test_server_rules_take_precedence(anthropic_server: ScriptedAnthropicServer) -> None:
    script = anthropic_server.script
    script.reply_text("queued")
    script.on(lambda body: last_user_text(body) == "special", "rule once", times=1)
    script.on(lambda body: "echo" in last_user_text(body), lambda body: f"echo: {last_user_text(body)}")

    def ask(text: str) -> str:
        body = MAIN_BODY | {"messages": [{"role": "user", "content": text}]}
        body["system"] = "Primary working directory: /w"
        return str(json.loads(_post(anthropic_server, "/v1/messages", body)[1])["content"][0]["text"])

    assert ask("special") == "rule once"
    assert ask("echo me") == "echo: echo me"
    assert ask("special") == "queued"  # rule used up; falls through to the queue
    assert ask("anything") == "ok"
    assert anthropic_server.wait_for_requests(4, timeout=1)


# --------------------------------------------------------------------------- headless CLI


def _run_headless(claude: Path, repo: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [str(claude), *args, "--output-format", "json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_headless_print_json(
    claude_path: Path, git_repo: Path, tmp_path: Path, anthropic_server: ScriptedAnthropicServer
) -> None:
    anthropic_server.script.reply_text("hello from the fake")
    env = claude_process_env(tmp_path, anthropic_server.base_url)

    out = _run_headless(claude_path, git_repo, env, "-p", "hi")

    assert out["result"] == "hello from the fake"
    assert out["is_error"] is False
    assert out["session_id"]
    (request,) = anthropic_server.requests
    assert user_texts(request) == ["hi"]
    assert working_directory(request) == str(git_repo)
    assert session_id(request) == out["session_id"]


def test_headless_resume_and_fork(
    claude_path: Path, git_repo: Path, tmp_path: Path, anthropic_server: ScriptedAnthropicServer
) -> None:
    for text in ("first answer", "second answer", "forked answer"):
        anthropic_server.script.reply_text(text)
    env = claude_process_env(tmp_path, anthropic_server.base_url)

    first = _run_headless(claude_path, git_repo, env, "-p", "hi")
    resumed = _run_headless(claude_path, git_repo, env, "-p", "again", "--resume", first["session_id"])
    forked = _run_headless(claude_path, git_repo, env, "-p", "fork", "--resume", first["session_id"], "--fork-session")

    assert [first["result"], resumed["result"], forked["result"]] == [
        "first answer",
        "second answer",
        "forked answer",
    ]
    # --resume continues the same session and replays the earlier turns to the API
    assert resumed["session_id"] == first["session_id"]
    second_request = anthropic_server.requests[1]
    assert user_texts(second_request) == ["hi", "again"]
    assert assistant_texts(second_request) == ["first answer"]
    # --fork-session branches: new id, same history
    assert forked["session_id"] != first["session_id"]
    assert user_texts(anthropic_server.requests[2]) == ["hi", "again", "fork"]


def test_headless_parallel_sessions_with_echo_rule(
    claude_path: Path, tmp_path: Path, anthropic_server: ScriptedAnthropicServer
) -> None:
    anthropic_server.script.set_responder(lambda body: f"echo: {last_user_text(body)}")
    repos = []
    for i in range(3):
        repo = tmp_path / f"repo{i}"
        repo.mkdir()
        repos.append(repo)
    env = claude_process_env(tmp_path, anthropic_server.base_url)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda i: _run_headless(claude_path, repos[i], env, "-p", f"prompt {i}"), range(3)))

    assert [r["result"] for r in results] == [f"echo: prompt {i}" for i in range(3)]
    assert {working_directory(r) for r in anthropic_server.requests} == {str(r) for r in repos}


# --------------------------------------------------------------------------- interactive CLI in tmux


def test_interactive_trust_prompt_and_write_permission(
    claude_path: Path,
    git_repo: Path,
    tmp_path: Path,
    tmux_socket: Path,
    anthropic_server: ScriptedAnthropicServer,
) -> None:
    target_file = git_repo / "hello.txt"
    gate = threading.Event()
    anthropic_server.script.reply_tool_use("Write", {"file_path": str(target_file), "content": "hi there\n"}, gate=gate)
    anthropic_server.script.reply_text("Created hello.txt.")
    env = make_claude_env(tmp_path, anthropic_server.base_url)
    new_session(tmux_socket, "c", [str(claude_path)], cwd=git_repo, env=env)

    screen = wait_for_screen(tmux_socket, "c", TRUST_PROMPT)
    assert "Accessing workspace:" in screen
    accept_trust_prompt(tmux_socket, "c")

    submit_prompt(tmux_socket, "c", "please create hello.txt")
    (request,) = anthropic_server.wait_for_requests(1)
    assert last_user_text(request) == "please create hello.txt"
    wait_for_screen(tmux_socket, "c", BUSY)  # held by the gate: the CLI shows it is working
    gate.set()

    screen = wait_for_screen(tmux_socket, "c", r"Do you want to create hello\.txt\?")
    assert "1. Yes" in screen
    assert not target_file.exists()
    answer_permission(tmux_socket, "c", "1")

    wait_for_screen(tmux_socket, "c", r"Created hello\.txt\.")
    wait_for_screen(tmux_socket, "c", IDLE)
    assert target_file.read_text() == "hi there\n"
    follow_up = anthropic_server.requests[1]
    assert "File created successfully" in json.dumps(tool_results(follow_up))


def test_interactive_pretrusted_bash_permission_and_resume(
    claude_path: Path,
    git_repo: Path,
    tmp_path: Path,
    tmux_socket: Path,
    anthropic_server: ScriptedAnthropicServer,
) -> None:
    script = anthropic_server.script
    script.reply_tool_use("Bash", {"command": "echo ran > out.txt", "description": "Write out.txt"})
    script.reply_text("Command done.")
    env = make_claude_env(tmp_path, anthropic_server.base_url, trusted_dirs=[git_repo])
    new_session(tmux_socket, "c", [str(claude_path)], cwd=git_repo, env=env)

    wait_for_screen(tmux_socket, "c", IDLE)  # trusted folder: no trust prompt
    submit_prompt(tmux_socket, "c", "run the command")
    screen = wait_for_screen(tmux_socket, "c", r"Do you want to proceed\?")
    assert "echo ran > out.txt" in screen and "1. Yes" in screen
    answer_permission(tmux_socket, "c", "Enter")
    wait_for_screen(tmux_socket, "c", r"Command done\.")
    assert (git_repo / "out.txt").read_text() == "ran\n"

    # pause: quit the CLI; resume: start it again with --resume <session id>
    sid = session_id(anthropic_server.requests[0])
    assert sid
    send_keys(tmux_socket, "c", "C-c")
    send_keys(tmux_socket, "c", "C-c")
    wait_for_screen(tmux_socket, "c", r"Pane is dead|claude --resume")
    script.reply_text("Welcome back.")
    new_session(tmux_socket, "c2", [str(claude_path), "--resume", sid], cwd=git_repo, env=env)
    wait_for_screen(tmux_socket, "c2", r"run the command")  # earlier conversation is shown again
    submit_prompt(tmux_socket, "c2", "continue")
    wait_for_screen(tmux_socket, "c2", r"Welcome back\.")
    resumed = anthropic_server.requests[-1]
    assert user_texts(resumed) == ["run the command", "continue"]
    assert session_id(resumed) == sid


def test_headless_api_error(
    claude_path: Path, git_repo: Path, tmp_path: Path, anthropic_server: ScriptedAnthropicServer
) -> None:
    # Every main request fails. The CLI retries a 400 several times (6 requests with 2.1.330, dropping
    # beta headers one by one), so a one-shot script.reply_error() would just be retried past.
    anthropic_server.script.on(lambda body: True, Reply.error(400, "scripted failure"))
    env = claude_process_env(tmp_path, anthropic_server.base_url)
    proc = subprocess.run(
        [str(claude_path), "-p", "hi", "--output-format", "json"],
        cwd=git_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert out["is_error"] is True
    assert out["api_error_status"] == 400
    assert out["result"] == "API Error: 400 scripted failure"
