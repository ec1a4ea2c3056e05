"""Fault matrix fixtures: a repository with a few files, this test's home and tmux socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import make_repo

FILES = {"README.md": "hello\n", **{f"f{i}.txt": f"{i}\n" for i in range(4)}}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work" / "repo", FILES)


@pytest.fixture
def home(trails_env: dict[str, Path]) -> Path:
    return trails_env["home"]


@pytest.fixture
def socket(trails_env: dict[str, Path]) -> Path:
    return trails_env["socket"]
