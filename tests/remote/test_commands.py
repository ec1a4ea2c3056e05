"""The rest of the session commands on a host's sessions, against a real sshd: auto-yes, merge, rebase,
pr, moves by HOST:NAME; a plain NAME found on one host; an ambiguous one; a mapped checkout for `new`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import trails, wait_until
from tests.remote.conftest import Sshd


def remote_repo(sshd: Sshd) -> Path:
    path = sshd.home / "repo"
    sshd.run_as("git", "init", "-q", "-b", "main", str(path))
    sshd.run_as("sh", "-c", "echo hello > README.md && git add -A && git commit -q -m initial", cwd=path)
    return path


def remote_bash(sshd: Sshd) -> str:
    """Session r1 on the host `box` (added here), a bash in a worktree of the host's repository that has
    printed marker-42: the worktree's path."""
    assert trails(*sshd.add_host()).code == 0
    remote_repo(sshd)
    made = trails("new", "r1", "bash --norc --noprofile", "--host", "box", "--repo", "repo", "--json", timeout=90)
    assert made.code == 0, made.stderr
    assert trails("send", "box:r1", "echo marker-$((40+2))", timeout=60).code == 0
    return str(made.json["session"]["worktree_path"])


def test_session_commands_by_host_name(sshd: Sshd, repo: Path) -> None:
    assert trails(*sshd.add_host()).code == 0
    there = remote_repo(sshd)
    mapped = trails("host", "map", "box", "repo", "--json", cwd=repo)
    assert mapped.code == 0, mapped.stderr
    assert trails("host", "ls", "--json").json["hosts"]["box"]["repos"] == {str(repo.resolve()): "repo"}
    made = trails("new", "s1", "bash --norc --noprofile", "--mode", "worktree", "--host", "box", "--json",
                  cwd=repo, timeout=90)  # no --repo: the mapping says where
    assert made.code == 0, made.stderr
    assert made.json["session"]["repo_root"] == str(there)
    worktree = made.json["session"]["worktree_path"]

    assert trails("auto-yes", "box:s1", "on", "--json", timeout=60).code == 0
    assert trails("show", "box:s1", "--json", timeout=60).json["session"]["auto_yes"] is True
    assert trails("auto-yes", "s1", "off", "--json", timeout=60).code == 0  # plain: the one host that has it
    assert trails("show", "box:s1", "--json", timeout=60).json["session"]["auto_yes"] is False

    sent = trails("send", "box:s1", "echo work > work.txt && git add work.txt && git commit -q -m work", timeout=60)
    assert sent.code == 0, sent.stderr
    wait_until(lambda: "work" in sshd.run_as("git", "-C", worktree, "log", "--format=%s", "-1"), timeout=30,
               message="the remote agent's commit")
    follow = subprocess.Popen([sys.executable, "-m", "trails", "output", "box:s1", "--follow", "--json"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        assert json.loads(follow.stdout.readline())["session"] == "box:s1"  # the host's stream, over ssh
    finally:
        follow.kill()
        follow.wait()
    rebased = trails("rebase", "box:s1", "--json", timeout=90)
    assert rebased.code == 0, rebased.stderr
    merged = trails("merge", "box:s1", "--json", timeout=90)
    assert merged.code == 0, merged.stderr
    assert merged.json["into"] == "main"
    assert "work.txt" in sshd.run_as("git", "-C", str(there), "ls-tree", "--name-only", "main")
    pr = trails("pr", "box:s1", "--json", timeout=90)  # the host's checkout has no remote to push to
    assert pr.code != 0 and f"{there} has no remote to push to" in pr.error["message"], pr.stderr

    direct = trails("new", "d1", "bash --norc --noprofile", "--mode", "direct", "--host", "box", "--json",
                    cwd=repo, timeout=90)
    assert direct.code == 0, direct.stderr
    moved = trails("upgrade-session", "box:d1", "--to", "worktree", "--json", timeout=120)
    assert moved.code == 0, moved.stderr
    assert moved.json["session"]["mode"] == "worktree"
    exported = trails("export-session", "d1", "--to", "worktree", "--force", "--json", timeout=60)
    assert exported.code != 0 and "already in worktree mode" in exported.error["message"]  # box's d1 was asked


def test_a_plain_name_on_two_hosts_is_ambiguous(sshd: Sshd, repo: Path) -> None:
    assert trails(*sshd.add_host("box")).code == 0
    assert trails(*sshd.add_host("box2")).code == 0  # the same machine under two names: s1 is on both
    remote_repo(sshd)
    assert trails("new", "s1", "bash --norc --noprofile", "--host", "box", "--repo", "repo", timeout=90).code == 0
    shown = trails("auto-yes", "s1", "on", "--json", timeout=60)
    assert shown.code != 0
    assert shown.error["code"] == "invalid_input"
    assert "box:s1 or box2:s1" in shown.error["message"]
    assert trails("new", "s1", "bash --norc --noprofile", "--mode", "worktree", cwd=repo).code == 0
    assert trails("auto-yes", "s1", "on", "--json", timeout=60).code == 0  # this machine's has the plain name
    assert trails("show", "s1", "--json").json["session"]["auto_yes"] is True
    assert trails("show", "box:s1", "--json", timeout=60).json["session"]["auto_yes"] is False
    unmapped = trails("host", "unmap", "box", "--json", cwd=repo)
    assert unmapped.code != 0 and unmapped.error["field"] == "local"


def test_the_deepest_mapping_holding_a_directory_names_its_checkout_there() -> None:
    from trails.core.hosts import Host, remote_repo

    host = Host(target="box", repos={"/src/app": "app", "/src/app/vendor/lib": "/opt/lib"})
    assert remote_repo(host, "/src/app") == "app"
    assert remote_repo(host, "/src/app/web/js") == "app/web/js"
    assert remote_repo(host, "/src/app/vendor/lib/x") == "/opt/lib/x"
    assert remote_repo(host, "/src/application") is None


def test_the_local_server_forwards_requests_about_a_hosts_session(sshd: Sshd) -> None:
    """What the dashboards send for a HOST:NAME row reaches that host, for no more than the caller may do."""
    import pytest

    from trails.api import types as t
    from trails.api.caller import Caller, Trust
    from trails.api.client import Client
    from trails.core.errors import NotPermitted

    assert trails(*sshd.add_host()).code == 0
    there = remote_repo(sshd)
    assert trails("new", "s1", "bash --norc --noprofile", "--host", "box", "--repo", "repo", timeout=90).code == 0
    local = Client(local=False)
    shown = local.call(t.Show(name="box:s1"))
    assert shown.session.name == "s1" and shown.session.repo_root == str(there)
    local.call(t.AutoYes(name="box:s1", on=True))
    assert local.call(t.Get(name="box:s1")).auto_yes is True
    assert isinstance(local.call(t.Output(name="box:s1")).output, str)
    watcher = Client(local=False, caller=Caller(trust=Trust.WEB, read_only=True))
    with pytest.raises(NotPermitted):
        watcher.call(t.Pause(name="box:s1"))
    assert watcher.call(t.Get(name="box:s1")).name == "s1"
    agent = Client(local=False, caller=Caller(trust=Trust.AGENT, session="s9"))
    with pytest.raises(NotPermitted):
        agent.call(t.Get(name="box:s1"))
    assert local.call(t.Get(name="box:s1")).status.value != "paused"
    from trails.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="trails attach box:s1"):  # a stream: the CLI's own ssh reaches it
        local.call(t.AttachCommandRequest(name="box:s1"))
    from trails.ui.tui.backend import ClientBackend

    argv = ClientBackend(local).attach_argv("box:s1")  # what the dashboard's `a` runs for a remote row
    assert argv[:2] == ["ssh", "-t"] and "tmux" in argv[-1] and "=" in argv[-1]
