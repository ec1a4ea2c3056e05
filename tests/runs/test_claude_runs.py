"""Runs driving the real Claude Code CLI (pinned in tests/agents) against the scripted Messages API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import Reply, ScriptedAnthropicServer, last_user_text, user_texts
from tests.fakes.claude_env import INSTALL_COMMAND, claude_bin, make_claude_env
from tests.helpers import git


@pytest.fixture
def claude() -> Path:
    try:
        return claude_bin()
    except FileNotFoundError:
        pytest.fail(f"the Claude Code CLI is not installed: {INSTALL_COMMAND} (./dev test does)")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedAnthropicServer]:
    with ScriptedAnthropicServer() as srv:
        for key in [k for k in __import__("os").environ if k.startswith(("ANTHROPIC_", "CLAUDE_"))]:
            monkeypatch.delenv(key)
        for key, value in make_claude_env(tmp_path, srv.base_url).items():
            monkeypatch.setenv(key, value)
        yield srv


def run(tmp_path: Path, claude: Path, mode: str, sessions: str, *, parallel: int = 1) -> dict[str, Any]:
    from trails.runs import start_run

    (tmp_path / "wd").mkdir(exist_ok=True)
    (tmp_path / "wd" / "README.md").write_text("hello\n")
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {claude}\nwork_dir: ./wd\nsession_mode: {mode}\npermission_mode: acceptEdits\n"
                    f"max_turns: 5\ntimeout: 60\nsessions:\n{sessions}")
    return start_run(path, out=tmp_path / "out", parallel=parallel)


def conversation_of(server: ScriptedAnthropicServer, prompt: str) -> list[str]:
    """The user prompts the model saw in the first request that carried `prompt`."""
    body = next(b for b in server.requests if last_user_text(b) == prompt)
    return user_texts(body)


def result(tmp_path: Path, label: str) -> dict[str, Any]:
    return json.loads((tmp_path / "out" / label / "result.json").read_text())  # type: ignore[no-any-return]


def test_chained_session_sees_the_earlier_prompts(tmp_path: Path, claude: Path,
                                                  server: ScriptedAnthropicServer) -> None:
    summary = run(tmp_path, claude, "chained", (
        "  - {session_index: 1, prompt: 'P1 explore the code'}\n"
        "  - {session_index: 2, prompt: 'P2 take notes'}\n"
        "  - {session_index: 3, prompt: 'P3 write the analysis'}\n"
    ))
    assert summary["status"] == "completed", summary
    assert conversation_of(server, "P3 write the analysis") == [
        "P1 explore the code", "P2 take notes", "P3 write the analysis"]
    r1, r3 = result(tmp_path, "session_01"), result(tmp_path, "session_03")
    assert r3["resumed_from"] == "session_02" and r3["forked"]  # a branch: a retry starts from a clean history
    assert r1["conversation_id"] and r1["turns"] == 1 and r1["cost_usd"] is not None
    assert (tmp_path / "out" / "session_03" / "transcript.jsonl").exists()
    raw = json.loads((tmp_path / "out" / "session_03" / "agent_result.json").read_text())
    assert raw["session_id"] == r3["conversation_id"] and raw["is_error"] is False


def test_forked_sessions_share_session_one_but_not_each_other(tmp_path: Path, claude: Path,
                                                              server: ScriptedAnthropicServer) -> None:
    notes = tmp_path / "wd" / "notes2.txt"
    server.script.on(lambda b: last_user_text(b) == "S2 write notes",
                     Reply.tool_use("Write", {"file_path": str(notes), "content": "from session 2\n"}), times=1)
    summary = run(tmp_path, claude, "forked", (
        "  - {session_index: 1, prompt: 'S1 explore'}\n"
        "  - {session_index: 2, prompt: 'S2 write notes'}\n"
        "  - session_index: 3\n    prompt: 'S3 security review'\n"
        "    pre_run_commands: ['test ! -e notes2.txt', 'ls -a > ../seen_by_3.txt']\n"
    ))
    assert summary["status"] == "completed", summary
    assert conversation_of(server, "S2 write notes") == ["S1 explore", "S2 write notes"]
    assert conversation_of(server, "S3 security review") == ["S1 explore", "S3 security review"]

    out = tmp_path / "out"
    assert git(out, f"--git-dir={out / '.shadow_git'}", "show", "refs/tags/session_02:notes2.txt") == "from session 2"
    assert "notes2.txt" not in (tmp_path / "seen_by_3.txt").read_text()  # absent when session 3 started
    assert not notes.exists()
    r1, r2, r3 = (result(tmp_path, f"session_0{i}") for i in (1, 2, 3))
    assert r2["files_changed"] == [{"status": "A", "path": "notes2.txt"}]
    assert r2["resumed_from"] == r3["resumed_from"] == "session_01" and r2["forked"] and r3["forked"]
    assert len({r1["conversation_id"], r2["conversation_id"], r3["conversation_id"]}) == 3


def test_replicates_fork_one_conversation_in_parallel(tmp_path: Path, claude: Path,
                                                      server: ScriptedAnthropicServer) -> None:
    summary = run(tmp_path, claude, "forked", (
        "  - {session_index: 1, prompt: 'R1 explore'}\n"
        "  - {session_index: 2, prompt: 'R2 analyse', count: 2}\n"
    ), parallel=2)
    assert summary["status"] == "completed", summary
    seen = [user_texts(b) for b in server.requests if last_user_text(b) == "R2 analyse"]
    assert seen == [["R1 explore", "R2 analyse"]] * 2
    r01, r02 = result(tmp_path, "session_02_r01"), result(tmp_path, "session_02_r02")
    assert r01["start_tree"] == r02["start_tree"] and r01["work_dir"] != r02["work_dir"]
    assert r01["conversation_id"] != r02["conversation_id"]


def test_interrupted_claude_run_resumes_with_a_clean_conversation(tmp_path: Path, claude: Path,
                                                                  server: ScriptedAnthropicServer) -> None:
    import os
    import signal
    import subprocess
    import sys
    import threading

    from tests.helpers import trails, wait_until

    hold = threading.Event()
    server.script.on(lambda b: last_user_text(b) == "C2 notes", Reply.text("held", gate=hold), times=1)
    (tmp_path / "wd").mkdir()
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {claude}\nwork_dir: ./wd\nsession_mode: chained\ntimeout: 60\nsessions:\n"
                    "  - {session_index: 1, prompt: 'C1 explore'}\n  - {session_index: 2, prompt: 'C2 notes'}\n"
                    "  - {session_index: 3, prompt: 'C3 report'}\n")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(out)],
                            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: any(last_user_text(b) == "C2 notes" for b in server.requests), timeout=30,
                   message="session 2 to reach the model")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        hold.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert not (out / "session_02" / "result.json").exists()

    res = trails("run", "--resume-run", str(out), "--json")
    assert res.code == 0, res.stderr
    assert res.json["status"] == "completed"
    assert conversation_of_last(server, "C3 report") == ["C1 explore", "C2 notes", "C3 report"]


def conversation_of_last(server: ScriptedAnthropicServer, prompt: str) -> list[str]:
    body = [b for b in server.requests if last_user_text(b) == prompt][-1]
    return user_texts(body)
