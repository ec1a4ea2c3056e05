"""TRAILS_HOME is resolved twice: by the launcher's builtins-only copy (trails.fast) and by
trails.core.paths. They must name the same directory, or the warm server, the client and the trails
server (which runs in "/") would each look in another home."""

from __future__ import annotations

from pathlib import Path

import pytest

from trails import fast
from trails.core import paths


@pytest.mark.parametrize(("value", "expected"), [
    (None, "user/.trails"),
    ("", "user/.trails"),
    ("relhome", "cwd/relhome"),
    ("rel/home/", "cwd/rel/home"),
    ("./rel/../home", "cwd/home"),
    ("~", "user"),
    ("~/th/", "user/th"),
    ("/abs/home/", "/abs/home"),
])
def test_fast_and_paths_agree_on_trails_home(value: str | None, expected: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    if value is None:
        monkeypatch.delenv("TRAILS_HOME")
    else:
        monkeypatch.setenv("TRAILS_HOME", value)
    want = str(tmp_path / expected)  # an absolute `expected` replaces tmp_path
    assert fast.trails_home() == want
    assert str(paths.home_path()) == want


def test_a_home_given_to_the_engine_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert paths.use_home(Path("given/")) == tmp_path / "given"
    monkeypatch.chdir("/")  # resolved once: a later change of directory does not move it
    assert paths.home_path() == tmp_path / "given"
