"""The trails server's cost and speed watching sessions, in one run (python bench/bench_monitor.py [--sessions 50]).

1. Idle CPU: N idle sessions watched by the server's supervisor; the whole server's CPU seconds per
   second over a window, against the target (< 0.02 of one core) and against a naive poller measured
   in the same run (claude-squad's way: every 500 ms per session, tmux capture-pane + SHA-256); and
   the server's resident memory with those sessions.
2. Latency: a session's output → its status event at a subscriber on the server's socket (p50/p95,
   target p95 < 100 ms), against a floor measured alongside: the same output seen by a bare inotify
   watcher on the log file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait(cond, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def naive_poller_cpu(socket: Path, names: list[str], seconds: float) -> float:
    """CPU of polling every pane every 500 ms with capture-pane + SHA-256 (children included)."""
    start_self = time.process_time()
    start_children = os.times().children_user + os.times().children_system
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tick = time.monotonic()
        for name in names:
            out = subprocess.run(["tmux", "-S", str(socket), "capture-pane", "-p", "-t", f"={name}:"],
                                 capture_output=True, check=False).stdout
            hashlib.sha256(out).hexdigest()
        time.sleep(max(0.0, 0.5 - (time.monotonic() - tick)))
    used = time.process_time() - start_self
    used += os.times().children_user + os.times().children_system - start_children
    return used / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--window", type=float, default=10.0, help="seconds of idle measurement")
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="trails-bench-mon-"))
    home = tmp / "home"
    home.mkdir()
    os.environ["TRAILS_HOME"] = str(home)
    os.environ["TRAILS_TMUX_SOCKET"] = str(tmp / "tmux.sock")
    os.environ.pop("TRAILS_SUPERVISOR", None)
    # Quick quiet rule so the latency loop can alternate running/ready fast.
    (home / "settings.json").write_text(json.dumps({"detection": {"command": {"quiet_seconds": 0.25}}}))
    from trails.api import types as t
    from trails.api.client import Client
    from trails.core import outputlog
    from trails.core.engine import Engine

    engine = Engine()  # to read the state and drive tmux, as a user would
    client = Client(home, local=False)
    idle_agent = f"{sys.executable} -c \"import sys; print('idle agent ready', flush=True); sys.stdin.read()\""
    try:
        pid = client.call(t.ServerStatusRequest(monitor=True)).pid
        assert pid is not None
        names = [f"idle{i}" for i in range(args.sessions)]
        for name in names:
            client.call(t.Create(name=name, agent="sh -c 'echo idle agent ready; exec cat'", cwd=str(tmp),
                                 mode="direct"))
        wait(lambda: all(s.status.value == "ready" for s in engine.store.list_sessions()), 60, "sessions ready")
        time.sleep(1.0)
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(args.window)
        idle = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        tmux_names = [engine.store.get_session(n).tmux_session for n in names]
        naive = naive_poller_cpu(engine.tmux.socket, tmux_names, 4.0)
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
        print(f"idle CPU, {args.sessions} sessions: trails server {idle * 100:.3f}% of one core "
              f"(target < 2%: {'OK' if idle < 0.02 else 'MISSED'}); naive 500 ms capture+hash poller "
              f"{naive * 100:.1f}% → {naive / max(idle, 1e-6):.0f}x cheaper; server RSS {rss / 1024:.1f} MB")

        # --- latency ------------------------------------------------------------------------------
        client.call(t.Create(name="lat", agent=idle_agent, cwd=str(tmp), mode="direct"))
        wait(lambda: engine.store.get_session("lat").status.value == "ready", 30, "lat ready")
        tname = engine.store.get_session("lat").tmux_session
        log = outputlog.log_path(home, tname)
        events: list[tuple[float, t.EventInfo]] = []
        stream = client.subscribe()
        reader = threading.Thread(
            target=lambda: [events.append((time.monotonic(), e)) for e in stream], daemon=True)
        reader.start()
        from trails.monitor.inotify import Inotify

        watcher = Inotify()
        watcher.watch(str(log.parent))
        latencies, floors = [], []
        for i in range(args.samples):
            wait(lambda: engine.store.get_session("lat").status.value == "ready", 10, "ready again")
            watcher.read()
            seen = len(events)
            start = time.monotonic()
            engine.tmux.send_text(tname, f"sample {i}")
            # floor: the bytes reach the log and a bare inotify watcher wakes up
            while True:
                ready, _, _ = select.select([watcher.fd], [], [], 5)
                if not ready:
                    break
                if f"{tname}.log" in watcher.read():
                    floors.append(time.monotonic() - start)
                    break
            got = wait(lambda seen=seen: next((when for when, e in events[seen:] if e.session == "lat"
                                               and e.kind == "status" and e.data.get("status") == "running"),
                                              None), 5, "running event")
            latencies.append(got - start)
        p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=20)[18]
        f50, f95 = statistics.median(floors), statistics.quantiles(floors, n=20)[18]
        print(f"status latency (output → subscriber), {args.samples} samples: p50 {p50 * 1000:.1f} ms, "
              f"p95 {p95 * 1000:.1f} ms (target p95 < 100 ms: {'OK' if p95 < 0.1 else 'MISSED'}); "
              f"floor (send-keys → log written → inotify) p50 {f50 * 1000:.1f} ms, p95 {f95 * 1000:.1f} ms; "
              f"the server adds p50 {(p50 - f50) * 1000:.1f} ms")
    finally:
        client.stop_server()
        subprocess.run(["tmux", "-S", str(engine.tmux.socket), "kill-server"], capture_output=True, check=False)
        engine.close()


if __name__ == "__main__":
    main()
