"""A soak of the trails server (python bench/soak.py [--sessions 50] [--minutes 30]); not in CI's default run:
tests/soak/test_soak.py runs a 2-minute version of it in `./dev test`.

N sessions of a small scripted agent that prints bursts, goes quiet, asks yes/no questions (answered
by the soak, or not) and exits at random (the soak resumes it), watched by two subscribers of the
server's event stream, the second reconnecting half way with `since`. After the first minute and at
the end the agents are made quiet and the soak measures the server: RSS (within 10 %), CPU (< 2 % of
a core), open file descriptors (no more at the end), tmux panes (one per live session); at the end,
every stored status event is in each subscriber's stream exactly once and in order. Exits 1 when an
invariant fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

AGENT = r'''
import os, random, select, sys, time
rng, flag = random.Random(int(sys.argv[1])), sys.argv[2]
CLEAR = "\033[2J\033[H"
def line(seconds):
    ready, _, _ = select.select([sys.stdin], [], [], seconds)
    return sys.stdin.readline() if ready else None
print("soak agent ready", flush=True)
idle = False
while True:
    if os.path.exists(flag):
        if not idle:
            print(CLEAR + "soak agent idle", flush=True)
            idle = True
        line(1.0)
        continue
    idle = False
    roll = rng.random()
    if roll < 0.4:
        for i in range(rng.randint(5, 30)):
            print(f"working {i} " + "x" * rng.randint(0, 60), flush=True)
            time.sleep(0.05)
    elif roll < 0.7:
        line(rng.uniform(2, 6))
    elif roll < 0.95:
        print(CLEAR + "Apply this change? (y/n)", flush=True)
        answer = line(rng.uniform(3, 10))
        print(CLEAR + f"answer: {answer!r}", flush=True)
    else:
        sys.exit(rng.choice([0, 1]))
'''


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    return next(int(ln.split()[1]) for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                if ln.startswith("VmRSS:"))


def fewest_fds(pid: int, reads: int = 5) -> int:
    """The fewest open descriptors over two seconds (a connection the server is still closing is no
    leak), leaving out those on the state database: SQLite keeps a closed connection's descriptor on
    it open while another connection of the process holds locks there, and reuses it for the next."""
    counts = []
    for _ in range(reads):
        count = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue  # closed meanwhile
            count += not Path(target).name.startswith("state.db")
        counts.append(count)
        time.sleep(0.4)
    return min(counts)


def wait(cond, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class Sample:
    rss_kb: int
    cpu: float  # share of one core, agents quiet
    fds: int
    panes: int
    live: int


@dataclass
class Report:
    sessions: int
    seconds: float
    first: Sample
    last: Sample
    status_events: int
    resumed: int
    answered: int
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        f, la = self.first, self.last
        return [
            f"soak: {self.sessions} sessions for {self.seconds / 60:.1f} min, {self.status_events} status events, "
            f"{self.resumed} resumes, {self.answered} questions answered",
            f"server RSS after the first minute {f.rss_kb / 1024:.1f} MB, at the end {la.rss_kb / 1024:.1f} MB "
            f"({(la.rss_kb - f.rss_kb) / f.rss_kb * 100:+.1f} %)",
            f"server CPU with the agents quiet: {f.cpu * 100:.2f} % then {la.cpu * 100:.2f} % of one core",
            f"server fds {f.fds} then {la.fds}; tmux panes {f.panes}/{f.live} live then {la.panes}/{la.live} live",
            *(f"FAILED: {p}" for p in self.problems),
        ]


class Subscriber:
    """The server's event stream in a thread; `reconnect()` ends it and goes on from the last id seen."""

    def __init__(self, client, name: str) -> None:  # type: ignore[no-untyped-def]
        self.client, self.name = client, name
        self.ids: list[int] = []
        self.leave = threading.Event()
        self.thread = self._start(0)

    def _start(self, since: int) -> threading.Thread:
        def read() -> None:
            for event in self.client.subscribe(since=since):
                if event.kind == "status":
                    self.ids.append(event.id)
                self.last = event.id
                if self.leave.is_set():
                    return

        self.last = since
        thread = threading.Thread(target=read, name=f"soak-{self.name}", daemon=True)
        thread.start()
        return thread

    def reconnect(self, poke) -> None:  # type: ignore[no-untyped-def]
        self.leave.set()
        while self.thread.is_alive():
            poke()  # an event, so the reader sees the flag
            self.thread.join(1.0)
        self.leave.clear()
        self.thread = self._start(self.last)


