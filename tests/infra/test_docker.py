"""trails.infra.docker on the real engine. These tests fail (never skip) when no engine answers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from trails.infra import docker as d
from trails.infra.default_image import DEFAULT_TAG, default_recipe, default_runtime_mounts

LABEL = "trails.test-run"
HOST_USER = f"{os.getuid()}:{os.getgid()}"
OTHER_UID = 4242  # a uid that is not the host user's, to show files keep the uid they were written with


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    wait_until(cond, timeout=timeout, message=what)


@pytest.fixture(scope="session")
def image() -> str:
    ok, reason = d.engine_available()
    if not ok:
        pytest.fail(f"{reason}\nThese tests need a Docker engine: run scripts/ensure-docker.sh", pytrace=False)
    return d.ensure_image(DEFAULT_TAG, default_recipe())


@pytest.fixture(scope="session")
def run_label() -> Iterator[str]:
    value = uuid.uuid4().hex[:12]
    yield value
    for info in d.find_by_label(LABEL, value):  # anything a failed test left behind
        d.remove(info.id, force=True)


Factory = Callable[..., str]


@pytest.fixture
def container(image: str, run_label: str, tmp_path: Path) -> Iterator[Factory]:
    """Create and start containers of the default image with /workspace bound to a temp dir."""
    made: list[str] = []

    def make(workspace: Path | None = None, user: str = HOST_USER, **kw: object) -> str:
        ws = workspace or tmp_path
        cid = d.create_container(
            f"trails-test-{run_label}-{len(made)}-{uuid.uuid4().hex[:6]}", image,
            workdir="/workspace", user=user,
            mounts=[*default_runtime_mounts(), d.Mount(str(ws), "/workspace", read_only=False)],
            labels={LABEL: run_label}, **kw,  # type: ignore[arg-type]
        )
        made.append(cid)
        d.start(cid)
        wait_for(lambda: d.status(cid) == "running", what="container running")
        return cid

    yield make
    for cid in made:
        d.remove(cid, force=True)


def test_image_is_built_once_and_cached(image: str) -> None:
    t0 = time.monotonic()
    again = d.ensure_image(DEFAULT_TAG, default_recipe())
    assert again == image
    assert time.monotonic() - t0 < 1.0


def test_host_programs_run_from_readonly_usr(container: Factory) -> None:
    cid = container()
    for argv, want in [
        (["/usr/bin/python3", "-c", "print(1)"], "1"),
        (["/usr/bin/node", "-e", "console.log(1)"], "1"),
        (["bash", "-c", "echo $((6*7))"], "42"),
        (["sh", "-c", "echo sh-ok"], "sh-ok"),
        (["git", "--version"], "git version"),
    ]:
        code, out = d.exec_run(cid, argv, HOST_USER)
        assert code == 0 and want in out, (argv, code, out)


def test_workspace_write_shows_on_host_with_uid(container: Factory, tmp_path: Path) -> None:
    cid = container()
    code, out = d.exec_run(cid, ["sh", "-c", "echo hi > /workspace/made-inside && id -u"], HOST_USER)
    assert code == 0, out
    made = tmp_path / "made-inside"
    assert made.read_text() == "hi\n"
    assert made.stat().st_uid == os.getuid() and made.stat().st_gid == os.getgid()

    # No user namespace: a uid inside is the same number outside.
    other = tmp_path / "other"
    other.mkdir()
    os.chown(other, OTHER_UID, OTHER_UID)
    cid2 = container(workspace=other, user=f"{OTHER_UID}:{OTHER_UID}")
    code, out = d.exec_run(cid2, ["sh", "-c", "touch /workspace/f && echo $HOME && touch $HOME/h"],
                           f"{OTHER_UID}:{OTHER_UID}")
    assert code == 0, out
    assert (other / "f").stat().st_uid == OTHER_UID


def test_nothing_but_workspace_and_tmpfs_is_writable(container: Factory) -> None:
    cid = container()
    for path in ["/etc/x", "/usr/x", "/x", "/usr/bin/x", "/var/x"]:
        code, out = d.exec_run(cid, ["sh", "-c", f"echo x > {path}"], HOST_USER)
        assert code != 0 and "Read-only file system" in out, (path, out)
    script = "printf '#!/bin/sh\\necho ran' > $D/s && chmod +x $D/s && $D/s"
    for where in ["/tmp", "$HOME"]:  # writable, and executable (build tools run things from there)
        code, out = d.exec_run(cid, ["sh", "-c", script.replace("$D", where)], HOST_USER)
        assert code == 0 and "ran" in out, (where, out)
    # Even the container's root, if asked for, has no capabilities to get round that.
    code, out = d.exec_run(cid, ["sh", "-c", "echo x > /etc/x; grep CapEff /proc/self/status"], "0:0")
    assert "Read-only" in out and "0000000000000000" in out, out


def _host_server() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("0.0.0.0", 0))
    srv.listen(8)
    srv.settimeout(20)

    def serve() -> None:
        try:
            while True:
                conn, _ = srv.accept()
                conn.close()
        except OSError:
            pass

    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


CONNECT = (
    "import socket,sys\n"
    "s=socket.socket(); s.settimeout(3)\n"
    "try:\n s.connect((sys.argv[1], int(sys.argv[2]))); print('CONNECTED')\n"
    "except OSError as e:\n print('FAILED', e); sys.exit(3)\n"
)


def test_network_none_reaches_nothing(container: Factory) -> None:
    srv, port = _host_server()
    try:
        gateway = "172.17.0.1"  # the host, as seen from the default bridge
        bridged = container(network="bridge")
        code, out = d.exec_run(bridged, ["/usr/bin/python3", "-c", CONNECT, gateway, str(port)], HOST_USER)
        assert code == 0 and "CONNECTED" in out, f"control: bridge should reach the host: {out}"

        cid = container(network="none")
        code, out = d.exec_run(cid, ["ls", "/sys/class/net"], HOST_USER)
        assert out.split() == ["lo"], out
        for addr in [gateway, "192.0.2.2", "1.1.1.1"]:
            code, out = d.exec_run(cid, ["/usr/bin/python3", "-c", CONNECT, addr, str(port)], HOST_USER)
            assert code == 3 and "FAILED" in out, (addr, out)
    finally:
        srv.close()


def test_memory_limit_is_enforced(container: Factory) -> None:
    cid = container(memory="64m")
    # bytes * n writes every page, so the allocation really lands in the cgroup.
    code, out = d.exec_run(cid, ["/usr/bin/python3", "-c", "b = b'x' * (200 << 20); print('survived')"],
                           HOST_USER)
    assert "survived" not in out
    assert code == 137 or "MemoryError" in out, (code, out)
    assert d.status(cid) == "running"  # the OOM killer took the hog, not PID 1


FORK = (
    "import os, signal\n"
    "kids = []\n"
    "try:\n"
    "    for _ in range(200):\n"
    "        pid = os.fork()\n"
    "        if pid == 0:\n"
    "            signal.pause()\n"
    "        kids.append(pid)\n"
    "except OSError as e:\n"
    "    print('BLOCKED', len(kids), e.errno)\n"
    "for pid in kids:\n"
    "    os.kill(pid, 9); os.waitpid(pid, 0)\n"
    "print('forked', len(kids))\n"
)


def test_pids_limit_is_enforced(container: Factory) -> None:
    cid = container(pids_limit=20)
    code, out = d.exec_run(cid, ["/usr/bin/python3", "-c", FORK], HOST_USER)
    assert code == 0 and "BLOCKED" in out, out
    forked = int(out.split("BLOCKED")[1].split()[0])
    assert forked < 20, out


def test_exec_argv_in_private_tmux(container: Factory, tmp_path: Path) -> None:
    assert shutil.which("tmux") and shutil.which("docker"), "needs tmux and the docker CLI"
    cid = container()
    argv = d.exec_argv(cid, ["bash", "--norc", "-i"], user=HOST_USER, workdir="/workspace",
                       env={"GREETING": "hello-from"})
    assert argv[:3] == ["docker", "exec", "-it"] and argv[-4:] == [cid, "bash", "--norc", "-i"]
    sock = str(tmp_path / "tmux.sock")
    tmux = ["tmux", "-S", sock, "-f", "/dev/null"]
    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "120", "-y", "30", "--", *argv],
                   check=True)
    try:
        def screen() -> str:
            return subprocess.run([*tmux, "capture-pane", "-p", "-t", "t"], capture_output=True,
                                  text=True).stdout

        wait_for(lambda: "$" in screen() or "#" in screen(), what="a shell prompt in the pane")
        subprocess.run([*tmux, "send-keys", "-t", "t", 'echo "$GREETING-$(pwd)-$((6*7))"', "Enter"],
                       check=True)
        wait_for(lambda: "hello-from-/workspace-42" in screen(), what="command output in the pane")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)


def test_find_by_label_stop_and_remove(image: str, run_label: str) -> None:
    key, value = "trails.test-find", uuid.uuid4().hex
    cid = d.create_container(f"trails-test-find-{value[:8]}", image, workdir="/workspace", user=HOST_USER,
                             mounts=default_runtime_mounts(), labels={LABEL: run_label, key: value})
    try:
        assert [i.id for i in d.find_by_label(key, value)] == [cid]
        assert d.status(cid) == "created"
        d.start(cid)
        assert d.find_by_label(key, value)[0].status == "running"
        t0 = time.monotonic()
        d.stop(cid, timeout=10)
        assert time.monotonic() - t0 < 5, "tini should make sleep stop on SIGTERM at once"
        assert d.status(cid) == "exited"
    finally:
        d.remove(cid, force=True)
    assert d.status(cid) is None
    assert d.find_by_label(key, value) == []
    d.remove(cid, force=True)  # removing what is gone is fine


def test_prime_learns_the_api_version_so_clients_skip_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    import docker

    from trails.infra import docker as d

    monkeypatch.setattr(d, "_client", None)
    monkeypatch.setattr(d, "_api_version", None)
    d.prime()
    expected = docker.from_env().api.api_version
    assert d._api_version == expected and d._client is None  # nothing kept open across a fork
    assert d.client().api.api_version == expected
    assert d.client().ping()


def test_advice_to_start_an_engine_only_when_none_answered() -> None:
    import docker
    import requests

    from trails.infra import docker as d

    def wrapped(cause: BaseException) -> d.DockerError:
        try:
            raise d.DockerError("creating container x: failed") from cause
        except d.DockerError as exc:
            return exc

    assert d.hint_for(wrapped(requests.exceptions.ConnectionError("no socket"))) == d.ENGINE_HINT
    assert d.hint_for(wrapped(docker.errors.APIError("400 Client Error: bad mount"))) is None
