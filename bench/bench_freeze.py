"""Idle agents that cost nothing (python bench/bench_freeze.py [--sessions 20]).

N real Claude Code sessions (the pinned CLI of tests/agents, against the suite's scripted local API)
sit idle at their prompt, watched by the trails server.

1. CPU: the agents' total CPU (every process below their panes) over a window, with freezing off,
   then with `idle_freeze_after` on once all are frozen. Target: on < 2 % of one core in total.
2. Latency: a send (the server's `send`: typed, echoed, submitted) to a frozen agent, against a send
   to the same agent once it has answered the first and is at its prompt again, thawed (the other
   agents frozen alike): one pair per session. Target: frozen adds < 150 ms at the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.anthropic_server import ScriptedAnthropicServer
from tests.fakes.claude_env import claude_bin, make_claude_env
from tests.helpers import wait_until

FREEZE_AFTER = 8  # seconds: long enough for the second send of a pair to reach the agent not yet frozen again


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--window", type=float, default=10.0, help="seconds of CPU measurement")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds idle before measuring")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="trails-bench-freeze-"))
    home, work = tmp / "home", tmp / "work"
    home.mkdir()
    work.mkdir()
    os.environ["TRAILS_HOME"] = str(home)
    os.environ["TRAILS_TMUX_SOCKET"] = str(tmp / "tmux.sock")
    os.environ.pop("TRAILS_SUPERVISOR", None)
    from trails.api import types as t
    from trails.api.client import Client
    from trails.core import freeze
    from trails.core.engine import Engine

    with ScriptedAnthropicServer() as api:
        for key in [k for k in os.environ if k.startswith(("ANTHROPIC_", "CLAUDE_"))]:
            del os.environ[key]
        os.environ.update(make_claude_env(tmp, api.base_url, trusted_dirs=[work]))
        engine = Engine()  # reads the state and the panes, as a user could
        client = Client(home, local=False)
        names = [f"c{i}" for i in range(args.sessions)]

        def agents_cpu() -> float:
            """CPU seconds used so far by every process below the sessions' panes."""
            panes = engine.tmux.list_panes()
            ticks = 0
            for name in names:
                pane = panes.get(engine.store.get_session(name).tmux_session)
                if pane is not None and pane.pid:
                    ticks += sum(st[2] for st in freeze.process_tree(pane.pid).values())
            return ticks / os.sysconf("SC_CLK_TCK")

        def cpu_over(window: float) -> float:
            c0, t0 = agents_cpu(), time.monotonic()
            time.sleep(window)
            return (agents_cpu() - c0) / (time.monotonic() - t0)

        def send_time(name: str, i: int) -> float:
            start = time.monotonic()
            client.call(t.Send(name=name, text=f"hello {i}"))
            return time.monotonic() - start

        def all_status(status: str) -> bool:
            return all(engine.store.get_session(n).status.value == status for n in names)

        try:
            started = time.monotonic()
            for name in names:
                client.call(t.Create(name=name, agent=str(claude_bin()), cwd=str(work), mode="direct"))
            wait_until(lambda: all_status("ready"), timeout=300, message="every claude at its prompt")
            print(f"{args.sessions} claude sessions ready in {time.monotonic() - started:.0f}s", flush=True)
            time.sleep(args.settle)
            off = cpu_over(args.window)

            (home / "settings.json").write_text(json.dumps({"idle_freeze_after": FREEZE_AFTER}))
            client.stop_server()  # the next call starts it again, with the setting
            client.call(t.Ping())
            wait_until(lambda: all(engine.store.get_session(n).extra.get("frozen") for n in names), timeout=120,
                       message="all frozen")
            on = cpu_over(args.window)
            cold, warm = [], []
            for i, name in enumerate(names):
                cold.append(send_time(name, 2 * i))  # thaws it first
                wait_until(lambda name=name: engine.store.get_session(name).status.value == "ready"  # type: ignore[misc]
                           and not engine.store.get_session(name).extra.get("frozen"), timeout=30, message="the answer")
                warm.append(send_time(name, 2 * i + 1))  # the same agent at its prompt, not frozen
            added = statistics.median(cold) - statistics.median(warm)
            print(f"idle CPU of {args.sessions} claude agents: freezing off {off * 100:.2f}% of one core, "
                  f"on {on * 100:.3f}% (target < 2%: {'OK' if on < 0.02 else 'MISSED'})")
            print(f"send to an idle agent, {len(names)} pairs: not frozen p50 {statistics.median(warm) * 1000:.0f} ms, "
                  f"frozen p50 {statistics.median(cold) * 1000:.0f} ms, max {max(cold) * 1000:.0f} ms; "
                  f"freezing adds {added * 1000:.0f} ms at the median (target < 150 ms: "
                  f"{'OK' if added < 0.15 else 'MISSED'})")
        finally:
            client.stop_server()
            subprocess.run(["tmux", "-S", str(engine.tmux.socket), "kill-server"], capture_output=True, check=False)
            engine.close()


if __name__ == "__main__":
    main()
