"""Container tests run on the real Docker engine: they fail (never skip) when no engine answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until

SLEEPER = "sleep 600"
READER = "sh -c 'while read line; do echo \"got:$line\"; echo \"$line\" >> log.txt; done'"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    from trails.infra import docker as d

    ok, reason = d.engine_available()
    if not ok:
        pytest.fail(f"{reason}\nContainer tests need a Docker engine: run scripts/ensure-docker.sh", pytrace=False)


@pytest.fixture
def containers(docker_engine: None, trails_env: dict[str, Path]) -> Iterator[None]:
    """Remove whatever containers this test's TRAILS_HOME left behind."""
    from trails.infra import docker as d
    from trails.isolation.container import LABEL_HOME, home_tag

    yield
    for info in d.find_by_label(LABEL_HOME, home_tag()):
        d.remove(info.id, force=True)


def pane_alive(engine: object, session: str) -> bool:
    panes = engine.tmux.list_panes()  # type: ignore[attr-defined]
    pane = panes.get(engine.get_session(session).tmux_session)  # type: ignore[attr-defined]
    return pane is not None and not pane.dead


def wait_file(path: Path, timeout: float = 15.0) -> str:
    return wait_until(lambda: path.exists() and path.read_text(), timeout=timeout, message=f"{path}")



