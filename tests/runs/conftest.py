"""Helpers for run tests: write run files and work dirs; the fake command agent."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_AGENT = Path(__file__).with_name("fake_agent.py")


def fake_agent_command() -> str:
    return f"{sys.executable} {FAKE_AGENT}"


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    wd = tmp_path / "wd"
    wd.mkdir()
    (wd / "README.md").write_text("hello\n")
    (wd / "src").mkdir()
    (wd / "src" / "app.py").write_text("print('app')\n")
    return wd


@pytest.fixture
def agent_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "agent.log"
    monkeypatch.setenv("FAKE_AGENT_LOG", str(log))
    return log
