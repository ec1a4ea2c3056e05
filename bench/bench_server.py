"""Many clients at once against one trails server (python bench/bench_server.py [--clients 20] [--rounds 3]).

Each client is a real `trails` command line (through the warm CLI server, as a user's shell runs it),
all started together: `new` (direct), `ls --json`, `show`, `send`, `output`, `events`, `kill`, in
every client at once, `--rounds` times. Prints the errors (there must be none) and the p50/p95 of
each command across all clients, against the same command run by one client alone in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

TRAILS = str(Path(sys.executable).parent / "trails")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trails-bench-srv-"))
    sock_dir = Path(tempfile.mkdtemp(prefix="tbs-"))
    home = root / "home"
    env = dict(os.environ, TRAILS_HOME=str(home), TRAILS_TMUX_SOCKET=str(sock_dir / "t.sock"))
    env.pop("TRAILS_SUPERVISOR", None)
    env.pop("TRAILS_SERVER", None)
    times: dict[str, list[float]] = defaultdict(list)
    alone: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lock = threading.Lock()

    def script(name: str) -> list[tuple[str, list[str]]]:
        return [("new", ["new", name, "cat", "--mode", "direct"]), ("ls", ["ls", "--json"]),
                ("show", ["show", name, "--json"]), ("send", ["send", name, f"hello {name}"]),
                ("output", ["output", name, "--lines", "5"]), ("events", ["events", "--limit", "5", "--json"]),
                ("kill", ["kill", name])]

    def one(name: str, into: dict[str, list[float]], barrier: threading.Barrier | None) -> None:
        place = root / "places" / name
        place.mkdir(parents=True)
        for label, argv in script(name):
            if barrier is not None:
                barrier.wait(timeout=120)  # every client issues the same command at the same moment
            began = time.perf_counter()
            res = subprocess.run([TRAILS, *argv], cwd=place, env=env, capture_output=True, text=True, check=False)
            took = time.perf_counter() - began
            with lock:
                into[label].append(took)
                if res.returncode != 0:
                    errors.append(f"{name} {' '.join(argv)}: exit {res.returncode}: {res.stderr.strip()[:200]}")

    try:
        subprocess.run([TRAILS, "server"], env=env, check=True, capture_output=True)
        subprocess.run([TRAILS, "ls"], env=env, check=True, capture_output=True)  # the warm CLI server too
        time.sleep(2)
        for r in range(args.rounds):
            one(f"solo{r}", alone, None)
            barrier = threading.Barrier(args.clients)
            threads = [threading.Thread(target=one, args=(f"c{r}-{i}", times, barrier))
                       for i in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        pid = int((home / "server.lock").read_text())
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
        print(f"{args.clients} clients at once, {args.rounds} rounds: {len(errors)} errors; server RSS "
              f"{rss / 1024:.1f} MB")
        for message in errors[:10]:
            print(f"  {message}")
        for label, _ in script("x"):
            values, solo = times[label], alone[label]
            p50, p95 = statistics.median(values) * 1000, quantile(values, 0.95) * 1000
            print(f"  {label:7} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms   "
                  f"(one client alone: p50 {statistics.median(solo) * 1000:6.1f} ms)")
    finally:
        subprocess.run([TRAILS, "server", "--stop"], env=env, capture_output=True, check=False)
        pid_text = (home / "cli.lock").read_text() if (home / "cli.lock").exists() else ""
        if pid_text.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_text), signal.SIGTERM)
        subprocess.run(["tmux", "-S", str(sock_dir / "t.sock"), "kill-server"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
