"""Every test gets its own TRAILS_HOME, tmux socket and git identity; nothing touches the user's."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import make_repo

# The property-based tests (tests/*/test_fuzz_*.py) set their own max_examples, small enough for CI's
# time. In CI they are derandomized: the same examples every run, so a red build is a real, repeatable
# finding rather than a lucky draw; locally each run explores new inputs (and replays .hypothesis/).
# The function-scoped fixtures they use (a TRAILS_HOME, a repository) are shared by the examples on purpose.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("dev", suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True)
def trails_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Path]]:
    home = tmp_path / "trails-home"
    home.mkdir()
    # Unix socket paths are short (108 bytes): keep the socket out of pytest's long tmp paths.
    sock_dir = Path(tempfile.mkdtemp(prefix="trails-t-"))
    socket = sock_dir / "tmux.sock"
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("TRAILS_HOME", str(home))
    monkeypatch.setenv("TRAILS_TMUX_SOCKET", str(socket))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # The live supervisor's watch (in the trails server that commands start) is opted into by the tests
    # that exercise it (tests/monitor).
    monkeypatch.setenv("TRAILS_SUPERVISOR", "off")
    monkeypatch.delenv("TRAILS_SERVER", raising=False)
    # Likewise the warm CLI server (tests/cli/test_warm.py): every other test runs commands locally.
    monkeypatch.setenv("TRAILS_WARM", "off")
    for var in ("TRAILS_MODE", "MAX_WORKTREES_PER_WORKSPACE", "TMUX", "TMUX_PANE"):
        monkeypatch.delenv(var, raising=False)
    # A home an earlier test's Engine(home=...) chose for this process is not this test's.
    monkeypatch.setattr("trails.core.paths._pinned", None)
    yield {"home": home, "socket": socket}
    stop_server(home)
    subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
    shutil.rmtree(sock_dir, ignore_errors=True)


def stop_server(home: Path) -> None:
    """The trails server a test's commands started for its home (pytest keeps the home: it would never go)."""
    from trails.api import protocol
    from trails.api.client import Client

    if protocol.lock_held(home / protocol.LOCK_NAME):
        Client(home, local=False).stop_server()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with one commit, in its own parent folder so sibling worktrees stay inside tmp."""
    return make_repo(tmp_path / "work" / "repo")


@pytest.fixture
def engine() -> Iterator[object]:
    from trails.core.engine import Engine

    eng = Engine()
    yield eng
    eng.close()


# Container tests run on the real Docker engine: they fail (never skip) when no engine answers.
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
