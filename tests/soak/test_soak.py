"""The soak's short version (bench/soak.py, the same code): 12 sessions of the scripted agent for about
two minutes, two event subscribers (one reconnecting with `since`), and the soak's invariants: RSS
within 10 %, CPU under 2 % of a core with the agents quiet, no file descriptor or tmux pane leaked,
every stored status event once and in order in each stream."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def _soak():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("trails_bench_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(600)
def test_short_soak_keeps_every_invariant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRAILS_SUPERVISOR", raising=False)  # the soak watches its sessions live
    report = _soak().run(sessions=12, seconds=120, warmup=45)
    assert report.status_events > 0 and not report.problems, "\n".join(report.lines())
