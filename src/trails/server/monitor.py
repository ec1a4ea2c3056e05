"""The supervisor's watch over live sessions (trails.monitor.supervisor), in a thread of the server.

It holds `monitor.lock` while it runs, so any process can tell whether sessions are watched (a new
session starts `loading` then) without asking. Started with the server unless TRAILS_SUPERVISOR=off,
or later by a request that needs it from a caller who did not turn it off.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, TYPE_CHECKING

from trails.api.protocol import MONITOR_LOCK_NAME
from trails.core import paths
from trails.core.errors import SupervisorError
from trails.core.locks import hold_process_lock

if TYPE_CHECKING:
    from trails.api.types import HookEvent
    from trails.monitor.supervisor import Supervisor

OFF_VALUES = frozenset({"off", "0", "no"})


def turned_off(env: dict[str, str] | os._Environ[str]) -> bool:
    return env.get("TRAILS_SUPERVISOR", "").strip().lower() in OFF_VALUES


class Monitor:
    def __init__(self, home: Path) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._supervisor: Supervisor | None = None
        self._held: IO[str] | None = None

    def watching(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def nudge(self) -> None:
        supervisor = self._supervisor
        if supervisor is not None:
            supervisor.wake()

    def hook(self, report: HookEvent, caller: str) -> bool:
        """Hand an agent's hook report to the watch (False when none runs)."""
        supervisor = self._supervisor
        if supervisor is None:
            return False
        supervisor.hook(report, caller)
        return True

    def start(self) -> None:
        """Start watching unless already watching. SupervisorError when it cannot."""
        from trails.monitor.supervisor import Supervisor

        with self._lock:
            if self.watching():
                return
            held = self._hold_lock()
            if held is None:
                return  # another process watches this home (a server of an older trails)
            try:
                supervisor = Supervisor(self.home)
            except BaseException:
                held.close()
                raise
            self._supervisor, self._held = supervisor, held
            self._thread = threading.Thread(target=self._run, args=(supervisor, held), name="trails-monitor",
                                            daemon=True)
            self._thread.start()

    def _hold_lock(self) -> IO[str] | None:
        path = self.home / MONITOR_LOCK_NAME
        try:
            return hold_process_lock(path)
        except OSError as exc:
            raise SupervisorError(f"the supervisor could not start: {paths.unusable(exc, 'open the lock').message}",
                                  hint="with TRAILS_SUPERVISOR=off sessions run without it") from None

    def _run(self, supervisor: Supervisor, held: IO[str]) -> None:
        try:
            supervisor.run()
        except Exception:
            # A watch that cannot go on (the state database went bad, say) ends here; the server serves
            # on, and the next request that needs the watch starts it again.
            traceback.print_exc(file=sys.stderr)
        finally:
            with contextlib.suppress(Exception):
                supervisor.close()
            held.close()
            with self._lock:
                if self._supervisor is supervisor:
                    self._supervisor = None

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            supervisor, thread = self._supervisor, self._thread
        if supervisor is not None:
            supervisor.stop()
        if thread is not None:
            thread.join(timeout)
