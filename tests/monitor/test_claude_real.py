"""The supervisor on the REAL Claude Code CLI (tests/agents, pinned) against the scripted API server."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_server import ScriptedAnthropicServer, user_texts
from tests.fakes.claude_env import claude_bin
from tests.helpers import TrailsServer, as_user, git, wait_until
from tests.monitor.conftest import statuses, subsequence, wait_status

try:
    CLAUDE = claude_bin()
except FileNotFoundError as exc:  # ./dev test installs it; a missing CLI must fail, never skip
    raise RuntimeError(str(exc)) from None

pytestmark = pytest.mark.timeout(90)



def test_statuses_and_auto_yes_write(engine: Any, supervisor: int, repo: Path,
                                     api: ScriptedAnthropicServer) -> None:
    session = engine.create_session("c1", str(CLAUDE), cwd=repo, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "c1", "ready", timeout=60)
    gate = threading.Event()
    api.script.reply_tool_use("Write", {"file_path": str(wt / "hello.txt"), "content": "hi\n"}, gate=gate)
    api.script.reply_text("done writing")
    engine.send("c1", "please write hello", caller=as_user())
    wait_status(engine, "c1", "running")
    gate.set()
    wait_status(engine, "c1", "waiting")
    assert not (wt / "hello.txt").exists()
    engine.set_auto_yes("c1", True, caller=as_user())
    wait_until(lambda: (wt / "hello.txt").exists(), timeout=20, message="hello.txt")
    api.wait_for_requests(2, answered=True)
    wait_status(engine, "c1", "ready")
    assert subsequence(["loading", "ready", "running", "waiting", "ready"], statuses(engine, "c1")), \
        [(e["data"]["status"], e["data"]["reason"]) for e in TrailsServer(engine.home).events(session="c1")
         if e["kind"] == "status"]
    assert (wt / "hello.txt").read_text() == "hi\n"


def test_guarded_bash_is_not_approved(engine: Any, supervisor: int, repo: Path,
                                      api: ScriptedAnthropicServer) -> None:
    engine.create_session("c2", str(CLAUDE), cwd=repo, auto_yes=True, caller=as_user())
    wait_status(engine, "c2", "ready", timeout=60)
    api.script.reply_tool_use("Bash", {"command": "rm -rf build", "description": "clean the build"})
    engine.send("c2", "clean up", caller=as_user())
    wait_until(lambda: engine.store.get_session("c2").needs_user, timeout=20, message="needs_user")
    assert engine.store.get_session("c2").status.value == "waiting"
    refused = [a for a in engine.audit_log("c2", caller=as_user()) if a["action"] == "auto_yes_refused"]
    assert refused[0]["detail"]["guard"] == "recursive delete" and "rm -rf build" in refused[0]["detail"]["prompt"]
    assert refused[0]["detail"]["reason"] == "`rm -rf build` deletes recursively"  # read between its dashed rules
    assert not [a for a in engine.audit_log("c2", caller=as_user()) if a["action"] == "auto_yes_answered"]
    assert len(api.requests) == 1  # no tool result went back: nothing ran


def test_pause_resume_keeps_files_and_conversation(engine: Any, supervisor: int, repo: Path,
                                                   api: ScriptedAnthropicServer) -> None:
    session = engine.create_session("c3", str(CLAUDE), cwd=repo, auto_yes=True, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "c3", "ready", timeout=60)
    api.script.reply_tool_use("Write", {"file_path": str(wt / "notes.md"), "content": "remember me\n"})
    api.script.reply_text("wrote notes")
    engine.send("c3", "remember the magic word pineapple", caller=as_user())
    wait_until(lambda: (wt / "notes.md").exists(), timeout=20, message="notes.md")
    api.wait_for_requests(2, answered=True)
    wait_status(engine, "c3", "ready")
    (wt / "README.md").write_text("changed\n")
    (wt / "staged.txt").write_text("staged\n")
    git(wt, "add", "staged.txt")
    before = {p: (wt / p).read_text() for p in ("notes.md", "README.md", "staged.txt")}

    paused = engine.pause("c3", caller=as_user())
    assert not wt.exists() and paused["ref"].startswith("refs/trails/paused/c3/")
    assert engine.store.get_session("c3").status.value == "paused"
    assert git(repo, "rev-parse", "--verify", "trails/c3")  # the branch stays

    resumed = engine.resume("c3", caller=as_user())
    assert "--resume" in resumed["command"] and resumed["conversation_id"] in resumed["command"]
    assert {p: (wt / p).read_text() for p in before} == before
    assert "A  staged.txt" in git(wt, "status", "--porcelain")
    wait_status(engine, "c3", "ready", timeout=60)
    api.script.reply_text("the word was pineapple")
    engine.send("c3", "what was the word?", caller=as_user())
    later = api.wait_for(lambda body: "what was the word?" in " ".join(user_texts(body)), timeout=30)
    assert any("pineapple" in text for text in user_texts(later))


def test_a_long_send_reaches_claude_whole_and_is_submitted(engine: Any, supervisor: int, repo: Path,
                                                            api: ScriptedAnthropicServer) -> None:
    engine.create_session("c5", str(CLAUDE), cwd=repo, caller=as_user())
    wait_status(engine, "c5", "ready", timeout=60)
    # More than one tmux command can carry: it goes in as a bracketed paste, which Claude Code shows
    # as a placeholder; the Enter after it must still submit the whole text.
    text = "\n".join(f"{i:04d} a long pasted prompt, é✓ and 'quotes' and $(not run)" for i in range(400))
    assert len(text.encode()) > 20_000
    api.script.reply_text("read it all")
    engine.send("c5", text, caller=as_user())
    got = api.wait_for(lambda body: "0399 a long" in " ".join(user_texts(body)), timeout=30)
    # Claude Code hands a paste to the model inside <pasted_content> tags: all of it, unchanged.
    assert any(text in t for t in user_texts(got)), [_first_difference(text, t) for t in user_texts(got)]


def _first_difference(wanted: str, got: str) -> str:
    """Where `got` (a paste the model received, inside its tags) first differs from `wanted`."""
    start = got.find(wanted[:40])
    if start < 0:
        return f"its start is not there: {got[:200]!r}"
    seen = got[start:]
    at = next((i for i, (a, b) in enumerate(zip(wanted, seen, strict=False)) if a != b), min(len(wanted), len(seen)))
    return f"differs at {at} of {len(wanted)}: wanted {wanted[at - 40:at + 40]!r}, got {seen[at - 40:at + 40]!r}"


@pytest.mark.usefixtures("containers")
def test_container_session_keeps_its_conversation_through_pause_upgrade_and_export(
        engine: Any, supervisor: int, repo: Path, api: ScriptedAnthropicServer) -> None:
    # Host networking only so the CLI inside reaches the scripted server on this machine's loopback.
    session = engine.create_session("c4", str(CLAUDE), cwd=repo, mode="container", network="host",
                                    auto_yes=True, caller=as_user()).session
    wt = Path(session.worktree_path)
    wait_status(engine, "c4", "ready", timeout=60)
    api.script.reply_tool_use("Write", {"file_path": "/workspace/notes.md", "content": "remember me\n"})
    api.script.reply_text("wrote notes")
    engine.send("c4", "remember the magic word pineapple", caller=as_user())
    wait_until(lambda: (wt / "notes.md").exists(), timeout=20, message="notes.md")
    api.wait_for_requests(2, answered=True)
    wait_status(engine, "c4", "ready")

    def asked_and_remembered(question: str, answer: str) -> None:
        wait_status(engine, "c4", "ready", timeout=60)
        api.script.reply_text(answer)
        engine.send("c4", question, caller=as_user())
        later = api.wait_for(lambda body: question in " ".join(user_texts(body)), timeout=30)
        assert any("pineapple" in text for text in user_texts(later)), user_texts(later)

    # Pause stops the container; its home (the CLI's config and conversations) is kept on the host.
    engine.pause("c4", caller=as_user())
    resumed = engine.resume("c4", caller=as_user())
    assert "--resume" in resumed["command"]
    asked_and_remembered("what was the word?", "pineapple")
    assert (wt / "notes.md").read_text() == "remember me\n"

    # Out to the host and back in: the conversation follows the agent both ways.
    engine.export_session("c4", "worktree", force=True, caller=as_user())
    asked_and_remembered("and on the host?", "still pineapple")
    engine.upgrade_session("c4", "container", network="host", caller=as_user())
    asked_and_remembered("and back inside?", "pineapple again")