def run(sessions: int = 50, seconds: float = 1800, warmup: float = 60, seed: int = 1,
        log=print, base: Path | None = None) -> Report:  # type: ignore[no-untyped-def]
    """The soak, in a new directory under `base` (the system's temporary directory by default; keep
    it short: the tmux socket's path must fit a Unix socket's)."""
    tmp = Path(tempfile.mkdtemp(prefix="trails-soak-", dir=base))
    home = tmp / "home"
    home.mkdir()
    os.environ["TRAILS_HOME"] = str(home)
    os.environ["TRAILS_TMUX_SOCKET"] = str(tmp / "tmux.sock")
    os.environ.pop("TRAILS_SUPERVISOR", None)
    (home / "settings.json").write_text(json.dumps({"detection": {"command": {
        "quiet_seconds": 1.0, "prompts": {"question": [r"\? \(y/n\)"]}}}}))
    script, flag = tmp / "agent.py", tmp / "quiet"
    script.write_text(AGENT)
    from trails.api import types as t
    from trails.api.client import Client
    from trails.core.errors import SessionStateError

    client = Client(home, local=False)
    rng = random.Random(seed)
    names = [f"soak{i}" for i in range(sessions)]
    resumed = answered = 0
    problems: list[str] = []
    try:
        pid = client.call(t.ServerStatusRequest(monitor=True)).pid
        assert pid is not None
        subs = [Subscriber(Client(home, local=False), "a"), Subscriber(Client(home, local=False), "b")]
        for i, name in enumerate(names):
            client.call(t.Create(name=name, agent=f"{sys.executable} {script} {seed * 1000 + i} {flag}",
                                 cwd=str(tmp), mode="direct"))

        def statuses() -> dict[str, str]:
            return {s.name: s.status.value for s in client.call(t.ListSessions(include_ended=True)).sessions}

        def chaos(until: float) -> None:
            nonlocal resumed, answered
            while time.monotonic() < until:
                for name, status in statuses().items():
                    try:  # the agent may exit (or be resumed) between the listing and the call
                        if status in ("completed", "error"):
                            client.call(t.Resume(name=name))
                            resumed += 1
                        elif status == "waiting" and rng.random() < 0.5:
                            client.call(t.Send(name=name, text=rng.choice(["y", "n"])))
                            answered += 1
                    except SessionStateError:
                        pass
                time.sleep(1.0)

        def quiet_sample() -> Sample:
            flag.touch()
            def restart() -> bool:
                nonlocal resumed
                now = statuses()
                for name, status in now.items():
                    if status in ("completed", "error"):
                        with contextlib.suppress(SessionStateError):
                            client.call(t.Resume(name=name))
                            resumed += 1
                return set(now.values()) == {"ready"}

            wait(restart, 180, "every session ready and quiet")
            time.sleep(2.0)
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(10.0)
            cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
            panes = subprocess.run(["tmux", "-S", os.environ["TRAILS_TMUX_SOCKET"], "list-panes", "-a"],
                                   capture_output=True, text=True, check=False).stdout.splitlines()
            live = sum(1 for s in statuses().values() if s in ("ready", "running", "waiting", "loading"))
            sample = Sample(rss_kb(pid), cpu, fewest_fds(pid), len(panes), live)
            flag.unlink()
            return sample

        start = time.monotonic()
        chaos(start + warmup)
        first = quiet_sample()
        log(f"after {warmup:.0f} s: {first}")
        rest = max(0.0, seconds - (time.monotonic() - start))
        chaos(time.monotonic() + rest / 2)
        subs[1].reconnect(lambda: client.call(t.AutoYes(name=names[0], on=False)))
        chaos(time.monotonic() + rest / 2)
        last = quiet_sample()
        elapsed = time.monotonic() - start

        stored = [e.id for e in client.call(t.Events(since=0)).events if e.kind == "status"]
        wait(lambda: all(s.ids and s.ids[-1] >= stored[-1] for s in subs), 30, "the subscribers to catch up")
        for s in subs:
            seen = [i for i in s.ids if i <= stored[-1]]  # the agents went on after the last sample
            if seen != stored:
                dup = len(seen) - len(set(seen))
                problems.append(f"subscriber {s.name}: {len(seen)} status events ({dup} duplicated, "
                                f"{len(set(stored) - set(seen))} missing, in order: {seen == sorted(seen)}) "
                                f"against {len(stored)} stored")
        if last.rss_kb > first.rss_kb * 1.10:
            problems.append(f"RSS grew {first.rss_kb} → {last.rss_kb} kB (more than 10 %)")
        for when, sample in (("first", first), ("last", last)):
            if sample.cpu >= 0.02:
                problems.append(f"CPU with the agents quiet ({when}): {sample.cpu * 100:.2f} % of a core")
            if sample.panes != sample.live:
                problems.append(f"tmux panes {sample.panes} != live sessions {sample.live} ({when})")
        if last.fds > first.fds:
            problems.append(f"server file descriptors {first.fds} → {last.fds}")
        return Report(sessions, elapsed, first, last, len(stored), resumed, answered, problems)
    finally:
        client.stop_server()
        subprocess.run(["tmux", "-S", os.environ["TRAILS_TMUX_SOCKET"], "kill-server"], capture_output=True,
                       check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the first sample")
    args = parser.parse_args()
    report = run(args.sessions, args.minutes * 60, args.warmup)
    print("\n".join(report.lines()))
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
