"""The tmux wrapper against a real server on the test's private socket."""

from __future__ import annotations

from pathlib import Path

from trails.infra.tmux import Tmux


def test_a_session_started_as_the_last_one_is_killed_is_not_lost(trails_env: dict[str, Path], tmp_path: Path) -> None:
    # Killing the last session makes the server exit; a new-session reaching it in that moment used
    # to fail with "server exited unexpectedly" (seen in CI as a failed resume after a pause).
    tmux = Tmux(trails_env["socket"])
    for _ in range(100):
        tmux.new_session("s", ["sleep", "60"], cwd=str(tmp_path), env={})
        tmux.kill_session("s")
    tmux.new_session("s", ["sleep", "60"], cwd=str(tmp_path), env={})
    assert tmux.has_session("s")
