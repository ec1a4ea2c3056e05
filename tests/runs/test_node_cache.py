"""A Ray node's cache on its own (the Ray tests drive it through real tasks): lending, crashes, privacy."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.runs.test_executor import running
from trails.core.errors import RunError
from trails.runs.node_cache import NodeCache
from trails.runs.session import process_start


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> NodeCache:
    monkeypatch.setenv("TRAILS_RAY_CACHE", str(tmp_path / "cache"))
    return NodeCache.open()


@pytest.fixture
def orphan() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_a_directory_given_back_is_lent_again_holding_its_tree_and_one_lent_is_not(cache: NodeCache) -> None:
    slot = cache.lend("wd", "run1", "t1")
    assert slot.state is None and slot.files.name == "wd"
    slot.touch()
    empty_tree = cache.store.git("mktree", input="").stdout.strip()
    commit = cache.store.git("commit-tree", empty_tree, "-m", "x").stdout.strip()
    busy = cache.lend("wd", "run1", "t1")  # the first is still lent: a second task gets another directory
    assert busy.root != slot.root
    cache.give_back(slot, "run1", "t1", commit)
    cache.release(busy)
    again = cache.lend("wd", "run1", "t1")
    assert again.root == slot.root and again.holds("t1") and again.same_run("run1")
    other = cache.lend("src", "run1", "t1")  # another work dir's name never gets it
    assert other.root not in (slot.root, busy.root)


def test_a_directory_a_dead_task_left_is_taken_after_its_agent_is_stopped(
        cache: NodeCache, orphan: subprocess.Popen[bytes]) -> None:
    slot = cache.lend("wd", "run1", "t1")
    slot.touch()
    slot.agents.mkdir()
    (slot.agents / str(orphan.pid)).write_text(process_start(orphan.pid) or "")  # as ProcessGroup notes it
    slot.lock.close()  # the task's process died: the kernel drops its lock, nothing else ran
    taken = cache.lend("wd", "run1", "t1")
    assert taken.root == slot.root and taken.state is None  # unknown files: the next session resets all of them
    wait_until(lambda: not running(orphan.pid), timeout=10, message="the dead task's agent to be stopped")
    assert not list(taken.agents.iterdir())


def test_a_cache_directory_others_may_enter_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o755)
    monkeypatch.setenv("TRAILS_RAY_CACHE", str(root))
    with pytest.raises(RunError) as info:
        NodeCache.open()
    assert "is not a private directory of this user" in info.value.message
    assert "TRAILS_RAY_CACHE" in (info.value.hint or "")
    assert not (root / "store.git").exists()
