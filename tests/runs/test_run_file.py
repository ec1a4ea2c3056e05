"""Run file validation: each bad input is refused before anything runs, naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import trails
from tests.runs.conftest import fake_agent_command
from trails.core.errors import RunFileError
from trails.runs.plan import load_plan

GOOD_SESSIONS = """\
sessions:
  - session_index: 1
    prompt: explore
  - session_index: 2
    prompt: analyse
"""


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    (tmp_path / "wd").mkdir(exist_ok=True)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n"
     "  - session_index: 3\n    prompt: b\n", 6, "without gaps"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n"
     "  - session_index: 1\n    prompt: b\n", 6, "without gaps"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n"
     "  - session_index: 2\n    prompt: b\n    fork_from: 2\n", 8, "fork_from must name a lower"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n"
     "  - session_index: 2\n    prompt: b\n    fork_from: 5\n", 8, "fork_from must name a lower"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    count: 0\n",
     6, "count must be at least 1"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    count: 10000\n",
     6, "count must be at most 100 (got 10000)"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt_file: /etc/passwd\n",
     5, "prompt_file '/etc/passwd' is outside the run file's directory"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt_file: ../../../../../etc/passwd\n",
     5, "is outside the run file's directory"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    count: many\n",
     6, "sessions[0].count: Expected `int`"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    max_turns: 0\n",
     6, "sessions[0].max_turns"),
    ("agent: claude\nwork_dir: wd\nsession_mode: sideways\n" + GOOD_SESSIONS, 3, "session_mode"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    colour: red\n",
     6, "unknown key 'colour'"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n", 4, "exactly one of prompt or prompt_file"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    prompt_file: p.md\n",
     4, "exactly one of prompt or prompt_file"),
    ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt_file: missing.md\n",
     5, "cannot read prompt_file"),
    ("agent: claude\nwork_dir: nowhere\n" + GOOD_SESSIONS, 2, "is not a directory"),
    ("agent: claude\nwork_dir: wd\nwork_dir: wd\n" + GOOD_SESSIONS, 3, "duplicate key"),
    ("agent: claude\nwork_dir: wd\nsessions: [\n", 4, "not valid YAML"),
    ("agent: claude\nwork_dir: wd\nsessions: []\n", 3, "sessions is empty"),
    ("agent: claude\nwork_dir: wd\nenv:\n  DEBUG: 1\n" + GOOD_SESSIONS, 4, "env.DEBUG: Expected `str`"),
    ("agent: claude\n" + GOOD_SESSIONS, 1, "missing required field `work_dir`"),
])
def test_bad_run_file_names_the_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RunFileError) as info:
        load_plan(path)
    message = info.value.message
    assert f"{path}:{line}:" in message, message
    assert fragment in message, message


@pytest.mark.parametrize("mode", ["chained", "forked"])
def test_continuing_modes_need_an_agent_that_can_resume(tmp_path: Path, mode: str) -> None:
    path = write(tmp_path, f"agent: {fake_agent_command()}\nwork_dir: wd\nsession_mode: {mode}\n" + GOOD_SESSIONS)
    with pytest.raises(RunFileError) as info:
        load_plan(path)
    assert f"{path}:3:" in info.value.message
    assert "cannot resume" in info.value.message


def test_fork_from_with_a_plain_command_names_the_fork_line(tmp_path: Path) -> None:
    text = (f"agent: {fake_agent_command()}\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n"
            "  - session_index: 2\n    prompt: b\n    fork_from: 1\n")
    with pytest.raises(RunFileError) as info:
        load_plan(write(tmp_path, text))
    assert ":8:" in info.value.message and "cannot resume" in info.value.message


def test_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    text = ("agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n    count: 0\n"
            "  - session_index: 2\n    prompt: b\n    fork_from: 4\n")
    with pytest.raises(RunFileError) as info:
        load_plan(write(tmp_path, text))
    lines = info.value.message.splitlines()
    assert len(lines) == 2
    assert ":6:" in lines[0] and ":9:" in lines[1]


def test_semantics_of_modes_and_fork_from(tmp_path: Path) -> None:
    text = ("agent: claude\nwork_dir: wd\nsession_mode: chained\nsessions:\n"
            "  - {session_index: 1, prompt: a}\n  - {session_index: 2, prompt: b, count: 3}\n"
            "  - {session_index: 3, prompt: c}\n  - {session_index: 4, prompt: d, fork_from: 1}\n")
    plan = load_plan(write(tmp_path, text))
    s1, s2, s3, s4 = plan.sessions
    assert (s1.conversation_from, plan.start_tag(s1)) == (None, "baseline")
    assert (s2.conversation_from, s2.fork, s2.labels()) == (1, True, ["session_02_r01", "session_02_r02",
                                                                        "session_02_r03"])
    assert (s3.conversation_from, s3.fork, plan.start_tag(s3)) == (2, True, "session_02_r01")
    assert (s4.conversation_from, s4.fork, plan.start_tag(s4)) == (1, True, "session_01")


def test_cli_reports_the_line_with_json_error_code(tmp_path: Path) -> None:
    path = write(tmp_path, "agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 2\n    prompt: a\n")
    res = trails("run", str(path), "--json")
    assert res.code == 2
    assert res.error["code"] == "run_file_invalid"
    assert f"{path}:4:" in res.error["message"]
    assert not (tmp_path / "runs").exists()  # nothing ran, nothing was made


def test_dry_run_prints_the_plan_and_makes_nothing(tmp_path: Path) -> None:
    text = ("agent: claude\nwork_dir: wd\nsession_mode: forked\nsessions:\n"
            "  - {session_index: 1, prompt: a}\n  - {session_index: 2, prompt: b, count: 2}\n")
    path = write(tmp_path, text)
    res = trails("run", str(path), "--dry-run", "--json")
    assert res.code == 0, res.stderr
    sessions = res.json["plan"]["sessions"]
    assert sessions[1]["labels"] == ["session_02_r01", "session_02_r02"]
    assert sessions[1]["conversation"] == {"from": "session_01", "fork": True}
    assert not (tmp_path / "runs").exists()


def test_files_a_run_file_names_may_not_lead_out_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "secret").mkdir(parents=True)
    (outside / "secret" / "key.txt").write_text("secret\n")
    here = tmp_path / "study"
    here.mkdir()
    (here / "prompts").symlink_to(outside / "secret")
    text = "agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt_file: prompts/key.txt\n"
    with pytest.raises(RunFileError) as info:
        load_plan(write(here, text))
    assert ":5:" in info.value.message and "outside the run file's directory" in info.value.message
    (here / "wd" / "MEMORY.md").symlink_to(outside / "memory.md")  # the run would write its seed there
    text = "agent: claude\nwork_dir: wd\nmemory_file: MEMORY.md\n" + GOOD_SESSIONS
    with pytest.raises(RunFileError) as info:
        load_plan(write(here, text))
    assert ":3:" in info.value.message and "memory_file must be a path inside work_dir" in info.value.message


def test_a_prompt_file_beside_the_run_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.md").write_text("the task\n")
    text = "agent: claude\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt_file: prompts/../prompts/p.md\n"
    assert load_plan(write(tmp_path, text)).sessions[0].prompt == "the task\n"
