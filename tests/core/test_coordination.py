"""Agents' coordination rules (core.coordination) over a real state database: limits, claims, artifacts,
the audit entries and events each action writes, and the communication log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import git, make_repo
from trails.core import coordination as co
from trails.core.errors import (
    ArtifactNotFound,
    ArtifactTaken,
    ClaimConflict,
    InvalidClaim,
    InvalidInput,
    RateLimited,
    SessionNotFound,
    TooLarge,
)
from trails.core.models import Mode, Session, Status
from trails.core.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store(tmp_path / "state.db")
    yield st
    st.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def _session(store: Store, name: str, root: Path) -> Session:
    return store.insert_session(Session(
        id=0, name=name, agent="cat", command=["cat"], mode=Mode.WORKTREE, status=Status.READY,
        workdir=str(root.parent / f"wt-{name}"), repo_root=str(root), worktree_path=None, branch=None,
        base_commit=None, tmux_session=f"trails-{name}"))


def _log(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in co.log_path(str(root)).read_text().splitlines()]


def test_a_message_is_stored_audited_logged_and_read_once_delivered(store: Store, root: Path) -> None:
    a, b = _session(store, "a", root), _session(store, "b", root)
    c = co.Coordination(store)
    sent = c.send_message(a, "b", "hello b", caller="agent:a")
    got = c.read_messages(b)
    assert [(m.from_session, m.to_session, m.text) for m in got] == [("a", "b", "hello b")]
    assert c.read_messages(b, since=sent.id) == []
    assert c.read_messages(a) == []  # the sender's inbox has nothing
    (stored,) = store.inbox("b", str(root), since=0, not_before=0, limit=10)
    assert stored.delivered_at is not None
    (event,) = [e for e in store.events() if e.kind == "message"]
    assert (event.session, event.caller, event.data.to, event.data.text) == ("a", "agent:a", "b", "hello b")  # type: ignore[union-attr]
    assert _log(root)[0] | {"ts": 0} == {"kind": "message", "id": sent.id, "ts": 0, "from": "a", "to": "b",
                                         "text": "hello b"}
    # Kept out of git without a file of its own in the work tree.
    assert git(root, "status", "--porcelain") == ""


def test_a_broadcast_reaches_every_other_session_of_the_repository(store: Store, root: Path,
                                                                   tmp_path: Path) -> None:
    a, b, c_ = (_session(store, n, root) for n in ("a", "b", "c"))
    other = _session(store, "elsewhere", make_repo(tmp_path / "other"))
    c = co.Coordination(store)
    c.send_message(a, "*", "all hands", caller="agent:a")
    assert [m.text for m in c.read_messages(b)] == ["all hands"] == [m.text for m in c.read_messages(c_)]
    assert c.read_messages(a) == [] and c.read_messages(other) == []
    with pytest.raises(SessionNotFound) as found:
        c.send_message(a, "elsewhere", "hi", caller="agent:a")
    assert found.value.field == "to"


def test_oversized_empty_and_flooding_messages_are_refused_with_nothing_stored(store: Store, root: Path) -> None:
    a, _ = _session(store, "a", root), _session(store, "b", root)
    c = co.Coordination(store)
    with pytest.raises(TooLarge) as big:
        c.send_message(a, "b", "x" * (co.MESSAGE_MAX_BYTES + 1), caller="agent:a")
    assert (big.value.code, big.value.field) == ("too_large", "text")
    with pytest.raises(InvalidInput):
        c.send_message(a, "b", "  ", caller="agent:a")
    for i in range(co.RATE_MAX):
        c.send_message(a, "b", f"m{i}", caller="agent:a")
    with pytest.raises(RateLimited) as flood:
        c.send_message(a, "b", "one too many", caller="agent:a")
    assert flood.value.code == "rate_limited"
    assert len(store.inbox("b", str(root), since=0, not_before=0, limit=1000)) == co.RATE_MAX
    assert len([e for e in store.events() if e.kind == "message"]) == co.RATE_MAX


def test_claims_overlap_between_sessions_only_and_name_the_holder(store: Store, root: Path) -> None:
    a, b = _session(store, "a", root), _session(store, "b", root)
    c = co.Coordination(store)
    c.claim(a, "src/app.py", reason="refactoring the app", caller="agent:a")
    with pytest.raises(ClaimConflict) as refused:
        c.claim(b, "src/*", caller="agent:b")
    message = refused.value.message
    assert "claimed by a" in message and "src/app.py" in message and "refactoring the app" in message
    c.claim(a, "src", caller="agent:a")  # its own claims never conflict
    c.claim(b, "docs/**", caller="agent:b")
    assert [(h.session, h.pattern) for h in c.claims(str(root))] == [("a", "src/app.py"), ("a", "src"),
                                                                      ("b", "docs/**")]
    released = c.release(a, caller="agent:a")
    assert {r.pattern for r in released} == {"src/app.py", "src"}
    assert c.claim(b, "src/*", caller="agent:b").session == "b"
    kinds = [e.kind for e in store.events()]
    assert kinds.count("claim") == 4 and kinds.count("claim_released") == 1


def test_claims_expire_and_end_with_their_holder(store: Store, root: Path) -> None:
    a, b = _session(store, "a", root), _session(store, "b", root)
    c = co.Coordination(store)
    c.claim(a, "x.py", ttl=0.2, caller="agent:a")
    with pytest.raises(ClaimConflict):
        c.claim(b, "x.py", caller="agent:b")
    time.sleep(0.3)
    c.claim(b, "x.py", caller="agent:b")
    store.update_session(b.id, status=Status.KILLED, ended_at=time.time())
    assert c.claims(str(root)) == []
    c.claim(a, "x.py", caller="agent:a")


def test_last_messages_gives_each_session_its_own_latest_in_one_query(store: Store, root: Path) -> None:
    a, b, old_c, old_d = (_session(store, n, root) for n in ("a", "b", "c", "d"))
    c = co.Coordination(store)
    c.send_message(a, "b", "first", caller="agent:a")
    c.send_message(b, "a", "b's only", caller="agent:b")
    c.send_message(a, "*", "second", caller="agent:a")
    c.send_message(old_c, "a", "the earlier c's", caller="agent:c")
    c.send_message(old_d, "a", "the earlier d's", caller="agent:d")
    for ended in (old_c, old_d):
        store.update_session(ended.id, status=Status.KILLED, ended_at=time.time())
    new_c, new_d, quiet = (_session(store, n, root) for n in ("c", "d", "quiet"))
    c.send_message(new_c, "a", "the new c's", caller="agent:c")
    c.send_message(a, "b", "third", caller="agent:a")
    found = store.last_messages([a.id, b.id, new_c.id, new_d.id, quiet.id, old_c.id])
    assert {sid: m.text for sid, m in found.items()} == {
        a.id: "third", b.id: "b's only", new_c.id: "the new c's", old_c.id: "the earlier c's"}
    # A reused name's session has only what it sent itself; one that sent nothing has no entry.
    assert new_d.id not in found and quiet.id not in found
    assert all(m.from_session == store.session_by_id(sid).name for sid, m in found.items())  # type: ignore[union-attr]
    assert store.last_messages([]) == {}


@pytest.mark.parametrize("path", ["", "../x", "src/../../etc", "/etc/passwd", "a\\b"])
def test_a_claim_outside_the_repository_is_refused(store: Store, root: Path, path: str) -> None:
    a = _session(store, "a", root)
    with pytest.raises(InvalidClaim) as bad:
        co.Coordination(store).claim(a, path, caller="agent:a")
    assert bad.value.field == "path"


def test_absolute_paths_inside_the_repository_or_worktree_are_made_relative(root: Path) -> None:
    assert co.normalize_pattern(f"{root}/src/./app.py", str(root)) == "src/app.py"
    assert co.normalize_pattern("/w/t/lib/*", str(root), "/w/t") == "lib/*"


@pytest.mark.parametrize(("a", "b", "meet"), [
    ("src/app.py", "src/*", True), ("src", "src/app.py", True), ("**/*.py", "src/a.py", True),
    ("src/*.py", "src/*.js", False), ("src/a.py", "src/b.py", False), ("docs", "src/*", False),
    ("src/test_*", "src/*_fast.py", True), ("a/*/c", "a/b/*", True),
])
def test_overlap(a: str, b: str, meet: bool) -> None:
    assert co.overlaps(a, b) is meet and co.overlaps(b, a) is meet


def test_artifacts_are_shared_read_replaced_by_their_sharer_only(store: Store, root: Path) -> None:
    a, b = _session(store, "a", root), _session(store, "b", root)
    c = co.Coordination(store)
    c.share(a, "plan.md", b"# plan\n", caller="agent:a")
    got = c.artifact(str(root), "plan.md")
    assert (got.content, got.session, got.size) == (b"# plan\n", "a", 7)
    with pytest.raises(ArtifactTaken):
        c.share(b, "plan.md", b"mine", caller="agent:b")
    c.share(a, "plan.md", b"v2", caller="agent:a")
    assert [(x.name, x.size, x.content) for x in c.artifacts(str(root))] == [("plan.md", 2, None)]
    with pytest.raises(TooLarge):
        c.share(a, "big.bin", b"\0" * (co.ARTIFACT_MAX_BYTES + 1), caller="agent:a")
    with pytest.raises(ArtifactNotFound):
        c.artifact(str(root), "big.bin")
    with pytest.raises(InvalidInput):
        c.share(a, "../evil", b"x", caller="agent:a")
    assert [e.data.name for e in store.events() if e.kind == "artifact"] == ["plan.md", "plan.md"]  # type: ignore[union-attr]


def test_messages_wait_for_a_ready_recipient_one_at_a_time_never_a_dialog(store: Store, root: Path) -> None:
    a, b, c_ = (_session(store, n, root) for n in ("a", "b", "c"))
    c = co.Coordination(store)
    first = c.send_message(a, "b", "first", caller="agent:a")
    c.send_message(a, "b", "second", caller="agent:a")
    c.send_message(a, "*", "to all", caller="agent:a")
    store.update_session(c_.id, status=Status.WAITING)  # a dialog: nothing is typed into it
    assert [(m.text, name) for m, _, name in c.deliverable()] == [("first", "b")]
    store.set_needs_user(b.id, "a prompt auto-yes refused")
    assert c.deliverable() == []
    store.set_needs_user(b.id, None)
    c.delivered(first, b.id)
    assert [(m.text, name) for m, _, name in c.deliverable()] == [("second", "b")]
    c.read_messages(b)  # read: nothing left to type
    assert c.deliverable() == []
    store.update_session(c_.id, status=Status.READY)
    assert [(m.text, name) for m, _, name in c.deliverable()] == [("to all", "c")]


def test_typed_text_is_one_line_and_long_messages_are_announced(store: Store, root: Path) -> None:
    a, _ = _session(store, "a", root), _session(store, "b", root)
    c = co.Coordination(store)
    short = c.send_message(a, "b", "rebase onto main\nthen run the tests", caller="agent:a")
    assert co.typed_text(short) == f"[trails] message {short.id} from a to you: rebase onto main then run the tests"
    long = c.send_message(a, "*", "z" * 600, caller="agent:a")
    assert co.typed_text(long) == (f"[trails] message {long.id} from a to everyone (600 characters): read it with "
                                   "the read_messages tool")
