"""Long operations are jobs: their progress reaches the client as it happens, and they can be cancelled
(by id, from any connection, or by the client hanging up), leaving nothing half made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import git, make_repo, wait_until
from tests.server.conftest import user_settings
from trails.api import types as t
from trails.api.client import Client
from trails.core.errors import TrailsError


def _ticking_hook(home: Path, pid_file: Path) -> None:
    """A post_create hook that never ends, printing a line every 50 ms (each one a progress point)."""
    user_settings(home, post_create=f"echo $$ > {pid_file}; i=0; "
                                    "while :; do echo tick $i; i=$((i+1)); sleep 0.05; done")


def _alive(pid_file: Path) -> bool:
    return pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists()


def _in(client: Client, cwd: Path) -> Client:
    own = Client(client.home, local=False)
    own.caller = own.caller.__class__(cwd=str(cwd), env=own.caller.env)
    return own


def _nothing_left(client: Client, repo: Path, name: str, pid_file: Path) -> None:
    assert client.call(t.ListSessions(include_ended=True)).sessions == []
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(repo, "branch", "--list", f"trails/{name}") == ""
    wait_until(lambda: not _alive(pid_file), message="the hook to be stopped")


def test_progress_arrives_as_the_job_runs_and_cancel_by_id_undoes_the_create(
        client: Client, tmp_path: Path, trails_env: dict[str, Path]) -> None:
    repo = make_repo(tmp_path / "work" / "repo")
    pid_file = tmp_path / "hook.pid"
    _ticking_hook(trails_env["home"], pid_file)
    stream = _in(client, repo).stream(t.Create(name="j1", agent="cat", mode="worktree"))
    first = next(stream)
    assert isinstance(first, t.JobStarted)
    lines: list[str] = []
    with pytest.raises(TrailsError) as raised:
        for item in stream:
            assert isinstance(item, t.ProgressLine)
            lines.append(item.text)
            if len(lines) == 3:  # another connection cancels it by its id
                assert client.call(t.Cancel(job=first.job)).cancelled is True
    assert raised.value.code == "cancelled" and raised.value.exit_code == 130
    assert lines[:3] == ["post_create: tick 0", "post_create: tick 1", "post_create: tick 2"]
    _nothing_left(client, repo, "j1", pid_file)
    assert client.call(t.Cancel(job=first.job)).cancelled is False  # it is over: nothing to cancel


def test_a_client_that_hangs_up_cancels_its_job(client: Client, tmp_path: Path,
                                                trails_env: dict[str, Path]) -> None:
    repo = make_repo(tmp_path / "work" / "repo")
    pid_file = tmp_path / "hook.pid"
    _ticking_hook(trails_env["home"], pid_file)
    stream = _in(client, repo).stream(t.Create(name="j2", agent="cat", mode="worktree"))
    for item in stream:
        if isinstance(item, t.ProgressLine):
            break
    stream.close()  # the connection closes: the server cancels what it was doing for it
    wait_until(lambda: client.call(t.ListSessions(include_ended=True)).sessions == [], timeout=30,
               message="the half-made session to be undone")
    _nothing_left(client, repo, "j2", pid_file)


def test_follow_output_is_a_job_that_streams_until_cancelled(client: Client, tmp_path: Path) -> None:
    own = _in(client, tmp_path)
    own.call(t.Create(name="f1", agent="cat", mode="direct"))
    stream = own.stream(t.FollowOutput(name="f1", lines=5))
    assert isinstance(next(stream), t.JobStarted)
    own.call(t.Send(name="f1", text="first words"))
    got = ""
    for item in stream:
        assert isinstance(item, t.OutputChunk)
        got += item.text
        if "first words" in got:
            break
    stream.close()
    assert os.getpid()  # the follower is gone with its connection; the session is untouched
    assert own.call(t.Get(name="f1")).status.live
