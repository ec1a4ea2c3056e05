"""Container mode end to end on the real Docker engine, real tmux and real git."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import as_user, git, trails, wait_until
from tests.isolation.conftest import SLEEPER, pane_alive, wait_file

pytestmark = pytest.mark.usefixtures("containers")


def _exec(cid: str, script: str) -> tuple[int, str]:
    from trails.infra import docker as d

    return d.exec_run(cid, ["sh", "-c", script], f"{os.getuid()}:{os.getgid()}")


def _inspect(cid: str) -> dict[str, Any]:
    from trails.infra import docker as d

    return d.client().containers.get(cid).attrs  # type: ignore[no-any-return]


def test_agent_in_container_writes_worktree_as_the_user_and_takes_input(repo: Path, engine: Any) -> None:
    agent = ("sh -c 'echo made-inside > made.txt; pwd > pwd.txt; "
             "while read line; do echo \"got:$line\"; echo \"$line\" >> log.txt; done'")
    result = engine.create_session("c1", agent, mode="container", cwd=repo, caller=as_user())
    s = result.session
    assert s.mode.value == "container" and s.container_id and s.branch == "trails/c1"
    wt = Path(s.worktree_path)
    assert wt == repo.parent / "repo-wt-trails-c1"
    assert wait_file(wt / "made.txt") == "made-inside\n"
    assert (wt / "made.txt").stat().st_uid == os.getuid() and (wt / "made.txt").stat().st_gid == os.getgid()
    assert wait_file(wt / "pwd.txt") == "/workspace\n"
    # The pane is a docker exec -it: send and output work as in every mode.
    engine.send("c1", "hello from the host", caller=as_user())
    assert wait_file(wt / "log.txt") == "hello from the host\n"
    wait_until(lambda: "got:hello from the host" in engine.output("c1", caller=as_user()), message="echo in the pane")
    # Git works inside: the worktree's .git file points at its git directory, mounted too. Refs are
    # read-only in there, so the agent commits on a detached HEAD, and the branch follows it on the
    # host when trails next acts on the session (here `diff`).
    code, out = _exec(s.container_id, "git add made.txt && git -c user.name=a -c user.email=a@b commit -qm in && "
                                      "git log --format=%s -1")
    assert code == 0 and out.strip() == "in", out
    engine.diff("c1", caller=as_user())
    assert git(repo, "log", "--format=%s", "-1", "trails/c1") == "in"
    limits = engine.show("c1", caller=as_user())["session"]["limits"]
    assert limits["memory"] == "4g" and limits["pids_limit"] == 1024 and limits["cpus"] >= 1


def test_no_network_and_nothing_writable_outside_workspace(repo: Path, engine: Any) -> None:
    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    host = _inspect(s.container_id)["HostConfig"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] and host["CapDrop"] == ["ALL"]
    code, out = _exec(s.container_id, "ls /sys/class/net")
    assert out.split() == ["lo"], out
    code, out = _exec(s.container_id, "/usr/bin/python3 -c \"import socket; s=socket.socket(); s.settimeout(3); "
                                      "s.connect(('1.1.1.1', 80))\"")
    assert code != 0 and "unreachable" in out.lower(), out

    common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    for target in ["/etc/x", "/usr/x", "/x", f"{common}/hooks/post-commit", f"{common}/config"]:
        code, out = _exec(s.container_id, f"echo pwned > '{target}'")
        assert code != 0 and "Read-only" in out, (target, out)
    # The main checkout is not mounted at all (under /tmp, a write lands in the container's own tmpfs).
    for target in [f"{repo}/README.md", f"{repo}/new.txt"]:
        _exec(s.container_id, f"echo pwned > '{target}'")
    assert (repo / "README.md").read_text() == "hello\n" and not (repo / "new.txt").exists()
    assert not (common / "hooks" / "post-commit").exists()
    code, out = _exec(s.container_id, "echo ok > /workspace/w && echo ok > /tmp/t && echo ok > $HOME/h && echo fine")
    assert code == 0 and "fine" in out, out


def test_memory_and_pids_limits_are_enforced(repo: Path, engine: Any) -> None:
    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, memory="64m", pids_limit=32,
                              cpus=0.5, caller=as_user()).session
    host = _inspect(s.container_id)["HostConfig"]
    assert host["Memory"] == 64 << 20 and host["PidsLimit"] == 32 and host["NanoCpus"] == 500_000_000
    code, out = _exec(s.container_id, "/usr/bin/python3 -c \"b = b'x' * (200 << 20); print('survived')\"")
    assert "survived" not in out and (code == 137 or "MemoryError" in out), (code, out)


def test_repo_settings_cannot_open_the_network_but_user_settings_and_flags_can(
        repo: Path, engine: Any, trails_env: dict[str, Path]) -> None:
    (repo / ".trails").mkdir()
    (repo / ".trails" / "settings.json").write_text(json.dumps({"network": "bridge", "mounts": ["/:/host:rw"]}))
    res = trails("new", "c1", SLEEPER, "--mode", "container", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    notes = res.json["notes"]
    assert any("ignored network='bridge'" in n and "settings.json" in n for n in notes), notes
    assert any("ignored mounts" in n for n in notes), notes
    cid = res.json["session"]["container_id"]
    assert _inspect(cid)["HostConfig"]["NetworkMode"] == "none"
    assert not any(m["Destination"] == "/host" for m in _inspect(cid)["Mounts"])
    ignored = [e for e in engine.audit_log("c1", caller=as_user()) if e["action"] == "settings_ignored"]
    assert ignored and {i["key"] for i in ignored[0]["detail"]["settings"]} == {"network", "mounts"}

    (trails_env["home"] / "settings.json").write_text(json.dumps({"network": "bridge"}))
    s2 = engine.create_session("c2", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    assert _inspect(s2.container_id)["HostConfig"]["NetworkMode"] == "bridge"
    s3 = engine.create_session("c3", SLEEPER, mode="container", cwd=repo, network="host", caller=as_user()).session
    assert _inspect(s3.container_id)["HostConfig"]["NetworkMode"] == "host"


def test_kill_follows_worktree_rules_then_removes_the_container(repo: Path, engine: Any) -> None:
    from trails.core.errors import UncommittedWork
    from trails.infra import docker as d

    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    _exec(s.container_id, "echo precious > /workspace/work.txt")
    with pytest.raises(UncommittedWork):
        engine.kill("c1", caller=as_user())
    assert d.status(s.container_id) == "running"
    result = engine.kill("c1", force=True, caller=as_user())
    assert d.status(s.container_id) is None
    assert any("container" in n and "removed" in n for n in result.notes)
    assert git(repo, "show", f"{result.saved_refs[0]}:work.txt") == "precious"


def test_crash_leftovers_are_reconciled(repo: Path, engine: Any, trails_env: dict[str, Path]) -> None:
    import subprocess

    from trails.infra import docker as d

    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    # A crash of the terminal side: trails' tmux server dies; the row still says running.
    subprocess.run(["tmux", "-S", str(trails_env["socket"]), "kill-server"], check=True)
    assert engine.store.get_session("c1").status.value == "running"
    got = engine.get_session("c1", caller=as_user())
    assert got.status.value == "error" and "container" in got.status_reason and "stopped" in got.status_reason
    assert d.status(s.container_id) == "exited"
    engine.kill("c1", caller=as_user())
    assert d.status(s.container_id) is None

    # A crash between making the container and recording it: the row never learned its id.
    leftover = d.create_container(
        f"trails-{__import__('trails.isolation.container', fromlist=['x']).home_tag()}-c2", "trails/default:latest",
        workdir="/workspace", mounts=[], user="0:0",
        labels={"trails.session": "c2", "trails.home": __import__('trails.isolation.container',
                                                                   fromlist=['x']).home_tag()})
    s2 = engine.create_session("c2", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    assert d.status(leftover) is None and d.status(s2.container_id) == "running"


def test_agent_installed_outside_usr_is_mounted_read_only(repo: Path, engine: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "tools" / "node_modules" / "fake-agent" / "bin"
    pkg.mkdir(parents=True)
    script = pkg / "agent.sh"
    script.write_text("#!/bin/sh\necho \"ran from $0\" > /workspace/agent-ran.txt\nexec sleep 600\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    bin_dir = tmp_path / "tools" / "node_modules" / ".bin"
    bin_dir.mkdir()
    (bin_dir / "fake-agent").symlink_to("../fake-agent/bin/agent.sh")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    s = engine.create_session("c1", "fake-agent", mode="container", cwd=repo, caller=as_user()).session
    assert "ran from" in wait_file(Path(s.worktree_path) / "agent-ran.txt")
    mounts = {m["Source"]: m for m in _inspect(s.container_id)["Mounts"]}
    assert mounts[str(tmp_path / "tools" / "node_modules")]["RW"] is False
    code, out = _exec(s.container_id, f"echo x > {pkg}/evil")
    assert code != 0 and "Read-only" in out


def test_no_engine_falls_back_and_doctor_says_how(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trails.core.doctor import diagnose
    from trails.core.engine import Engine
    from trails.infra import docker as d
    from trails.isolation import container

    monkeypatch.setattr(container, "_engine_check", None)
    monkeypatch.setattr(d, "_client", None)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    eng = Engine()
    try:
        why = eng.mode_unavailable(__import__("trails.core.models", fromlist=["Mode"]).Mode.CONTAINER, repo, repo)
        assert why and "ensure-docker" in why
        report = diagnose(eng, caller=as_user(repo))
        assert "ensure-docker.sh" in report["modes"]["container"]["how_to_enable"]
        result = eng.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user())
        assert result.session.mode.value == "worktree"
        assert any("falling back to worktree" in n for n in result.notes)
        assert pane_alive(eng, "c1")
    finally:
        eng.close()
        monkeypatch.undo()  # the engine is back for the fixture that tidies containers


def _nothing_left(engine: Any, repo: Path, name: str) -> None:
    from trails.infra import docker as d
    from trails.isolation.container import LABEL_HOME, home_tag

    assert not (repo.parent / f"repo-wt-trails-{name}").exists()
    assert [i for i in d.find_by_label(LABEL_HOME, home_tag()) if i.labels.get("trails.session") == name] == []
    assert git(repo, "branch", "--list", f"trails/{name}") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # no record of a worktree either
    assert not (engine.home / "container-git" / name).exists()
    assert name not in [s.name for s in engine.list_sessions(include_ended=True, caller=as_user())]


def test_a_container_that_cannot_start_leaves_no_worktree_branch_or_row(repo: Path, engine: Any) -> None:
    from trails.core.errors import ContainerError

    # The container starts beside the checkout; a mount the engine refuses (over its root) fails it there.
    with pytest.raises(ContainerError, match="creating container") as failed:
        engine.create_session("c1", SLEEPER, mode="container", cwd=repo, mounts=["/tmp:/"], caller=as_user())
    assert failed.value.hint is None  # the engine answered: no advice to start one
    _nothing_left(engine, repo, "c1")


def test_a_mount_that_does_not_exist_is_refused_before_anything_is_made(
        repo: Path, engine: Any, trails_env: dict[str, Path]) -> None:
    from trails.core.errors import InvalidInput

    (trails_env["home"] / "settings.json").write_text(json.dumps({"mounts": [f"{repo.parent}/missing:/data"]}))
    with pytest.raises(InvalidInput, match="missing does not exist"):
        engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user())
    _nothing_left(engine, repo, "c1")


def test_a_checkout_that_fails_leaves_no_container_or_directory(
        repo: Path, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from trails.core.errors import GitError
    from trails.infra.git import Git

    def failing_add(self: Git, path: Path, branch: str, base: str) -> None:
        assert path.is_dir() and not any(path.iterdir())  # made empty for the container's bind mount
        raise GitError("checkout failed on purpose")

    monkeypatch.setattr(Git, "worktree_add", failing_add)
    with pytest.raises(GitError, match="on purpose"):
        engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user())
    _nothing_left(engine, repo, "c1")


def test_privileged_only_from_the_users_own_settings_or_the_flag(repo: Path, trails_env: dict[str, Path]) -> None:
    from trails.core import config as config_mod
    from trails.infra import docker as d
    from trails.isolation.container import resolve_settings

    (repo / ".trails").mkdir(exist_ok=True)
    (repo / ".trails" / "settings.json").write_text(json.dumps({"privileged": True}))
    settings, _, ignored = resolve_settings(config_mod.load(repo), None, {})
    assert settings.privileged is False and [i["key"] for i in ignored] == ["privileged"]
    settings, _, _ = resolve_settings(config_mod.load(repo), None, {"privileged": True})
    assert settings.privileged and settings.sources["privileged"] == "flag"
    (trails_env["home"] / "settings.json").write_text(json.dumps({"privileged": True}))
    settings, _, _ = resolve_settings(config_mod.load(repo), None, {})
    assert settings.privileged and settings.sources["privileged"] == "user"
    # What the engine is asked for (this sandbox cannot start a privileged container: runc may not
    # apply every capability inside it, so the container is created and inspected, not started).
    cid = d.create_container("trails-privileged-probe", "trails/default:latest", workdir="/", mounts=[],
                             user="0:0", privileged=True, labels={"trails.home": __import__(
                                 "trails.isolation.container", fromlist=["x"]).home_tag()})
    try:
        host = _inspect(cid)["HostConfig"]
        assert host["Privileged"] is True and not host["CapDrop"]
    finally:
        d.remove(cid)


def test_an_image_that_is_not_here_fails_cleanly(repo: Path, engine: Any) -> None:
    from trails.core.errors import ContainerError

    with pytest.raises(ContainerError, match="not on this machine") as failed:
        engine.create_session("c1", SLEEPER, mode="container", cwd=repo, image="trails-no-such-image:1",
                              caller=as_user())
    assert "no registry" in failed.value.message
    _nothing_left(engine, repo, "c1")


def test_the_agent_inside_knows_it_draws_into_tmux(repo: Path, engine: Any) -> None:
    s = engine.create_session("c1", "sh -c 'env > /workspace/env.txt; exec sleep 600'", mode="container",
                              cwd=repo, caller=as_user()).session
    env = dict(line.split("=", 1) for line in wait_file(Path(s.worktree_path) / "env.txt").splitlines()
               if "=" in line)
    assert env.get("TMUX") and env.get("TMUX_PANE", "").startswith("%") and env.get("TERM_PROGRAM") == "tmux"


def test_a_terminal_that_fails_while_the_container_starts_leaves_nothing(
        repo: Path, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from trails.core.errors import TmuxError

    def broken(*args: object, **kwargs: object) -> None:
        raise TmuxError("tmux new-session failed on purpose")

    monkeypatch.setattr(engine.tmux, "new_session", broken)
    with pytest.raises(TmuxError, match="on purpose"):
        engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user())
    _nothing_left(engine, repo, "c1")
    assert not (engine.home / "container-homes" / "c1").exists()


def test_a_new_sessions_row_keeps_no_start_up_markers(repo: Path, engine: Any) -> None:
    from trails.isolation.container import PRESTARTED, STARTING

    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    stored = engine.store.get_session("c1")
    assert stored.container_id == s.container_id and STARTING not in stored.extra and PRESTARTED not in stored.extra


def test_a_dockerfile_that_does_not_exist_is_refused_before_anything_is_made(repo: Path, engine: Any) -> None:
    from trails.core.errors import InvalidInput

    (repo / ".trails").mkdir(exist_ok=True)
    (repo / ".trails" / "settings.json").write_text(json.dumps({"dockerfile": "docker/Nope.Dockerfile"}))
    with pytest.raises(InvalidInput, match=r"Nope\.Dockerfile does not exist"):
        engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user())
    _nothing_left(engine, repo, "c1")
