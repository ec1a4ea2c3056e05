"""A stand-in engine with fixed sessions, for deterministic snapshots and the benchmark.

It answers the calls the dashboard makes of its backend (trails.ui.tui.backend), from memory, and
records every call so tests can check what the dashboard asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trails.core.engine import DiffResult
from trails.core.errors import SessionNotFound, UncommittedWork
from trails.core.models import Mode, Session, Status

NOW = 1_763_750_000.0

DIFF = """diff --git a/app/login.py b/app/login.py
index 3b18e51..a9f1c2d 100644
--- a/app/login.py
+++ b/app/login.py
@@ -1,5 +1,7 @@
 def login(user, password):
-    if user.password == password:
+    if not user:
+        return False
+    if user.check_password(password):
         return True
     return False
diff --git a/tests/test_login.py b/tests/test_login.py
new file mode 100644
index 0000000..5c4b2e0
--- /dev/null
+++ b/tests/test_login.py
@@ -0,0 +1,3 @@
+def test_no_user():
+    assert login(None, "x") is False
+
"""

SCREEN = """╭──────────────────────────────────────────────╮
│ ✻ Welcome to Claude Code!                    │
╰──────────────────────────────────────────────╯

> fix the login bug when the user is missing

● I'll add a guard for a missing user and a test.

✻ Editing app/login.py… (esc to interrupt)
"""


def session(name: str, status: Status = Status.RUNNING, *, mode: Mode = Mode.WORKTREE, agent: str = "claude",
            age: float = 600, auto_yes: bool = False, i: int = 0) -> Session:
    branch = f"trails/{name}" if mode is not Mode.DIRECT else None
    return Session(
        id=i + 1, name=name, agent=agent, command=[agent], mode=mode, status=status,
        workdir=f"/work/repo-wt-trails-{name}" if branch else "/work/repo", repo_root="/work/repo",
        worktree_path=f"/work/repo-wt-trails-{name}" if branch else None, branch=branch,
        base_commit="4cc41e4d0e9b3f4a1c2b5d6e7f8091a2b3c4d5e6", tmux_session=f"trails-{name}",
        auto_yes=auto_yes, created_at=NOW - age, updated_at=NOW - age,
        status_reason="Do you want to create app/login.py?" if status is Status.WAITING else None,
    )


def sample_sessions() -> list[Session]:
    return [
        session("fix-login", Status.WAITING, age=1500, auto_yes=False, i=0),
        session("add-tests", Status.RUNNING, agent="codex", age=3900, auto_yes=True, i=1),
        session("docs-typos", Status.READY, mode=Mode.DIRECT, agent="aider", age=240, i=2),
        session("refactor-db", Status.PAUSED, age=90000, i=3),
        session("perf-cache", Status.ERROR, mode=Mode.CONTAINER, agent="gemini", age=7300, i=4),
        session("bot", Status.COMPLETED, mode=Mode.DIRECT, agent="python3 bot.py", age=45, i=5),
    ]


@dataclass
class _Merge:
    session: str
    branch: str
    into: str
    commit: str | None
    notes: list[str]


class FakeEngine:
    def __init__(self, sessions: list[Session] | None = None, *, dirty: set[str] | None = None) -> None:
        self.sessions = {s.name: s for s in (sessions if sessions is not None else sample_sessions())}
        self.calls: list[tuple[Any, ...]] = []
        self.dirty = dirty or set()

    def _get(self, name: str) -> Session:
        if name not in self.sessions:
            raise SessionNotFound(f"no session named {name!r}")
        return self.sessions[name]

    def list_sessions(self, include_ended: bool = False, *, caller: Any = None) -> list[Session]:
        self.calls.append(("list_sessions",))
        return [s for s in self.sessions.values() if s.status is not Status.KILLED]

    def get_session(self, name: str, *, caller: Any = None) -> Session:
        return self._get(name)

    def output(self, name: str, lines: int | None = None, *, caller: Any = None) -> str:
        self._get(name)
        return SCREEN

    def diff(self, name: str, *, stat: bool = False, caller: Any = None) -> DiffResult:
        s = self._get(name)
        return DiffResult(name, s.base_commit or "", DIFF, 6, 1, 2)

    def show(self, name: str, *, caller: Any = None) -> dict[str, Any]:
        s = self._get(name)
        audit = [{"id": 1, "ts": NOW - 600, "session_name": name, "action": "mode_selected",
                  "detail": {"mode": s.mode.value, "reason": "default"}},
                 {"id": 2, "ts": NOW - 590, "session_name": name, "action": "session_created",
                  "detail": {"mode": s.mode.value}}]
        return {"session": s.to_dict(), "checkpoints": [], "audit": audit}

    def events(self, limit: int | None = None, **_: Any) -> list[dict[str, Any]]:
        return []

    def send(self, name: str, text: str, *, caller: Any = None) -> None:
        self.calls.append(("send", name, text))

    def pause(self, name: str, *, caller: Any = None) -> dict[str, Any]:
        self.calls.append(("pause", name))
        self._get(name).status = Status.PAUSED
        return {"session": name, "notes": []}

    def resume(self, name: str, *, caller: Any = None) -> dict[str, Any]:
        self.calls.append(("resume", name))
        self._get(name).status = Status.RUNNING
        return {"session": name, "notes": []}

    def set_auto_yes(self, name: str, on: bool, *, caller: Any = None) -> Session:
        self.calls.append(("set_auto_yes", name, on))
        self._get(name).auto_yes = on
        return self._get(name)

    def kill(self, name: str, *, force: bool = False, delete_branch: bool = False, caller: Any = None) -> Any:
        self.calls.append(("kill", name, force))
        if name in self.dirty and not force:
            raise UncommittedWork(f"session {name!r} has uncommitted work")
        self._get(name).status = Status.KILLED
        return None

    def merge(self, name: str, *, caller: Any = None) -> _Merge:
        self.calls.append(("merge", name))
        return _Merge(name, self._get(name).branch or "", "main", "0123456789abcdef", [])

    def upgrade_session(self, name: str, to: str, *, caller: Any = None, **_: Any) -> None:
        self.calls.append(("upgrade_session", name, to))
        self._get(name).mode = Mode(to)

    def export_session(self, name: str, to: str, *, force: bool = False, caller: Any = None) -> None:
        self.calls.append(("export_session", name, to, force))
        self._get(name).mode = Mode(to)

    def attach(self, name: str, *, caller: Any = None) -> int:
        self.calls.append(("attach", name))
        return 0

    def create_session(self, name: str, agent: str, *, caller: Any = None, **kwargs: Any) -> Any:
        self.calls.append(("create_session", name, agent, kwargs))
        raise NotImplementedError
