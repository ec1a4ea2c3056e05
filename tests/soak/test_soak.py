"""The soak's 2-minute version (bench/soak.py, issue #17), in `./dev test`: 50 scripted agents printing,
going quiet, asking questions and exiting at random, with two subscribers of the server's event
stream (one reconnecting half way). The server's RSS stays within 10 % of its value after the first
minute, its CPU under 2 % of a core with the agents quiet, no descriptor or tmux pane leaks, and
every stored status event reaches each subscriber exactly once, in order."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(900)
SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def test_two_minutes_of_fifty_sessions_wear_nothing_out(trails_env: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("trails_soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, soak)  # its dataclasses look their module up there
    spec.loader.exec_module(soak)
    # The soak sets these for its own home; monkeypatch puts this test's back afterwards.
    monkeypatch.setenv("TRAILS_HOME", str(trails_env["home"]))
    monkeypatch.setenv("TRAILS_TMUX_SOCKET", str(trails_env["socket"]))
    base = Path(tempfile.mkdtemp(prefix="ts-"))
    try:
        report = soak.run(sessions=50, seconds=120, warmup=60, log=print, base=base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print("\n".join(report.lines()))
    assert not report.problems, "\n".join(report.lines())
    # It soaked: the agents did what the soak is for, many times over.
    assert report.status_events > 500 and report.resumed > 10 and report.answered > 10, report.lines()
