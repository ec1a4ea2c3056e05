"""Who may use the web API: a token, the server's own Host and Origin, the CSRF header with the
cookie, and a read-only token that changes nothing — at the web server and again at the trails server."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.helpers import tmux_capture
from tests.web.conftest import Web
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.api.client import Client
from trails.core.errors import NotPermitted
from trails.ui.web.api import ENDPOINTS
from trails.ui.web.security import HostRule


def test_no_token_or_a_wrong_one_is_401(web: Web) -> None:
    for token in (None, "not-the-token-" + "x" * 40):
        with web.http(token) as api:
            for path in ("/api/sessions", "/api/openapi.json", "/", "/api/git/status"):
                res = api.get(path)
                assert res.status_code == 401, (path, res.text)
                assert res.json()["error"]["code"] == "unauthorized"
            assert api.post("/api/sessions", json={"name": "x", "agent": "cat"}).status_code == 401
        with pytest.raises(InvalidStatus) as refused, web.ws("/api/events", token=token):
            pass
        assert refused.value.response.status_code == 401


def test_a_foreign_origin_is_403(web: Web) -> None:
    with web.http() as api:
        res = api.get("/api/sessions", headers={"Origin": "http://evil.example"})
        assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
        # The same host on another port, or scheme, is another origin too.
        assert api.get("/api/sessions", headers={"Origin": f"http://127.0.0.1:{web.port + 1}"}).status_code == 403
        assert api.get("/api/sessions", headers={"Origin": web.base}).status_code == 200
    with pytest.raises(InvalidStatus) as refused, web.ws("/api/events", origin="http://evil.example"):
        pass
    assert refused.value.response.status_code == 403


def test_a_host_that_is_not_the_bound_address_is_403(web: Web) -> None:
    with web.http() as api:
        for host in ("evil.example", f"evil.example:{web.port}", "127.0.0.1.nip.io", ""):
            res = api.get("/api/sessions", headers={"Host": host})
            assert res.status_code == 403, host
        assert api.get("/api/sessions", headers={"Host": f"localhost:{web.port}"}).status_code == 200
    with pytest.raises(InvalidStatus) as refused, web.ws("/api/events", host="evil.example"):
        pass
    assert refused.value.response.status_code == 403


def test_which_hosts_each_binding_answers() -> None:
    loopback, everywhere, lan = HostRule("127.0.0.1"), HostRule("0.0.0.0"), HostRule("192.168.1.5")
    assert loopback.allows("127.0.0.1:8780") and loopback.allows("localhost") and loopback.allows("[::1]:1")
    assert not loopback.allows("192.168.1.5:8780") and not loopback.allows("attacker.example")
    assert everywhere.allows("192.168.1.5:8780") and everywhere.allows("10.0.0.1") and everywhere.allows("localhost")
    assert not everywhere.allows("attacker.example:8780")  # DNS rebinding needs a name
    assert lan.allows("192.168.1.5:8780") and not lan.allows("localhost:8780") and not lan.allows("10.0.0.1")
    assert not loopback.allows(None) and not loopback.allows("127.0.0.1:port")


def test_the_token_becomes_a_cookie_and_then_state_changes_need_the_csrf_header(web: Web) -> None:
    with web.http(None, follow_redirects=False) as browser:
        res = browser.get(f"/?token={web.tokens.full}&session=s1&view=diff")
        assert res.status_code == 303
        assert res.headers["location"] == "/?session=s1&view=diff"  # the token is out of the address
        cookie = res.headers["set-cookie"]
        assert f"trails_token={web.tokens.full}" in cookie
        assert "HttpOnly" in cookie and re.search("SameSite=strict", cookie, re.I)
        listed = browser.get("/api/sessions")
        assert listed.status_code == 200  # the cookie, from now on
        assert listed.headers["x-frame-options"] == "DENY" and listed.headers["x-content-type-options"] == "nosniff"
        res = browser.post("/api/sessions", json={"name": "s1", "agent": "cat", "mode": "direct"})
        assert res.status_code == 403 and res.json()["error"]["code"] == "csrf"
        assert browser.get("/api/sessions").json() == {"sessions": []}  # nothing was created
        res = browser.post("/api/sessions", json={"name": "s1", "agent": "cat", "mode": "direct"},
                           headers={"X-Trails-CSRF": "1"})
        assert res.status_code == 200, res.text
        assert browser.get(f"/?token=wrong-{'x' * 40}").status_code == 401
    # A WebSocket opened with the cookie must say where it comes from (browsers always do).
    cookie_header = {"Cookie": f"trails_token={web.tokens.full}"}
    with pytest.raises(InvalidStatus) as refused, web.ws("/api/events", token=None, additional_headers=cookie_header):
        pass
    assert refused.value.response.status_code == 403
    with web.ws("/api/events", token=None, additional_headers=cookie_header, origin=web.base):
        pass


def test_the_token_files_are_the_owners_alone(web: Web, trails_env: dict[str, Path]) -> None:
    for name in ("web-token", "web-token-read-only"):
        path = trails_env["home"] / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(path.read_text().strip()) >= 40
    assert web.tokens.full != web.tokens.read_only


def _path_of(template: str) -> str:
    return template.replace("{name}", "ro1").replace("{id}", "run1").replace("{label}", "session_01")


def test_a_read_only_token_is_refused_every_state_changing_endpoint(web: Web, trails_env: dict[str, Path]) -> None:
    web.create("ro1", mode="direct", env={"API_KEY": "sk-live-123"})
    changing = [e for e in ENDPOINTS if e.method != "GET"]
    assert len(changing) >= 12
    with web.http("read-only") as viewer:
        for endpoint in changing:
            res = viewer.request(endpoint.method, _path_of(endpoint.path),
                                 json={"text": "hi", "name": "ro2", "agent": "cat", "to": "worktree", "on": True,
                                       "force": True, "comments": [{"path": "a", "line_start": 1, "text": "x"}],
                                       "file": "run.yaml"})
            assert res.status_code == 403, (endpoint.path, res.text)
            assert res.json()["error"]["code"] == "not_permitted", endpoint.path
        # What a viewer may do, it can.
        assert viewer.get("/api/sessions").json()["sessions"][0]["name"] == "ro1"
        assert viewer.get("/api/sessions/ro1/output").status_code == 200
        assert viewer.get("/api/me").json()["read_only"] is True
        # ...but not a session's --env values: names only.
        assert viewer.get("/api/sessions").json()["sessions"][0]["env"] == {"API_KEY": "(hidden)"}
        assert viewer.get("/api/sessions/ro1").json()["session"]["env"] == {"API_KEY": "(hidden)"}
        assert "sk-live-123" not in viewer.get("/api/sessions/ro1").text
    with web.http() as owner:
        sessions = owner.get("/api/sessions").json()["sessions"]
        assert [(s["name"], s["status"], s["auto_yes"]) for s in sessions] == [("ro1", "running", False)]
        assert owner.get("/api/me").json()["read_only"] is False
        assert sessions[0]["env"] == {"API_KEY": "sk-live-123"}
    assert "hi" not in tmux_capture(trails_env["socket"], "trails-ro1")


def test_the_trails_server_refuses_a_read_only_web_caller_itself(web: Web, trails_env: dict[str, Path]) -> None:
    """Defence in depth: should a front end let a viewer's request through, the server still says no."""
    web.create("ro1", mode="direct")
    viewer = Client(trails_env["home"], caller=Caller(trust=Trust.WEB, read_only=True, cwd=str(web.repo)),
                    local=False)
    for request in (t.Kill(name="ro1", force=True), t.Send(name="ro1", text="hi"), t.Pause(name="ro1"),
                    t.AutoYes(name="ro1", on=True), t.Create(name="ro2", agent="cat", mode="direct"),
                    t.TerminalInput(terminal=1, data=b"x"), t.Cancel(job=1), t.Nudge()):
        with pytest.raises(NotPermitted):
            viewer.call(request)
    assert viewer.call(t.Get(name="ro1")).status.value == "running"
    assert [s.name for s in viewer.call(t.ListSessions()).sessions] == ["ro1"]


def test_a_read_only_web_server_gives_every_token_only_a_view(trails_env: dict[str, Path], repo: Path) -> None:
    from tests.web.conftest import serve
    from trails.ui.web.app import create_app
    from trails.ui.web.backend import Backend
    from trails.ui.web.tokens import Tokens

    tokens = Tokens.of_home(trails_env["home"])
    app = create_app(Backend(trails_env["home"], cwd=str(repo), local=False), tokens=tokens, bound="127.0.0.1",
                     read_only=True)
    server, thread, port = serve(app)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}",
                          headers={"Authorization": f"Bearer {tokens.full}"}) as api:
            assert api.get("/api/me").json()["read_only"] is True
            res = api.post("/api/sessions", json={"name": "x", "agent": "cat", "mode": "direct"})
            assert res.status_code == 403 and res.json()["error"]["code"] == "not_permitted"
    finally:
        server.should_exit = True
        thread.join(15)
