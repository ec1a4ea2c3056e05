"""A scripted run (`trails run`) killed at each step of its first session: what the agent had written
is in the work directory or a shadow snapshot run.json names; the same command again says how to
go on, and `--resume-run` finishes the run with every session done once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.faults import cases
from tests.faults.harness import clear_outcome, faulted, no_lock_held, ok
from tests.helpers import trails
from tests.runs.conftest import fake_agent_command


def _shadow(out: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={out / '.shadow_git'}", *args], capture_output=True, text=True,
                          check=False).stdout.strip()


def _kept(work_dir: Path, out: Path, path: str, content: str) -> str:
    """Where `path` with `content` is: the work directory, or a snapshot named in run.json."""
    if (work_dir / path).is_file() and (work_dir / path).read_text() == content:
        return "work dir"
    state = json.loads((out / "run.json").read_text())
    tags = [*state.get("interrupted", []), *(s.get("end_tag") for s in state.get("sessions", {}).values())]
    tags += [label for label in state.get("sessions", {})]
    found = next((t for t in tags if t and _shadow(out, "show", f"refs/tags/{t}:{path}") + "\n" == content), None)
    assert found is not None, f"{path} is neither in {work_dir} nor in a snapshot run.json names ({tags})"
    return found


@pytest.mark.parametrize("fault", cases.RUN)
def test_a_run_killed_at_a_step(tmp_path: Path, home: Path, fault: str) -> None:
    work_dir = tmp_path / "wd"
    work_dir.mkdir()
    (work_dir / "README.md").write_text("hello\n")
    run_file = tmp_path / "run.yaml"
    run_file.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\nsessions:\n"
                        "  - session_index: 1\n    prompt: write a.txt one\n"
                        "  - session_index: 2\n    prompt: write b.txt two\n")
    out = tmp_path / "out"
    command = ["run", str(run_file), "--out", str(out)]

    faulted(fault, *command, cwd=tmp_path)
    wrote = fault in ("run:agent_done", "run:snapshotted", "run:result_written")  # the agent ran
    if wrote:
        _kept(work_dir, out, "a.txt", "one\n")
    no_lock_held(home)
    again = trails(*command, "--json", cwd=tmp_path)
    assert clear_outcome(again) == "run_error" and "--resume-run" in again.error["hint"]

    summary = ok(trails("run", "--resume-run", str(out), "--json", cwd=tmp_path))
    assert summary["status"] == "completed"
    assert {k: v["status"] for k, v in summary["sessions"].items()} == {"session_01": "ok", "session_02": "ok"}
    assert sorted(p.name for p in work_dir.iterdir()) == ["README.md", "a.txt", "b.txt"]
    tags = _shadow(out, "tag").split()
    assert {"baseline", "session_01", "session_02"} <= set(tags)
    if wrote:
        _kept(work_dir, out, "a.txt", "one\n")
    no_lock_held(home)
