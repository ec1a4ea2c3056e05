"""Limits outside containers (cgroups, else rlimits) and the worktree disk report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import as_user, trails, wait_until

HOG = "/usr/bin/python3 -c \"import time; b = b'x' * (300 << 20); print('survived', flush=True); time.sleep(600)\""


def test_memory_limit_is_enforced_on_a_direct_session(repo: Path, engine: Any) -> None:
    s = engine.create_session("h1", HOG, mode="direct", cwd=repo, memory="64m", caller=as_user()).session
    assert s.limits["memory"] == "64m" and s.limits["applied"]["memory"]
    got = wait_until(lambda: (x := engine.get_session("h1",
                                                      caller=as_user())).status.value == "error" and x, timeout=20,
                     message="the hog to be stopped")
    assert "survived" not in engine.output("h1", caller=as_user())
    assert "137" in got.status_reason or "MemoryError" in engine.output("h1", caller=as_user()) \
        or "signal" in got.status_reason
    engine.kill("h1", caller=as_user())
    for group in s.limits.get("cgroups", []):
        assert not Path(group).exists()


def test_rlimit_fallback_without_cgroups(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from trails.core import limits

    monkeypatch.setattr(limits, "CGROUP_ROOT", tmp_path / "no-cgroups")
    plan = limits.host_limits("x", limits.Limits(memory="128m", cpus=1.0))
    assert plan.prefix[0] == "prlimit" and plan.applied["memory"].startswith("rlimit")
    assert any("cpus could not be applied" in n for n in plan.notes)
    cp = subprocess.run([*plan.prefix, "/usr/bin/python3", "-c", "b = b'x' * (300 << 20); print('survived')"],
                        capture_output=True, text=True, check=False)
    assert "survived" not in cp.stdout and "MemoryError" in cp.stderr


def test_limit_values_are_checked(repo: Path) -> None:
    res = trails("new", "s1", "sleep 600", "--memory", "lots", "--json", cwd=repo)
    assert res.code == 2 and "512m" in res.error["message"]
    res = trails("new", "s1", "sleep 600", "--cpus", "0", "--json", cwd=repo)
    assert res.code == 2 and "cpus" in res.error["message"]


def test_show_reports_worktree_disk_use_with_a_warning(repo: Path, trails_env: dict[str, Path]) -> None:
    (trails_env["home"] / "settings.json").write_text(json.dumps({"disk_warn_mb": 1}))
    wt = Path(trails("new", "s1", "sleep 600", "--json", cwd=repo).json["session"]["worktree_path"])
    shown = trails("show", "s1", "--json", cwd=repo).json["disk"]
    assert shown["path"] == str(wt) and "warning" not in shown
    (wt / "big.bin").write_bytes(b"\1" * (3 << 20))
    shown = trails("show", "s1", "--json", cwd=repo).json["disk"]
    assert shown["mb"] >= 3 and "over the 1 MB" in shown["warning"]
    human = trails("show", "s1", cwd=repo)
    assert "disk:" in human.stdout and "warning:" in human.stderr
