"""Remote hosts' sessions in the dashboard: listed with their host, updated by the host's events, greyed
(never dropped) while the host is unreachable, and listed afresh when it is back."""

from __future__ import annotations

from typing import Any

from tests.tui.fake_engine import NOW, FakeEngine, session
from tests.tui.tuihelp import SIZE, cell_text, status_text, until
from trails.core.models import Session, Status
from trails.ui.tui.app import TrailsApp
from trails.ui.tui.session_table import SessionList


class HostsEngine(FakeEngine):
    """The stand-in engine, with a host `box` whose session r1 the listing gives as the backend does."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts = {"box": True}
        self.remote = remote_session("r1")

    def list_sessions(self, include_ended: bool = False, *, caller: Any = None) -> list[Session]:
        local = super().list_sessions(include_ended)
        return local + ([self.remote] if self.hosts["box"] else [])  # unreachable: its sessions are unknown


def remote_session(name: str) -> Session:
    made = session(f"box:{name}", Status.RUNNING, i=7)
    made.extra = {"host": "box"}
    return made


class ManualFeed:
    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


async def test_a_hosts_session_shows_its_host_and_greys_while_unreachable() -> None:
    engine = HostsEngine()
    feeds: list[ManualFeed] = []
    app = TrailsApp(engine, clock=lambda: NOW, stats=False,
                    feed=lambda e, cb, err: feeds.append(ManualFeed(cb)) or feeds[-1])
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.loaded.is_set() and bool(feeds))
        emit = feeds[0].callback
        table = app.main.query_one(SessionList)
        assert ("host", "HOST") in table.columns
        assert cell_text(app, "box:r1", "host").strip() == "box"
        assert cell_text(app, "box:r1", "name").strip() == "r1"
        assert cell_text(app, "add-tests", "host").strip() == "local"

        emit({"id": 1, "kind": "status", "session": "r1", "host": "box", "remote_id": 40,
              "data": {"status": "waiting", "reason": "Allow?", "needs_user": True}})
        await until(pilot, lambda: status_text(app, "box:r1") == "waiting", message="the host's status event")

        engine.hosts["box"] = False
        emit({"id": 2, "kind": "host", "session": None, "host": "box",
              "data": {"reachable": False, "code": "host_unreachable", "error": "cannot reach box"}})
        await until(pilot, lambda: "unreachable" in status_text(app, "box:r1"), message="the row greyed")
        await app.reload_sessions()  # a listing that cannot ask the host keeps its sessions
        assert "box:r1" in app.sessions and "unreachable" in status_text(app, "box:r1")
        row = table._rows["box:r1"]["name"]
        assert any("dim" in str(span.style) for span in row.spans)

        engine.hosts["box"] = True
        engine.remote.status = Status.READY
        emit({"id": 3, "kind": "host", "session": None, "host": "box", "data": {"reachable": True}})
        await until(pilot, lambda: status_text(app, "box:r1") == "ready", message="the host back, listed afresh")
