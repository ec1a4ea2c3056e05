"""The fault points are a declared list (trails.core.faults.STEPS): every point in the code is
declared, every declared point is run by the matrix, and none fires without the test setting."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults import cases
from trails.core import faults, moves

SRC = Path(faults.__file__).resolve().parents[1]


def _points() -> list[tuple[str, str | None, str]]:
    """(operation, step or None when computed, where) of every faults.point call in the source."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "point"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "faults"):
                op, step = node.args
                assert isinstance(op, ast.Constant), f"{path}:{node.lineno}: the operation must be a literal"
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                found.append((op.value, step.value if isinstance(step, ast.Constant) else None, where))
    return found


def test_every_point_in_the_code_is_declared() -> None:
    points = _points()
    assert len(points) > 30
    for op, step, where in points:
        assert op in faults.STEPS, f"{where}: operation {op!r} is not declared"
        if step is not None:
            assert step in faults.STEPS[op], f"{where}: {op}:{step} is not declared"
    # The one computed name: a move's steps, by name (core/moves.py).
    computed = [(op, where.split(":")[0]) for op, step, where in points if step is None]
    assert computed == [("move", "core/moves.py")]
    for steps in moves.STEPS.values():
        assert set(steps) <= set(faults.STEPS["move"])


def test_every_declared_point_is_placed_and_run_by_the_matrix() -> None:
    placed = {(op, step) for op, step, _ in _points() if step is not None}
    placed |= {("move", s) for steps in moves.STEPS.values() for s in steps}
    declared = {(op, step) for op, steps in faults.STEPS.items() for step in steps}
    assert declared == placed
    assert {f"{op}:{step}" for op, step in declared} == cases.every_fault()


def test_an_undeclared_point_is_an_error_only_under_the_test_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.ENABLE, raising=False)
    faults.point("create", "no-such-step")  # outside the tests: nothing, whatever the name
    monkeypatch.setenv(faults.ENABLE, "1")
    with pytest.raises(faults.UndeclaredFault, match="create:no-such-step"):
        faults.point("create", "no-such-step")
    monkeypatch.setenv(faults.FAULT, "create:typo")
    with pytest.raises(faults.UndeclaredFault, match="names no declared fault point"):
        faults.point("create", "claimed")


def test_a_stray_fault_variable_kills_nothing(repo: Path) -> None:
    """TRAILS_FAULT alone (a user's environment, say) is ignored: the test setting must be on too."""
    env = {**os.environ, faults.FAULT: "create:claimed"}
    env.pop(faults.ENABLE, None)
    res = subprocess.run([sys.executable, "-m", "trails", "new", "s1", "sleep 600", "--json"], cwd=repo, env=env,
                         capture_output=True, text=True, check=False, timeout=60)
    assert res.returncode == 0, res.stderr
