"""A host's session in the web dashboard's terms, against a real sshd: its pane bridged by this server
(a control-mode client over ssh: the terminal's id, input and resizes are local), read-only for a
read-only caller; a shell in its worktree refused by name; its worktree's files read on the host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import wait_until
from tests.remote.conftest import Sshd
from tests.remote.test_commands import remote_bash
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client
from trails.core.errors import InvalidWorktree, NotPermitted, PathOutsideWorktree, RemoteUnsupported


def _until(stream: Iterator[t.Progress | t.EventInfo], want: str) -> str:
    shown = ""
    for item in stream:
        if isinstance(item, t.TerminalOutput):
            shown += item.data.decode(errors="replace")
            if want in shown:
                return shown
        elif isinstance(item, t.TerminalClosed):
            break
    raise AssertionError(f"{want!r} never showed; the terminal showed {shown[-500:]!r}")


def test_a_hosts_pane_is_bridged_here_and_its_files_read_there(sshd: Sshd) -> None:
    worktree = remote_bash(sshd)
    web = Caller(trust=Trust.WEB)

    local = Client(local=False, caller=web)
    stream = local.stream(t.OpenTerminal(name="box:r1", cols=100, rows=30))
    try:
        started = next(stream)
        assert isinstance(started, t.JobStarted)
        assert "marker-42" in _until(stream, "marker-42")  # the host's pane, repainted
        # The terminal is this server's job: its input goes to the ssh'd client, and reaches the agent there.
        local.call(t.TerminalInput(terminal=started.job, data=b"echo typed-$((6*7)) > typed.txt; echo done-$((1+1))\r"))
        assert "done-2" in _until(stream, "done-2")
        wait_until(lambda: "typed-42" in sshd.run_as("cat", f"{worktree}/typed.txt"), timeout=15,
                   message="the typed command to run on the host")
        local.call(t.TerminalResize(terminal=started.job, cols=80, rows=24))
    finally:
        stream.close()  # type: ignore[attr-defined]

    watcher = Client(local=False, caller=Caller(trust=Trust.WEB, read_only=True))
    stream = watcher.stream(t.OpenTerminal(name="box:r1"))
    try:
        started = next(stream)
        assert isinstance(started, t.JobStarted)
        assert "done-2" in _until(stream, "done-2")
        with pytest.raises(NotPermitted, match="read-only"):
            watcher.call(t.TerminalInput(terminal=started.job, data=b"exit\r"))
    finally:
        stream.close()  # type: ignore[attr-defined]

    with pytest.raises(RemoteUnsupported) as refused:
        list(local.stream(t.OpenTerminal(name="box:r1", shell=True)))
    assert refused.value.code == "remote_unsupported" and "on box" in refused.value.message

    # Files: the worktree is the host's, so its paths are checked there.
    listed = local.call(t.ListFiles(worktree=worktree, host="box"))
    assert {"README.md", "typed.txt"} <= {e.name for e in listed.entries}
    status = local.call(t.GitStatus(worktree=worktree, host="box"))
    assert [e.path for e in status.entries] == ["typed.txt"]
    assert "typed-42" in (local.call(t.GitFile(worktree=worktree, path="typed.txt", host="box")).work or "")
    assert "typed.txt" in local.call(t.GitDiff(worktree=worktree, host="box")).diff
    assert local.call(t.FindFiles(worktree=worktree, q="typed", host="box")).paths == ["typed.txt"]
    assert worktree in [w.path for w in local.call(t.ListWorktrees(host="box")).worktrees]
    with pytest.raises(PathOutsideWorktree):
        local.call(t.GitFile(worktree=worktree, path="../.ssh/authorized_keys", host="box"))
    with pytest.raises(InvalidWorktree):
        local.call(t.ListFiles(worktree=str(sshd.home), host="box"))
    agent = Client(local=False, caller=Caller(trust=Trust.AGENT, session="s9"))
    with pytest.raises(NotPermitted):
        agent.call(t.ListFiles(worktree=worktree, host="box"))
