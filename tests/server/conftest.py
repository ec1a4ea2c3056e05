"""Server tests: the real trails server process of the test's home, talked to over its socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from trails.api.client import Client


@pytest.fixture
def client(trails_env: dict[str, Path]) -> Iterator[Client]:
    """A client of this test's server (started on first use; conftest stops it after the test)."""
    yield Client(trails_env["home"], local=False)


def user_settings(home: Path, **settings: object) -> None:
    (home / "settings.json").write_text(json.dumps(settings))
