"""Settings patterns under a real supervisor: a repository's prompt patterns are never answered, and a
pattern that does not compile stops neither the supervisor nor the other sessions' monitoring."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.helpers import TrailsServer, as_user, make_repo, wait_until
from tests.monitor.conftest import status_of, wait_status

# Draws a dialog only a settings pattern recognises ("PLEASE APPROVE"), then records what answered it.
PROMPTER = """
import sys
import time
print("❯ 1. Yes")
print("  2. No")
print("PLEASE APPROVE", flush=True)
sys.stdin.readline()
open(sys.argv[1], "w").write("answered")
print("done", flush=True)
time.sleep(600)
"""


def _write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_repository_prompt_patterns_are_not_answered(engine: Any, supervisor: int, tmp_path: Path,
                                                     trails_env: dict[str, Path]) -> None:
    script = tmp_path / "prompter.py"
    script.write_text(PROMPTER)
    detection = {"detection": {"command": {"prompts": {"command": ["PLEASE APPROVE"]}}}}
    repo = make_repo(tmp_path / "w" / "cloned")
    _write(repo / ".trails" / "settings.json", detection)
    answered = tmp_path / "answered-by-repo"
    created = engine.create_session("p1", f"{sys.executable} {script} {answered}", mode="direct", cwd=repo,
                                    auto_yes=True, caller=as_user())
    # Ready by the quiet rule (nothing on screen is a prompt trails knows), or answered.
    wait_until(lambda: answered.exists() or status_of(engine, "p1") == "ready", timeout=15,
               message="p1 to be ready or answered")
    assert "PLEASE APPROVE" in engine.output("p1", caller=as_user())
    assert not answered.exists()
    assert not any(a["action"] == "auto_yes_answered" for a in engine.audit_log("p1", caller=as_user()))
    assert any("ignored detection.command.prompts" in n for n in created.notes)

    # The same pattern in the user's own settings is answered: the test's dialog is answerable.
    _write(trails_env["home"] / "settings.json", detection)
    mine = tmp_path / "answered-by-user"
    engine.create_session("p2", f"{sys.executable} {script} {mine}", mode="direct", cwd=repo, auto_yes=True,
                          caller=as_user())
    wait_until(mine.exists, timeout=15, message="the user's prompt pattern to be answered")


def test_a_bad_pattern_stops_neither_the_supervisor_nor_other_sessions(
        engine: Any, repo: Path, tmp_path: Path, fake_claude: Path) -> None:
    engine.create_session("s1", str(fake_claude), cwd=repo, auto_yes=True, caller=as_user())
    echo = Path(__file__).resolve().parent.parent / "core" / "echo_agent.py"
    engine.create_session("s2", f"{sys.executable} {echo}", cwd=tmp_path, mode="direct", caller=as_user())
    TrailsServer(engine.home).start()
    try:
        wait_status(engine, "s1", "ready")
        wait_status(engine, "s2", "ready")
        # The repository's settings gain a guard that does not compile (a pull, an edit).
        TrailsServer(engine.home).stop()
        repo_settings = repo / ".trails" / "settings.json"
        _write(repo_settings, {"auto_yes": {"guards": {"mine": "(unclosed"}}})
        TrailsServer(engine.home).start()
        engine.send("s1", "run echo hi", caller=as_user())
        wait_until(lambda: engine.store.get_session("s1").needs_user, timeout=15,
                   message="s1 to wait for the user")
        s1 = engine.store.get_session("s1")
        assert s1.status.value == "waiting" and "settings do not load" in (s1.status_reason or "")
        assert "Ran echo hi" not in engine.output("s1", caller=as_user())
        errors = [a for a in engine.audit_log("s1", caller=as_user()) if a["action"] == "settings_error"]
        assert errors and "auto_yes.guards.mine" in errors[0]["detail"]["error"]

        # Everything else is still watched.
        assert TrailsServer(engine.home).status()["running"]
        last = max((e["id"] for e in TrailsServer(engine.home).events(session="s2")), default=0)
        engine.send("s2", "hello", caller=as_user())
        wait_until(lambda: any(e["kind"] == "status" and e["data"]["status"] == "ready"
                               for e in TrailsServer(engine.home).events(session="s2", since=last)), timeout=15,
                   message="s2's status to be followed")

        # Fixed settings take effect without a restart: the waiting prompt is answered.
        _write(repo_settings, {"auto_yes": {"guards": {"mine": "unclosed"}}})
        wait_until(lambda: "Ran echo hi" in engine.output("s1", caller=as_user()), timeout=15,
                   message="the prompt to be answered")
    finally:
        TrailsServer(engine.home).stop()


def test_the_supervisor_reads_the_repositorys_settings_not_the_worktrees(
        engine: Any, repo: Path, fake_claude: Path) -> None:
    # A guard in the main checkout's (untracked) settings; the session's worktree has no copy, and
    # whatever its agent writes there must not decide what auto-yes approves.
    _write(repo / ".trails" / "settings.json", {"auto_yes": {"guards": {"no-echo": r"\becho hi\b"}}})
    engine.create_session("s1", str(fake_claude), cwd=repo, auto_yes=True, caller=as_user())
    TrailsServer(engine.home).start()
    try:
        wait_status(engine, "s1", "ready")
        _write(Path(engine.get_session("s1", caller=as_user()).worktree_path) / ".trails" / "settings.json", {})
        engine.send("s1", "run echo hi", caller=as_user())
        wait_until(lambda: engine.store.get_session("s1").needs_user, timeout=15,
                   message="the guarded prompt to wait for the user")
        assert "Ran echo hi" not in engine.output("s1", caller=as_user())
        refused = [e for e in TrailsServer(engine.home).events(session="s1") if e["kind"] == "refused"]
        assert refused and refused[-1]["data"]["guard"] == "no-echo"
    finally:
        TrailsServer(engine.home).stop()


def test_a_guard_that_does_not_compile_refuses_rather_than_raises() -> None:
    from trails.monitor import guards

    refusal = guards.check("ls", kind="command", target=None, workdir="/tmp",
                           guards=guards.GuardSet(patterns={"mine": "(unclosed"}))
    assert refusal is not None and refusal.guard == "mine" and "not a valid regular expression" in refusal.reason
