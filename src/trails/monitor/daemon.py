"""Starting, finding and stopping the supervisor: one per TRAILS_HOME, held by a lock file.

`ensure_running` starts it on demand as a detached process (its own session, no terminal), so it
outlives the command or terminal that started it. `python -m trails.monitor.daemon [--foreground]`
is the process itself; it exits at once when another supervisor holds the lock.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from trails.core.errors import SupervisorError, TrailsError
from trails.core.locks import held_elsewhere
from trails.core.paths import private_file
from trails.monitor import events as ev

LOCK_NAME = "supervisor.lock"
LOG_NAME = "supervisor.log"
_ERROR_PREFIX = "trails-supervisor: error: "


def lock_path(home: Path) -> Path:
    return home / LOCK_NAME


def is_running(home: Path) -> bool:
    """True when a supervisor holds this home's lock (no socket round trip)."""
    path = lock_path(home)
    try:
        handle = open(path)  # noqa: SIM115 - a shared lock needs no write access: works on a read-only home
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise SupervisorError(f"cannot read the supervisor's lock {path}: {exc.strerror or exc}",
                              hint=f"remove or repair {path}") from None
    with handle:
        return held_elsewhere(handle)


def ping(home: Path, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        return ev.request(ev.socket_path(home), {"cmd": "ping"}, timeout=timeout)
    except (OSError, ValueError):
        return None


def ensure_running(home: Path, timeout: float = 10.0) -> int:
    """The supervisor's pid, starting it first when none runs for this home."""
    # The lock answers "is one running" without waiting for the supervisor's loop to reply (a
    # busy one took ~20 ms of every `trails new`); a pid not yet written there falls back to ping.
    if is_running(home):
        with contextlib.suppress(OSError):
            pid = lock_path(home).read_text().strip()
            if pid.isdigit():
                return int(pid)
    reply = ping(home)
    if reply:
        return int(reply["pid"])
    log_file = home / LOG_NAME
    hint = f"see {log_file}; with TRAILS_SUPERVISOR=off sessions run without one (no live statuses or auto-yes)"
    try:
        private_file(log_file)
        log = open(log_file, "ab")  # noqa: SIM115 - handed to the child
    except OSError as exc:
        raise SupervisorError(f"cannot start the supervisor: cannot open its log {log_file}: {exc.strerror or exc}",
                              hint=f"make {home} writable, or set TRAILS_HOME to a directory that is") from None
    started_at = log.tell()
    env = dict(os.environ, TRAILS_HOME=str(home))
    with log:
        child = subprocess.Popen(
            [sys.executable, "-m", "trails.monitor.daemon"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env=env, start_new_session=True, close_fds=True, cwd="/",
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = ping(home, timeout=1.0)
        if reply:
            return int(reply["pid"])
        code = child.poll()
        # It exits 0 at once when another supervisor holds the lock: that one answers soon. Anything
        # else means it could not start, and waiting longer changes nothing.
        if code is not None and (code != 0 or not is_running(home)):
            raise SupervisorError(f"the supervisor could not start: {_last_line(log_file, started_at)}"
                                  f" (exit status {code})", hint=hint)
        time.sleep(0.05)
    raise SupervisorError(f"the supervisor did not answer within {timeout}s", hint=hint)


def _last_line(log_file: Path, offset: int) -> str:
    """The last line the supervisor wrote to its log from `offset` on (its error)."""
    try:
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            lines = [ln.strip() for ln in handle.read().decode(errors="replace").splitlines() if ln.strip()]
    except OSError:
        lines = []
    return lines[-1].removeprefix(_ERROR_PREFIX) if lines else "it wrote nothing to its log"


def stop(home: Path, timeout: float = 10.0) -> bool:
    """Ask the supervisor to exit and wait until its lock is free. False when none was running."""
    import signal

    if not is_running(home):
        return False
    try:
        ev.request(ev.socket_path(home), {"cmd": "stop"}, timeout=timeout)
    except (OSError, ValueError):
        pid = lock_path(home).read_text().strip()
        if pid.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(home) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def nudge(home: Path) -> None:
    """Tell a running supervisor to look at the state database now (best effort)."""
    with contextlib.suppress(OSError):
        ev.notify(ev.socket_path(home), {"cmd": "rescan"})


def _hold_lock(home: Path) -> IO[str] | None:
    from trails.core import paths

    try:
        private_file(lock_path(home))
        handle = open(lock_path(home), "a+")  # noqa: SIM115 - held for the process's life
    except OSError as exc:
        raise paths.unusable(exc, "open the lock") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def serve(home: Path) -> int:
    import signal

    from trails.monitor.supervisor import Supervisor

    lock = _hold_lock(home)
    if lock is None:
        return 0  # another supervisor already watches this home
    supervisor = Supervisor(home)

    def _stop(signum: int, frame: object) -> None:
        supervisor.running = False

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        lock.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from trails.core import paths

    parser = argparse.ArgumentParser(prog="trails-supervisor")
    parser.add_argument("--foreground", action="store_true", help="accepted for symmetry; this process never forks")
    parser.parse_args(argv)
    try:
        return serve(paths.trails_home())
    except TrailsError as exc:
        # One line for whoever started it (ensure_running shows the log's last line), not a traceback.
        print(f"{_ERROR_PREFIX}{exc.message}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(f"{_ERROR_PREFIX}{paths.unusable(exc).message}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
