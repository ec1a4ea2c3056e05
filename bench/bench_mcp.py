"""trails' MCP tools: round trips and message delivery, in one run (python bench/bench_mcp.py [--sessions 50]).

Over a trails server watching `--sessions` live sessions of one repository (cheap command agents):
1. Tool call round trip (`list_claims` and `query_sessions`, as one session's agent): through
   `trails mcp` over stdio and through the web server's /mcp over Streamable HTTP, each with the
   SDK's own ClientSession (the 2025-11-25 handshake, what agents speak), and over HTTP with the
   SDK's Client too (`http 2026`: it speaks 2026-07-28 to a server that does), against the floor
   of the same request as a plain trails.api Client call with the same credential. They alternate
   call by call. Target: p95 < 20 ms. Then `query_sessions` with stats=true (git for every session's
   worktree), `--stats-calls` times over stdio against the same floor.
2. Delivery: agent_message (over HTTP) to a `ready` agent until the line appears in what its pane
   types into it (the echo agent logs each line it reads), against the floor of the same line typed
   into the pane with tmux send-keys. Target: < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import anyio  # noqa: E402
import httpx2  # noqa: E402
from mcp.client.client import Client as McpClient  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402
from tests.helpers import SessionRef, agent_env, make_repo, wait_until  # noqa: E402

from mcp import ClientSession  # noqa: E402

ECHO_AGENT = ROOT / "tests" / "core" / "echo_agent.py"
TRAILS = [sys.executable, "-m", "trails"]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def ms(values: list[float]) -> str:
    return f"p50 {quantile(values, 0.5) * 1000:.1f} ms, p95 {quantile(values, 0.95) * 1000:.1f} ms"


def start_web(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([*TRAILS, "web", "--port", "0"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[2]
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    return proc, url.split("/?token=")[0]


async def until(condition: Callable[[], object], interval: float, what: str) -> None:
    await anyio.to_thread.run_sync(lambda: wait_until(condition, timeout=20, interval=interval, message=what))


async def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


def tool_ok(result: Any) -> Any:
    if result.is_error:
        raise SystemExit(f"tool failed: {result.content}")
    return json.loads("".join(getattr(c, "text", "") for c in result.content))


async def round_trips(env: dict[str, str], repo: Path, base: str, token: str, calls: int, stats_calls: int) -> None:
    from trails.api import types as t
    from trails.api.caller import Caller
    from trails.api.client import Client

    floor_client = Client(Path(env["TRAILS_HOME"]), local=False,
                          caller=Caller(cwd=str(repo), env={}, credential=token))
    params = StdioServerParameters(command=sys.executable, args=["-m", "trails", "mcp"], cwd=str(repo),
                                   env={**env, "TRAILS_MCP_TOKEN": token})
    ops: dict[str, tuple[t.Request[Any], dict[str, Any]]] = {
        "list_claims": (t.ListClaims(), {}), "query_sessions": (t.QuerySessions(), {})}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as stdio, \
            create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30)) as http, \
            streamable_http_client(f"{base}/mcp", http_client=http) as (hread, hwrite), \
            ClientSession(hread, hwrite) as over_http, \
            create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30)) as http2, \
            McpClient(streamable_http_client(f"{base}/mcp", http_client=http2), cache=None) as modern:
        await stdio.initialize()
        await over_http.initialize()
        for tool, (request, arguments) in ops.items():
            found = {"floor": [], "stdio": [], "http": [], "http 2026": []}  # type: dict[str, list[float]]
            for i in range(calls + 10):  # the first 10 warm up
                async def floor(request: t.Request[Any] = request) -> None:
                    floor_client.call(request)

                async def by_stdio(tool: str = tool, arguments: dict[str, Any] = arguments) -> None:
                    tool_ok(await stdio.call_tool(tool, arguments))

                async def by_http(tool: str = tool, arguments: dict[str, Any] = arguments) -> None:
                    tool_ok(await over_http.call_tool(tool, arguments))

                async def by_modern(tool: str = tool, arguments: dict[str, Any] = arguments) -> None:
                    tool_ok(await modern.call_tool(tool, arguments))

                for name, fn in (("floor", floor), ("stdio", by_stdio), ("http", by_http), ("http 2026", by_modern)):
                    took = await timed(fn)
                    if i >= 10:
                        found[name].append(took)
            f95 = quantile(found["floor"], 0.95)
            print(f"{tool}, {calls} calls each: floor (trails.api Client) {ms(found['floor'])}")
            for name in ("stdio", "http", "http 2026"):
                p95 = quantile(found[name], 0.95)
                print(f"  over {name:9}: {ms(found[name])} (target p95 < 20 ms: {'OK' if p95 < 0.02 else 'MISSED'});"
                      f" p95 {p95 / f95:.1f}x the floor, {(p95 - f95) * 1000:+.1f} ms")
        async def floor_stats() -> None:
            floor_client.call(t.QuerySessions(stats=True))

        async def stdio_stats() -> None:
            tool_ok(await stdio.call_tool("query_sessions", {"stats": True}))

        stats: dict[str, list[float]] = {"floor": [], "stdio": []}
        if not stats_calls:
            return
        for i in range(stats_calls + 1):  # the first warms up
            took = (await timed(floor_stats), await timed(stdio_stats))
            if i:
                stats["floor"].append(took[0])
                stats["stdio"].append(took[1])
        f95, s95 = quantile(stats["floor"], 0.95), quantile(stats["stdio"], 0.95)
        print(f"query_sessions stats=true, {stats_calls} calls each: floor (trails.api Client) {ms(stats['floor'])};"
              f" over stdio {ms(stats['stdio'])}; p95 {s95 / f95:.1f}x the floor, {(s95 - f95) * 1000:+.1f} ms")


async def delivery(env: dict[str, str], base: str, socket: Path, tokens: list[str], target: SessionRef,
                   log: Path, samples: int) -> None:
    from trails.api import types as t
    from trails.api.client import Client

    client = Client(Path(env["TRAILS_HOME"]), local=False)

    def ready() -> bool:
        return client.call(t.Get(name=target.name)).status == "ready"

    def seen(text: str) -> bool:
        return log.exists() and text in log.read_text()

    latencies: list[float] = []
    floors: list[float] = []
    for i in range(samples):
        sender = tokens[i % len(tokens)]  # a session sends at most 30 messages a minute: many senders
        async with create_mcp_http_client(headers={"Authorization": f"Bearer {sender}"},
                                          timeout=httpx2.Timeout(30)) as http, \
                streamable_http_client(f"{base}/mcp", http_client=http) as (read, write), \
                ClientSession(read, write) as agent:
            await agent.initialize()
            await until(ready, 0.01, "the target to be ready")
            marker = f"bench message {i}"
            start = time.perf_counter()
            tool_ok(await agent.call_tool("agent_message", {"to": target.name, "text": marker}))
            await until(lambda marker=marker: seen(marker), 0.002, "the message typed")
            latencies.append(time.perf_counter() - start)
        # the floor: the same kind of line typed into the pane by tmux itself
        await until(ready, 0.01, "the target to be ready")
        marker = f"floor line {i}"
        start = time.perf_counter()
        subprocess.run(["tmux", "-S", str(socket), "send-keys", "-t", f"={target.tmux}:", "-l", marker], check=True)
        subprocess.run(["tmux", "-S", str(socket), "send-keys", "-t", f"={target.tmux}:", "Enter"], check=True)
        await until(lambda marker=marker: seen(marker), 0.002, "the floor line")
        floors.append(time.perf_counter() - start)
    p95 = quantile(latencies, 0.95)
    print(f"delivery to a ready agent (agent_message over HTTP → the line read by the agent), {samples} messages: "
          f"{ms(latencies)}, max {max(latencies) * 1000:.0f} ms (target < 1 s: "
          f"{'OK' if max(latencies) < 1 else 'MISSED'}); floor (tmux send-keys of a line) {ms(floors)}; "
          f"p95 {(p95 - quantile(floors, 0.95)) * 1000:+.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--calls", type=int, default=200, help="tool calls per transport and tool")
    parser.add_argument("--messages", type=int, default=20, help="delivery samples")
    parser.add_argument("--stats-calls", type=int, default=10, help="query_sessions calls with stats=true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="trails-bench-mcp-"))
    home = tmp / "home"
    home.mkdir()
    gitconfig = tmp / "gitconfig"
    gitconfig.write_text("[user]\n\tname = bench\n\temail = bench@example.com\n")
    socket = tmp / "tmux.sock"
    env = {**os.environ, "TRAILS_HOME": str(home), "TRAILS_TMUX_SOCKET": str(socket), "TRAILS_WARM": "off",
           "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    env.pop("TRAILS_SUPERVISOR", None)  # statuses (ready) come from the supervisor's watch
    os.environ.update(env)
    (home / "settings.json").write_text(json.dumps({"detection": {"command": {"quiet_seconds": 0.25}},
                                                        "max_worktrees": args.sessions + 5}))
    repo = make_repo(tmp / "repo")

    from trails.api import types as t
    from trails.api.caller import Caller
    from trails.api.client import Client

    client = Client(home, local=False, caller=Caller(cwd=str(repo), env=env))
    web: subprocess.Popen[str] | None = None
    try:
        client.call(t.ServerStatusRequest(monitor=True))
        log = tmp / "target.log"
        refs = []
        for i in range(args.sessions - 1):
            made = client.call(t.Create(name=f"s{i}", agent="cat", mode="worktree", cwd=str(repo)))
            refs.append(SessionRef(made.session.name, made.session.tmux_session))
        made = client.call(t.Create(name="target", agent=f"{sys.executable} {ECHO_AGENT}", mode="worktree",
                                    cwd=str(repo), env={"ECHO_LOG": str(log)}))
        target = SessionRef("target", made.session.tmux_session)
        tokens = [wait_until(lambda ref=ref: agent_env(socket, ref).get("TRAILS_MCP_TOKEN"), timeout=30,
                             message="a credential") for ref in refs]
        live = len(client.call(t.ListSessions()).sessions)
        print(f"{live} live sessions")
        web, base = start_web(env, repo)
        anyio.run(round_trips, env, repo, base, tokens[0], args.calls, args.stats_calls)
        anyio.run(delivery, env, base, socket, tokens, target, log, args.messages)
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)
        client.stop_server()
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)


if __name__ == "__main__":
    main()
