"""Session names, settings files and their errors, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import trails


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("Upper", "start with a lowercase"),
        ("-dash", "start with a lowercase"),
        ("has space", "' '"),
        ("semi;colon", "';'"),
        ("a" * 64, "64 characters"),
        ("x/y", "'/'"),
        # Valid by the pattern, but the name is part of git refs (trails/NAME, refs/trails/saved/NAME/…).
        ("a..b", "contains '..'"),
        ("x.lock", "ends with '.lock'"),
        ("end.", "ends with '.'"),
    ],
)
def test_bad_session_names_are_rejected_with_the_reason(repo: Path, name: str, why: str) -> None:
    res = trails("new", "--mode", "direct", "--json", "--", name, "bash", cwd=repo)
    assert res.code == 2
    assert res.error["code"] == "invalid_name"
    assert why in res.error["message"]
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []


@pytest.mark.parametrize("name", ["a", "s1", "fix-login.v2_b", "9" * 63])
def test_good_session_names_are_accepted(repo: Path, name: str) -> None:
    res = trails("new", name, "sleep 600", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["session"]["name"] == name
    assert name.replace("_", "__").replace(".", "_d") in res.json["session"]["tmux_session"]


def _write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"colour": "red"}, "unknown field `colour`"),
        ({"max_worktrees": "five"}, "key `max_worktrees`"),
        ({"session_mode": "sandbox"}, "key `session_mode`"),
        ({"agents": {"mine": {"command": "x", "modes": "direct"}}}, "unknown field `modes`"),
        ({"project_rules": [{"pattern": "*.rs", "required_mode": "vm"}]}, "project_rules[0].required_mode"),
    ],
)
def test_bad_project_settings_name_file_and_key(repo: Path, settings: object, expected: str) -> None:
    path = repo / ".trails" / "settings.json"
    _write(path, settings)
    res = trails("new", "s1", "bash", "--json", cwd=repo)
    assert res.code == 2
    assert res.error["code"] == "config_error"
    assert str(path) in res.error["message"]
    assert expected in res.error["message"]
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []


def test_bad_user_settings_name_the_user_file(repo: Path, trails_env: dict[str, Path]) -> None:
    path = trails_env["home"] / "settings.json"
    path.write_text("{not json")
    res = trails("new", "s1", "bash", "--json", cwd=repo)
    assert res.code == 2 and str(path) in res.error["message"] and "not valid JSON" in res.error["message"]


def test_configured_agent_profile_supplies_command_and_mode(repo: Path, trails_env: dict[str, Path]) -> None:
    _write(trails_env["home"] / "settings.json", {"agents": {"sleeper": {"command": "sleep 600", "mode": "direct"}}})
    res = trails("new", "s1", "sleeper", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    session = res.json["session"]
    assert session["command"] == ["sleep", "600"]
    assert session["mode"] == "direct"
    assert res.json["mode_decision"]["source"] == "agent preference"


def test_unknown_agent_program_is_a_clear_error(repo: Path) -> None:
    res = trails("new", "s1", "no-such-agent-xyz --flag", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 2
    assert "'no-such-agent-xyz' was not found on PATH" in res.error["message"]


def test_many_processes_creating_the_state_database_at_once_all_succeed(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "state.db"
    code = ("import sys; from pathlib import Path; from trails.core.store import Store; "
            "s = Store(Path(sys.argv[1])); s.conn; print(s.conn.execute('PRAGMA journal_mode').fetchone()[0])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(8)]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert {out.strip() for out, _ in results} == {"wal"}
