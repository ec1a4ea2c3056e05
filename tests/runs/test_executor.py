"""The run executor with a plain command agent: accumulation, result files, replicates, interrupt + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import git, make_repo, trails, wait_until
from tests.runs.conftest import fake_agent_command


def run_file(tmp_path: Path, sessions: str, extra: str = "") -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\n{extra}sessions:\n{sessions}")
    return path


def log_entries(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def shadow(out: Path, *args: str) -> str:
    return git(out, f"--git-dir={out / '.shadow_git'}", *args)


def test_isolated_run_accumulates_changes_and_writes_every_result_file(
        tmp_path: Path, work_dir: Path, agent_log: Path) -> None:
    path = run_file(tmp_path, (
        "  - session_index: 1\n    prompt: write notes.txt first\n"
        "  - session_index: 2\n    prompt: write second.txt two; rm src/app.py\n"
    ), extra="memory_file: MEMORY.md\nmemory_seed: '# memory'\n")
    out = tmp_path / "out"
    res = trails("run", str(path), "--out", str(out), "--json")
    assert res.code == 0, res.stderr
    summary = res.json
    assert summary["status"] == "completed"
    assert summary["totals"]["ok"] == 2
    assert "session_01: started from baseline" in res.stderr and "session_02: ok" in res.stderr

    seen = log_entries(agent_log)
    assert "MEMORY.md" in seen[0]["files"] and "notes.txt" not in seen[0]["files"]
    assert "notes.txt" in seen[1]["files"]  # changes accumulate in isolated mode
    assert sorted(str(p.relative_to(work_dir)) for p in work_dir.rglob("*") if p.is_file()) == [
        "MEMORY.md", "README.md", "notes.txt", "second.txt"]

    assert shadow(out, "tag").split() == ["baseline", "session_01", "session_02"]
    assert (out / "config.yaml").read_text() == path.read_text()
    assert json.loads((out / "run.json").read_text())["status"] == "completed"
    full = (out / "full_diff.patch").read_text()
    assert "notes.txt" in full and "second.txt" in full and "src/app.py" in full
    s2 = out / "session_02"
    for name in ("prompt.txt", "result.json", "agent_result.txt", "agent_stderr.txt", "transcript.txt",
                 "session_diff.patch"):
        assert (s2 / name).exists(), name
    result = json.loads((s2 / "result.json").read_text())
    assert result["status"] == "ok" and result["start_tag"] == "session_01" and result["exit_code"] == 0
    assert {f["path"]: f["status"] for f in result["files_changed"]} == {"second.txt": "A", "src/app.py": "D"}
    patch = (s2 / "session_diff.patch").read_text()
    assert "second.txt" in patch and "notes.txt" not in patch  # against its own start point


def test_replicates_start_from_identical_states_in_parallel(tmp_path: Path, work_dir: Path, agent_log: Path) -> None:
    path = run_file(tmp_path, (
        "  - session_index: 1\n    prompt: write base.txt base\n"
        "  - session_index: 2\n    prompt: write rep.txt replicate $REPLICATE; write common.txt same\n    count: 4\n"
        "  - session_index: 3\n    prompt: write after.txt after\n"
    ))
    out = tmp_path / "out"
    res = trails("run", str(path), "--out", str(out), "--parallel", "2", "--json")
    assert res.code == 0, res.stderr
    labels = [f"session_02_r{r:02d}" for r in range(1, 5)]
    assert all((out / label / "result.json").exists() for label in labels)
    results = [json.loads((out / label / "result.json").read_text()) for label in labels]
    assert {r["start_tree"] for r in results} == {results[0]["start_tree"]}
    assert {r["start_tag"] for r in results} == {"session_01"}
    assert len({r["work_dir"] for r in results}) == 2  # two slots served four replicates

    starts = [e for e in log_entries(agent_log) if e["session"] in labels]
    assert len(starts) == 4
    assert all(e["contents"] == starts[0]["contents"] for e in starts)  # no replicate saw another's files
    assert "rep.txt" not in starts[0]["files"]
    for r, label in enumerate(labels, start=1):
        assert shadow(out, "show", f"refs/tags/{label}:rep.txt") == f"replicate {r}"
        assert [f["path"] for f in json.loads((out / label / "result.json").read_text())["files_changed"]] == [
            "common.txt", "rep.txt"]

    s3 = next(e for e in log_entries(agent_log) if e["session"] == "session_03")
    assert s3["contents"]["rep.txt"] == "replicate 1\n"  # later sessions go on from replicate 1
    assert s3["cwd"] == str(work_dir)
    assert (work_dir / "rep.txt").read_text() == "replicate 1\n"
    assert not (out / ".replicas").exists()


def test_failed_and_timed_out_sessions_are_recorded_and_the_run_goes_on(tmp_path: Path, work_dir: Path,
                                                                       agent_log: Path) -> None:
    path = run_file(tmp_path, (
        "  - session_index: 1\n    prompt: write a.txt a; fail\n"
        "  - session_index: 2\n    prompt: block\n    timeout: 0.5\n"
        "  - session_index: 3\n    prompt: write c.txt c\n    pre_run_commands: ['test -e a.txt']\n"
    ))
    out = tmp_path / "out"
    res = trails("run", str(path), "--out", str(out), "--json",
                 env={"FAKE_AGENT_RELEASE": str(tmp_path / "never")})
    assert res.code == 1
    statuses = {k: v["status"] for k, v in res.json["sessions"].items()}
    assert statuses == {"session_01": "failed", "session_02": "timeout", "session_03": "ok"}
    assert res.json["status"] == "completed_with_failures"
    assert "failing as asked" in (out / "session_01" / "agent_stderr.txt").read_text()
    assert "$ test -e a.txt" in (out / "session_03" / "commands.log").read_text()


def test_interrupt_leaves_a_resumable_run(tmp_path: Path, work_dir: Path, agent_log: Path) -> None:
    release = tmp_path / "release"
    path = run_file(tmp_path, (
        "  - session_index: 1\n    prompt: write one.txt 1\n"
        "  - session_index: 2\n    prompt: write partial.txt half; block; write two.txt 2\n"
        "  - session_index: 3\n    prompt: write three.txt 3\n"
    ))
    out = tmp_path / "out"
    env = {"FAKE_AGENT_RELEASE": str(release)}
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(out)],
                            env={**__import__("os").environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until(lambda: (work_dir / "partial.txt").exists(), timeout=30, message="session 2 to be running")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "--resume-run" in stderr
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "interrupted"
    assert (out / "session_01" / "result.json").exists()
    assert not (out / "session_02" / "result.json").exists()
    assert [e["session"] for e in log_entries(agent_log)] == ["session_01", "session_02"]

    release.touch()
    res = trails("run", "--resume-run", str(out), "--json", env=env)
    assert res.code == 0, res.stderr
    assert res.json["status"] == "completed" and res.json["resumed"] == 1
    runs = [e for e in log_entries(agent_log)]
    assert [e["session"] for e in runs] == ["session_01", "session_02", "session_02", "session_03"]
    assert "partial.txt" not in runs[2]["files"]  # the retried session starts from session_01's state
    # What the interrupted attempt had written is kept in a snapshot named in run.json, not wiped.
    assert shadow(out, "tag").split() == ["baseline", "interrupted-1", "session_01", "session_02", "session_03"]
    assert res.json["interrupted"] == ["interrupted-1"]
    assert shadow(out, "show", "refs/tags/interrupted-1:partial.txt") == "half"
    assert sorted(p.name for p in work_dir.iterdir()) == [
        "README.md", "one.txt", "partial.txt", "src", "three.txt", "two.txt"]


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (an orphan's zombie waits for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_driver_shows_as_interrupted_and_its_resume_first_stops_the_agent_it_left(
        tmp_path: Path, work_dir: Path, agent_log: Path) -> None:
    release = tmp_path / "release"
    path = run_file(tmp_path, (
        "  - session_index: 1\n    prompt: write one.txt 1\n"
        "  - session_index: 2\n    prompt: write partial.txt half; block; write two.txt 2\n"
        "  - session_index: 3\n    prompt: write three.txt 3\n"
    ))
    out = tmp_path / "runs" / "study"
    env = {**os.environ, "FAKE_AGENT_RELEASE": str(release)}
    proc = subprocess.Popen([sys.executable, "-m", "trails", "run", str(path), "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: (work_dir / "partial.txt").exists(), timeout=30, message="session 2 to be running")
        # The driver is the run's process, which the trails server started for the command.
        driver = json.loads((out / "run.json").read_text())["driver"]["pid"]
        listed = trails("runs", str(tmp_path / "runs"), "--json")
        assert listed.code == 0 and listed.json[0]["status"] == "running" and listed.json[0]["resume"] is None
        second = trails("run", "--resume-run", str(out), "--json", env=env)  # a second driver on a live run
        assert second.code == 1 and second.error["code"] == "run_error", second.stderr
        assert f"is being run by another trails process (pid {driver})" in second.error["message"]
        os.kill(driver, signal.SIGKILL)
        proc.wait(timeout=30)  # the command whose run it was fails: its run's process died
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    orphan = log_entries(agent_log)[-1]["pid"]
    assert running(orphan)  # the agent, in a process group of its own, outlived its driver
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "running" and state["driver"]["pid"] == driver  # what the files alone say
    listed = trails("runs", str(tmp_path / "runs"), "--json")
    assert listed.code == 0, listed.stderr
    assert listed.json[0]["status"] == "interrupted" and listed.json[0]["resume"] == f"trails run --resume-run {out}"
    human = trails("runs", str(tmp_path / "runs")).stdout
    assert "interrupted" in human
    assert f"study: its trails process is gone; continue with  trails run --resume-run {out}" in human

    resume = subprocess.Popen([sys.executable, "-m", "trails", "run", "--resume-run", str(out), "--json"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Before it touches the work dir, the resume stops the agent the dead driver left writing there.
        wait_until(lambda: not running(orphan), timeout=30, message="the orphaned agent to be stopped")
        release.touch()
        stdout, stderr = resume.communicate(timeout=60)
    finally:
        release.touch()  # whatever happened, no agent stays blocked
        if resume.poll() is None:
            resume.kill()
    assert resume.returncode == 0, stderr
    assert json.loads(stdout)["status"] == "completed"
    assert [e["session"] for e in log_entries(agent_log)] == ["session_01", "session_02", "session_02", "session_03"]
    # What the killed attempt had written is kept in a snapshot (named in run.json) before the retry's reset.
    assert shadow(out, "tag").split() == ["baseline", "interrupted-1", "session_01", "session_02", "session_03"]
    assert shadow(out, "show", "refs/tags/interrupted-1:partial.txt") == "half"
    assert trails("runs", str(tmp_path / "runs"), "--json").json[0]["status"] == "completed"


def test_run_in_a_git_repo_keeps_its_own_history_and_index(tmp_path: Path, agent_log: Path) -> None:
    work = make_repo(tmp_path / "wd", {"a.txt": "a\n"})
    head = git(work, "rev-parse", "HEAD")
    path = run_file(tmp_path, "  - session_index: 1\n    prompt: write b.txt b\n")
    res = trails("run", str(path), "--out", str(work / "runs" / "r1"))  # output inside the work dir
    assert res.code == 0, res.stderr
    assert git(work, "rev-parse", "HEAD") == head
    status = git(work, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert [line for line in status if not line.startswith("?? runs/")] == ["?? b.txt"]
    out = work / "runs" / "r1"
    assert shadow(out, "ls-tree", "-r", "--name-only", "refs/tags/session_01").split() == ["a.txt", "b.txt"]


def test_out_dir_that_holds_a_run_is_refused(tmp_path: Path, work_dir: Path) -> None:
    path = run_file(tmp_path, "  - session_index: 1\n    prompt: write a.txt a\n")
    out = tmp_path / "out"
    assert trails("run", str(path), "--out", str(out)).code == 0
    res = trails("run", str(path), "--out", str(out), "--json")
    assert res.code == 1 and res.error["code"] == "run_error" and "--resume-run" in res.error["hint"]
