"""The store under concurrent writers: a supervisor and an operation changing one session at the same
moment lose nothing of each other's, in one process (threads sharing a Store) or two (a Store each)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from trails.core.models import Mode, Session, Status
from trails.core.store import Store

ROUNDS = 150


def _session(store: Store, name: str = "s1") -> Session:
    return store.insert_session(Session(
        id=0, name=name, agent="sh", command=["sh"], mode=Mode.DIRECT, status=Status.RUNNING, workdir="/tmp",
        repo_root=None, worktree_path=None, branch=None, base_commit=None, tmux_session=f"trails-{name}",
        extra={"scope": []}))


def _together(*work: Callable[[], None]) -> None:
    """Run each function in its own thread, all released at once; re-raise the first failure."""
    start = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(fn: Callable[[], None]) -> None:
        start.wait()
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    if errors:
        raise errors[0]


@pytest.fixture(params=["one store, two threads", "a store each (two processes)"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Store, Store]:
    first = Store(tmp_path / "state.db")
    second = first if request.param.startswith("one") else Store(tmp_path / "state.db")
    request.addfinalizer(first.close)
    request.addfinalizer(second.close)
    return first, second


def test_supervisor_and_an_operation_on_one_session_lose_no_update(stores: tuple[Store, Store]) -> None:
    supervisor_store, engine_store = stores
    session = _session(engine_store)
    statuses = [Status.RUNNING, Status.READY, Status.WAITING]

    def supervisor() -> None:
        # What the supervisor writes: the status (over a live one only) and the needs-you flag.
        for i in range(ROUNDS):
            supervisor_store.set_needs_user(session.id, f"guard {i}")
            assert supervisor_store.set_live_status(session.id, statuses[i % 3], f"screen {i}")

    def operation() -> None:
        # What an operation writes: its own keys of extra from the row it read (a whole-extra write, the
        # way create, kill and moves do), a conflict flag, the pull request, an audited action.
        for i in range(ROUNDS):
            fresh = engine_store.get_session("s1")
            fresh.extra["own"] = i
            assert engine_store.update_session(session.id, extra=fresh.extra, conflict={"files": [str(i)]},
                                               audits=[("sent", "s1", {"text": f"t{i}", "caller": "user"})])
            engine_store.update_session(session.id, pr={"number": i})
            engine_store.update_extra(session.id, {"merged_key": i})

    _together(supervisor, operation)
    final = engine_store.get_session("s1")
    last = ROUNDS - 1
    assert final.needs_user == f"guard {last}"
    assert final.status is statuses[last % 3] and final.status_reason == f"screen {last}"
    assert final.conflict == {"files": [str(last)]} and final.pr == {"number": last}
    assert final.extra == {"scope": [], "own": last, "merged_key": last}
    sent = [a for a in engine_store.audit_entries("s1") if a.action == "sent"]
    assert [a.detail["text"] for a in sent] == [f"t{i}" for i in range(ROUNDS)]
    assert {a.caller for a in sent} == {"user"}
    events = engine_store.events(session="s1")
    assert [e.data.text for e in events if e.kind == "sent"] == [f"t{i}" for i in range(ROUNDS)]  # type: ignore[union-attr]
    # Every status change has its event, in order, each naming the status it replaced.
    changes = [e.data for e in events if e.kind == "status"]
    assert len(changes) == ROUNDS - 1  # the first round set the status it already had
    assert all(c.previous != c.status for c in changes)  # type: ignore[union-attr]
    assert changes[-1].status == statuses[last % 3].value and changes[-1].needs_user  # type: ignore[union-attr]
    assert [e.id for e in events] == sorted(e.id for e in events)


def test_update_extra_keeps_every_writers_keys(stores: tuple[Store, Store]) -> None:
    first, second = stores
    session = _session(first)

    def writer(store: Store, prefix: str) -> Callable[[], None]:
        def write() -> None:
            for i in range(ROUNDS):
                store.update_extra(session.id, {f"{prefix}{i}": i})
        return write

    _together(writer(first, "a"), writer(second, "b"))
    extra = first.get_session("s1").extra
    assert extra == {"scope": [], **{f"a{i}": i for i in range(ROUNDS)}, **{f"b{i}": i for i in range(ROUNDS)}}


def test_an_engine_status_change_over_a_stale_read_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    session = _session(store)
    assert store.set_live_status(session.id, Status.WAITING, "a prompt")  # the supervisor, meanwhile
    # The engine decided on the `running` it read: its change must not overwrite the newer status.
    assert not store.update_session(session.id, status=Status.ERROR, status_reason="exited",
                                    only_if_status=Status.RUNNING)
    assert store.get_session("s1").status is Status.WAITING
    assert store.update_session(session.id, status=Status.PAUSED, only_if_status=Status.WAITING)
    assert not store.set_live_status(session.id, Status.READY, "late screen")  # paused: not live any more
    assert store.get_session("s1").status is Status.PAUSED


def test_whole_extra_writes_cannot_carry_a_lifecycle_field(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    session = _session(store)
    store.set_needs_user(session.id, "guard")
    for write in (lambda: store.update_session(session.id, extra={"needs_user": None}),
                  lambda: store.update_extra(session.id, {"pr": {"number": 1}})):
        with pytest.raises(ValueError, match="fields of their own"):
            write()
    with pytest.raises(ValueError, match="not a session column"):
        store.update_session(session.id, **{"status = 'x', name": "y"})
    assert store.get_session("s1").needs_user == "guard"


def test_a_forked_child_opens_its_own_connections(tmp_path: Path) -> None:
    import os

    store = Store(tmp_path / "state.db")
    session = _session(store)
    pid = os.fork()
    if pid == 0:  # the child: the parent's connections must not be used (nor closed) here
        code = 1
        try:
            store.update_extra(session.id, {"child": True})
            code = 0 if store.get_session("s1").extra.get("child") else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    store.update_extra(session.id, {"parent": True})  # the parent's connections still work
    assert store.get_session("s1").extra == {"scope": [], "child": True, "parent": True}


def test_threads_that_end_leave_no_connection_open(tmp_path: Path) -> None:
    import os

    store = Store(tmp_path / "state.db")
    _session(store)

    def in_a_thread() -> None:
        t = threading.Thread(target=lambda: store.get_session("s1"))
        t.start()
        t.join()

    in_a_thread()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(30):  # a thread per client, as the server has: each reads on a connection of its own
        in_a_thread()
    # Each new connection closes those of the threads that ended: at most the last one is left.
    assert len(os.listdir("/proc/self/fd")) <= before + 3
    store.close()
