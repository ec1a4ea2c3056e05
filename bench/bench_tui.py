"""The dashboard with 50 sessions: status-event-to-repaint latency and idle CPU.

    python bench/bench_tui.py [--sessions N] [--events N] [--idle SECONDS]

Events enter where the supervisor's stream enters the app (the feed callback, called from another
thread as the real feed does) and the clock stops when the screen holding the new status has been
refreshed (`call_after_refresh`). Two cases: a status change that keeps the row order (one row is
updated in place) and one that reorders the list (sorted by status). Idle CPU is the process's CPU
time over wall time while nothing happens, with the real event feed subscribed to a real supervisor.
Targets (issue 6): p95 < 100 ms; idle CPU well under 1% of a core. The supervisor's own cost and its
event latency are measured by bench/bench_monitor.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tui.fake_engine import NOW, FakeEngine, session

from trails.core.models import Mode, Status

STATUSES = [Status.RUNNING, Status.READY, Status.WAITING, Status.RUNNING, Status.ERROR, Status.READY]


class CapturedFeed:
    def __init__(self, callback: Any) -> None:
        self.callback = callback

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def sessions(count: int) -> list[Any]:
    modes = [Mode.WORKTREE, Mode.DIRECT, Mode.CONTAINER]
    return [session(f"s{i:02d}", STATUSES[i % len(STATUSES)], mode=modes[i % 3], age=60 * i, i=i)
            for i in range(count)]


async def latency(count: int, events: int, sort: str) -> list[float]:
    from trails.ui.tui.app import TrailsApp

    feeds: list[CapturedFeed] = []

    def factory(engine: Any, callback: Any, on_error: Any) -> CapturedFeed:
        feeds.append(CapturedFeed(callback))
        return feeds[-1]

    app = TrailsApp(FakeEngine(sessions(count)), clock=lambda: NOW, feed=factory, stats=False)
    samples: list[float] = []
    async with app.run_test(size=(160, 60)) as pilot:
        while not app.loaded.is_set() or not feeds:
            await pilot.pause(0.05)
        app.sort = sort
        app.refresh_view()
        await pilot.pause(0.2)
        done = asyncio.Event()
        app.repaint_listener = lambda name: done.set()
        for i in range(events):
            name = f"s{(i * 7) % count:02d}"
            status = STATUSES[(i + 1) % len(STATUSES)].value
            event = {"id": i + 1, "ts": time.time(), "session": name, "kind": "status",
                     "data": {"status": status, "previous": "", "reason": "bench", "needs_user": False}}
            done.clear()
            start = time.perf_counter()
            await asyncio.to_thread(feeds[0].callback, event)
            await asyncio.wait_for(done.wait(), 5)
            samples.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
    return samples


class LiveFeedEngine(FakeEngine):
    """Fixed sessions, but the event stream is a real trails server's (for the idle figure)."""

    def __init__(self, real: Any, count: int) -> None:
        super().__init__(sessions(count))
        self.real = real

    def subscribe_events(self, since: int | None = None, timeout: float | None = None) -> Any:
        return self.real.subscribe_events(since=since, timeout=timeout)


async def idle_cpu(count: int, seconds: float) -> float:
    from trails.api import types as t
    from trails.ui.tui.app import TrailsApp
    from trails.ui.tui.backend import ClientBackend

    real = ClientBackend()
    try:
        real.client.call(t.ServerStatusRequest(monitor=True))
        app = TrailsApp(LiveFeedEngine(real, count), stats=False)
        async with app.run_test(size=(160, 60)) as pilot:
            while not app.loaded.is_set():
                await pilot.pause(0.05)
            await asyncio.sleep(1.0)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(seconds)
            return (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    finally:
        real.client.stop_server()


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"{label:34} p50 {statistics.median(samples) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   "
          f"max {ordered[-1] * 1000:6.1f} ms   target p95 < 100 ms: {'ok' if p95 < 0.1 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trails-bench-tui-") as tmp:
        os.environ["TRAILS_HOME"] = str(Path(tmp) / "home")
        os.environ["TRAILS_TMUX_SOCKET"] = str(Path(tmp) / "tmux.sock")
        Path(os.environ["TRAILS_HOME"]).mkdir()
        print(f"dashboard with {args.sessions} sessions, {args.events} status events per case")
        report("status event → repaint (in place)", asyncio.run(latency(args.sessions, args.events, "name")))
        report("status event → repaint (reorder)", asyncio.run(latency(args.sessions, args.events, "status")))
        cpu = asyncio.run(idle_cpu(args.sessions, args.idle))
        print(f"{'idle CPU (real event feed)':34} {cpu * 100:6.2f}% of one core over {args.idle:.0f} s   "
              f"target < 1%: {'ok' if cpu < 0.01 else 'MISSED'}")


if __name__ == "__main__":
    main()
