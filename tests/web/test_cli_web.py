"""`trails web`: loopback unless told otherwise (and then a warning), the token URL printed once, a
clear error for a port in use; and /api/openapi.json, generated from the API's types."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import trails
from tests.web.conftest import Web
from trails.ui.web.api import ENDPOINTS


@contextmanager
def web_process(*args: str, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`trails web ARGS` running, with the lines it printed on stdout once it serves."""
    proc = subprocess.Popen([sys.executable, "-m", "trails", "web", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    printed: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Thread(target=lambda: [printed.put(ln.rstrip("\n")) for ln in proc.stdout or ()], daemon=True).start()
    try:
        lines: list[str] = []
        while not any("read-only view" in ln or "(read-only)" in ln for ln in lines):
            try:
                lines.append(printed.get(timeout=30))
            except queue.Empty:
                raise AssertionError(f"trails web did not start (it printed {lines})") from None
        yield proc, lines
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(20)


def _url(lines: list[str]) -> str:
    return lines[0].split()[2]


def test_it_binds_loopback_and_prints_the_token_url_once(repo: Path, trails_env: dict[str, Path]) -> None:
    with web_process("--port", "0", cwd=repo) as (proc, lines):
        url = _url(lines)
        token = (trails_env["home"] / "web-token").read_text().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith(f"/?token={token}")
        assert sum(token in ln for ln in lines) == 1  # once
        base = url.split("/?")[0]
        port = int(base.rsplit(":", 1)[1])
        assert httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}).json()["read_only"] is False
        # Bound to loopback only: another address of this machine does not answer.
        others = [a for a in {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
                  if not a.startswith("127.")]
        for address in others:
            with socket.socket() as probe:
                probe.settimeout(2)
                assert probe.connect_ex((address, port)) != 0, address
        assert proc.poll() is None
    assert proc.stderr is not None and "warning" not in proc.stderr.read()


def test_another_address_is_printed_with_a_warning(repo: Path) -> None:
    with web_process("--port", "0", "--host", "0.0.0.0", cwd=repo) as (proc, lines):
        assert _url(lines).startswith("http://127.0.0.1:")
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "warning: listening on 0.0.0.0" in err and "token" in err


def test_read_only_prints_the_read_only_url(repo: Path, trails_env: dict[str, Path]) -> None:
    with web_process("--port", "0", "--read-only", cwd=repo) as (_, lines):
        token = (trails_env["home"] / "web-token-read-only").read_text().strip()
        assert _url(lines).endswith(f"?token={token}") and "(read-only)" in lines[0]
        full = (trails_env["home"] / "web-token").read_text().strip()
        assert not any(full in ln for ln in lines)


def test_a_port_in_use_is_a_clear_error(repo: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = trails("web", "--port", str(port), cwd=repo)
    assert res.code == 2 and f"trails: error: cannot listen on 127.0.0.1:{port}" in res.stderr, res.stderr
    assert "--port" in res.stderr and res.stdout == ""  # no URL for a server that does not serve


def test_openapi_is_generated_from_the_types(web: Web) -> None:
    with web.http() as api:
        spec = api.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for endpoint in ENDPOINTS:
        assert endpoint.method.lower() in spec["paths"][endpoint.path], endpoint.path
    schemas = spec["components"]["schemas"]
    assert {"SessionInfo", "CreateResult", "GitFileResult", "ErrorBody", "ReviewComments", "EventInfo"} <= set(schemas)
    create = spec["paths"]["/api/sessions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "name" in create["required"] and "op" not in create["properties"] and "mode" in create["properties"]
    send = spec["paths"]["/api/sessions/{name}/send"]["post"]
    assert send["parameters"][0] == {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    assert "name" not in send["requestBody"]["content"]["application/json"]["schema"]["properties"]
    file_params = {p["name"] for p in spec["paths"]["/api/git/file"]["get"]["parameters"]}
    assert file_params == {"worktree", "path", "host"}  # host: a remote host's worktree, read there
    assert "x-websocket" in spec["paths"]["/api/sessions/{name}/terminal"]
