"""Matrices, --parallel across sessions, the progress bar on a terminal, `trails runs` and `--compare`."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import git, trails, wait_until
from tests.runs.conftest import FAKE_AGENT, fake_agent_command
from tests.runs.test_executor import log_entries


def matrix_file(tmp_path: Path) -> Path:
    path = tmp_path / "matrix.yaml"
    path.write_text(
        "work_dir: ./wd\n"
        "matrix:\n"
        f"  agent:\n    fast: {sys.executable} {FAKE_AGENT}\n    slow: {sys.executable} -u {FAKE_AGENT}\n"
        "  prompt:\n    terse: 'write answer.txt terse'\n    wordy: 'write answer.txt wordy'\n"
        "sessions:\n"
        "  - session_index: 1\n    count: 2\n"
        "  - session_index: 2\n    prompt: '{{prompt}}; write second.txt after'\n")
    return path


def test_matrix_runs_the_cross_product_with_readable_labels_and_groups(
        tmp_path: Path, work_dir: Path, agent_log: Path) -> None:
    out = tmp_path / "out"
    res = trails("run", str(matrix_file(tmp_path)), "--out", str(out), "--parallel", "3", "--json")
    assert res.code == 0, res.stderr
    cells = ["fast_terse", "fast_wordy", "slow_terse", "slow_wordy"]
    labels = [f"session_01_{c}_r0{r}" for c in cells for r in (1, 2)] + [f"session_02_{c}" for c in cells]
    state = json.loads((out / "run.json").read_text())
    assert sorted(state["sessions"]) == sorted(labels)
    assert state["totals"]["ok"] == 12 and state["matrix"] == ["agent", "prompt"]
    group = state["groups"]["slow_wordy"]
    assert group["values"]["prompt"] == "write answer.txt wordy" and " -u " in group["values"]["agent"]
    assert group["labels"] == ["session_01_slow_wordy_r01", "session_01_slow_wordy_r02", "session_02_slow_wordy"]
    assert group["totals"]["ok"] == 3
    shadow = ["--git-dir", str(out / ".shadow_git")]
    for c in cells:
        word = c.split("_")[1]
        assert git(out, *shadow, "show", f"refs/tags/session_01_{c}_r02:answer.txt") == word
        r2 = json.loads((out / f"session_02_{c}" / "result.json").read_text())
        assert r2["start_tag"] == f"session_01_{c}_r01" and r2["cell"] == c  # each cell is its own line
        assert git(out, *shadow, "show", f"refs/tags/session_02_{c}:second.txt") == "after"
    starts = {e["session"]: e for e in log_entries(agent_log)}
    assert "answer.txt" not in starts["session_01_slow_terse_r02"]["files"]  # replicates start from baseline
    assert starts["session_02_fast_wordy"]["contents"]["answer.txt"] == "wordy\n"


def test_matrix_label_of_the_issue_and_a_prompt_variant_needs_a_place(tmp_path: Path) -> None:
    (tmp_path / "wd").mkdir()
    path = tmp_path / "run.yaml"
    path.write_text("agent: claude\nwork_dir: wd\nsession_mode: forked\n"
                    "matrix:\n  model:\n    sonnet: claude-sonnet-4-5\n    haiku: claude-haiku-4-5\n"
                    "sessions:\n  - {session_index: 1, prompt: explore}\n"
                    "  - {session_index: 2, prompt: analyse, count: 3}\n")
    res = trails("run", str(path), "--dry-run", "--json")
    assert res.code == 0, res.stderr
    sessions = res.json["plan"]["sessions"]
    assert "session_02_claude_sonnet_r03" not in [lbl for s in sessions for lbl in s["labels"]]
    assert [lbl for s in sessions for lbl in s["labels"]][:4] == [
        "session_01_sonnet", "session_02_sonnet_r01", "session_02_sonnet_r02", "session_02_sonnet_r03"]
    assert sessions[1]["conversation"] == {"from": "session_01_sonnet", "fork": True}
    assert sessions[1]["model"] == "claude-sonnet-4-5" and sessions[1]["cell_values"]["model_label"] == "sonnet"
    path.write_text(path.read_text().replace("matrix:\n", "matrix:\n  agent: [claude]\n"))
    labels = [lbl for s in trails("run", str(path), "--dry-run", "--json").json["plan"]["sessions"]
              for lbl in s["labels"]]
    assert "session_02_claude_sonnet_r03" in labels
    path.write_text("agent: claude\nwork_dir: wd\nmatrix:\n  model: [a, b, a]\n"
                    "sessions:\n  - {session_index: 1, prompt: x}\n")
    res = trails("run", str(path), "--dry-run", "--json")
    assert res.code == 2 and f"{path}:4:" in res.error["message"] and "same label" in res.error["message"]


def test_parallel_runs_independent_cells_at_once(tmp_path: Path, work_dir: Path, agent_log: Path) -> None:
    release = tmp_path / "release"
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\n"
                    "matrix:\n  prompt:\n    a: 'block; write a.txt a'\n    b: 'block; write b.txt b'\n"
                    "sessions:\n  - session_index: 1\n")
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(tmp_path / "out"),
                             "--parallel", "2"], env={**os.environ, "FAKE_AGENT_RELEASE": str(release)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: len(log_entries(agent_log)) == 2, timeout=30, message="both cells running at once")
    finally:
        release.touch()
        proc.wait(30)
    assert proc.returncode == 0


def test_progress_bar_on_a_terminal_and_plain_lines_when_piped(tmp_path: Path, work_dir: Path,
                                                                agent_log: Path) -> None:
    release = tmp_path / "release"
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\nsessions:\n"
                    "  - {session_index: 1, prompt: 'block; write a.txt a'}\n"
                    "  - {session_index: 2, prompt: fail}\n  - {session_index: 3, prompt: 'write c.txt c'}\n")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(tmp_path / "out")],
                            env={**os.environ, "FAKE_AGENT_RELEASE": str(release)},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    screen = b""

    def read_until(needle: bytes, timeout: float = 30) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while needle not in screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} on the terminal: {screen!r}")
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    screen += os.read(master, 4096)
                except OSError:  # the child closed the terminal
                    break

    try:
        read_until("0/3 done · 1 running · 0 failed".encode())
        release.touch()
        read_until("3/3 done · 0 running · 1 failed".encode())
        read_until(b"completed_with_failures:")
    finally:
        release.touch()
        proc.wait(30)
        os.close(master)
    text = screen.decode()
    assert "\r\x1b[2K[" in text and "$0.0000" in text  # redrawn in place: bar, counts, elapsed, cost
    assert "session_02: failed" in text  # finished sessions still get their line above the bar

    piped = trails("run", str(path), "--out", str(tmp_path / "out2"), env={"FAKE_AGENT_RELEASE": str(release)})
    assert "\x1b[2K" not in piped.stderr and "  session_01: started from baseline" in piped.stderr


def test_runs_lists_run_dirs_and_compare_puts_two_side_by_side(tmp_path: Path, work_dir: Path,
                                                               agent_log: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\ntags: [baseline-study]\nrevert_work_dir: true\n"
                    "sessions:\n"
                    "  - {session_index: 1, prompt: 'write a.txt a'}\n"
                    "  - {session_index: 2, prompt: 'write b.txt b'}\n")
    assert trails("run", str(path), "--out", str(tmp_path / "runs" / "first")).code == 0
    assert not (work_dir / "a.txt").exists()  # revert_work_dir: the work dir as it was before the run
    path.write_text(path.read_text().replace("write b.txt b", "fail"))
    assert trails("run", str(path), "--out", str(tmp_path / "runs" / "second")).code == 1
    listed = trails("runs", "--json", cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    assert [(r["name"], r["status"], r["done"], r["failed"]) for r in listed.json] == [
        ("first", "completed", 2, 0), ("second", "completed_with_failures", 2, 1)]
    assert listed.json[0]["tags"] == ["baseline-study"]
    assert "first" in trails("runs", str(tmp_path / "runs")).stdout

    res = trails("run", "--compare", str(tmp_path / "runs" / "first"), str(tmp_path / "runs" / "second"), "--json")
    assert res.code == 0, res.stderr
    rows = {r["label"]: r for r in res.json["sessions"]}
    assert rows["session_01"]["a"]["files_changed"] == rows["session_01"]["b"]["files_changed"] == ["a.txt"]
    assert (rows["session_02"]["a"]["status"], rows["session_02"]["b"]["status"]) == ("ok", "failed")
    assert rows["session_02"]["a"]["files_changed"] == ["b.txt"] and rows["session_02"]["b"]["files_changed"] == []
    human = trails("run", "--compare", str(tmp_path / "runs" / "first"), str(tmp_path / "runs" / "second")).stdout
    line = next(ln for ln in human.splitlines() if ln.startswith("session_02"))
    assert "ok" in line and "failed" in line and line.endswith("*")  # the sessions that differ are marked
