"""The web server's terminal latency and idle cost (python bench/bench_web.py [--sessions 100] [--keys 200]).

Starts `trails web` (its own process, on a free port) over a trails server watching `--sessions`
live sessions of `cat`, with one page's worth of sockets open: the event stream and one session's
terminal. Then:
- idle CPU of the web server's process (and of the trails server's) over `--idle` seconds;
- keystroke → echo: a key sent as a terminal WebSocket input frame until its echo arrives as an
  output frame, against the floor of the same key through tmux alone (a `tmux -C` client of the same
  pane: `send-keys -H`, until its `%output`), the two alternated key by key. Targets: idle < 1 % of a
  core; the web's echo p95 within 20 ms of tmux's.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

TRAILS = [sys.executable, "-m", "trails"]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_web(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen([*TRAILS, "web", "--port", "0"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stdout is not None
    first = proc.stdout.readline().split()
    url = first[2]
    threading.Thread(target=lambda: proc.stdout and proc.stdout.read(), daemon=True).start()
    base, token = url.split("/?token=")
    return proc, base, token


class TmuxFloor:
    """A control-mode client of the pane: a key in, its %output back, nothing else in between."""

    def __init__(self, socket_path: str, target: str) -> None:
        self.proc = subprocess.Popen(["tmux", "-S", socket_path, "-C", "attach-session", "-r", "-f", "ignore-size",
                                      "-t", f"={target}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.target = target
        self.lines: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        threading.Thread(target=lambda: [self.lines.put(ln) for ln in self.proc.stdout or ()], daemon=True).start()

    def key(self, char: str, timeout: float = 5.0) -> float:
        assert self.proc.stdin is not None
        start = time.perf_counter()
        self.proc.stdin.write(f"send-keys -t '={self.target}:' -H {ord(char):02x}\n".encode())
        self.proc.stdin.flush()
        deadline = start + timeout
        while time.perf_counter() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if line.startswith(b"%output ") and char.encode() in line.split(b" ", 2)[-1]:
                return time.perf_counter() - start
        raise TimeoutError(f"tmux never echoed {char!r}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trails-bench-web-"))
    sock_dir = Path(tempfile.mkdtemp(prefix="tbw-"))
    tmux_socket = str(sock_dir / "t.sock")
    env = dict(os.environ, TRAILS_HOME=str(root / "home"), TRAILS_TMUX_SOCKET=tmux_socket)
    for var in ("TRAILS_SUPERVISOR", "TRAILS_SERVER"):
        env.pop(var, None)
    place = root / "place"
    place.mkdir()
    web, base, token = start_web(env, place)
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}", "X-Trails-CSRF": "1"}, timeout=120)
    floor: TmuxFloor | None = None
    try:
        made = time.perf_counter()
        for i in range(args.sessions):
            res = api.post("/api/sessions", json={"name": f"s{i:03d}", "agent": "cat", "mode": "direct"})
            assert res.status_code == 200, res.text
        print(f"{args.sessions} sessions made in {time.perf_counter() - made:.1f}s")
        server_pid = int((root / "home" / "server.lock").read_text())
        ws_url = base.replace("http://", "ws://")
        headers = {"Authorization": f"Bearer {token}"}
        with connect(f"{ws_url}/api/events?since=0", additional_headers=headers) as events, \
                connect(f"{ws_url}/api/sessions/s000/terminal?cols=100&rows=30", additional_headers=headers) as term:
            drained: queue.SimpleQueue[str] = queue.SimpleQueue()
            stop = threading.Event()

            def drain_events() -> None:
                while not stop.is_set():
                    try:
                        drained.put(events.recv(timeout=0.5))
                    except TimeoutError:
                        continue
                    except Exception:
                        return

            threading.Thread(target=drain_events, daemon=True).start()
            while True:  # the repaint and the first size: then the terminal is quiet
                try:
                    term.recv(timeout=1.0)
                except TimeoutError:
                    break
            time.sleep(2)  # statuses settle
            web_cpu, srv_cpu, t0 = cpu_seconds(web.pid), cpu_seconds(server_pid), time.perf_counter()
            time.sleep(args.idle)
            wall = time.perf_counter() - t0
            web_idle = 100 * (cpu_seconds(web.pid) - web_cpu) / wall
            srv_idle = 100 * (cpu_seconds(server_pid) - srv_cpu) / wall
            print(f"idle, {args.sessions} sessions, one page open: web server {web_idle:.2f} % of a core "
                  f"(target < 1 %), trails server {srv_idle:.2f} %")

            floor = TmuxFloor(tmux_socket, "trails-s000")
            time.sleep(0.5)
            web_times: list[float] = []
            tmux_times: list[float] = []
            letters = "abcdefghijklmnopqrstuvwxyz"
            for i in range(args.keys):
                char = letters[i % len(letters)]
                start = time.perf_counter()
                term.send(json.dumps({"type": "input", "data": char}))
                while True:
                    frame = json.loads(term.recv(timeout=5))
                    if frame["type"] == "output" and char in base64.b64decode(frame["data"]).decode(errors="replace"):
                        break
                web_times.append(time.perf_counter() - start)
                tmux_times.append(floor.key(char.upper()))
                if i % 40 == 39:  # a fresh line now and then, so the pane never wraps
                    term.send(json.dumps({"type": "input", "data": "\r"}))
                    time.sleep(0.05)
                    while True:
                        try:
                            term.recv(timeout=0.2)
                        except TimeoutError:
                            break
            stop.set()
        ms = 1000.0
        w50, w95 = quantile(web_times, 0.5) * ms, quantile(web_times, 0.95) * ms
        t50, t95 = quantile(tmux_times, 0.5) * ms, quantile(tmux_times, 0.95) * ms
        print(f"keystroke → echo over {args.keys} keys: web terminal p50 {w50:.1f} ms, p95 {w95:.1f} ms; "
              f"tmux alone p50 {t50:.1f} ms, p95 {t95:.1f} ms; p95 difference {w95 - t95:+.1f} ms (target ≤ 20 ms)")
    finally:
        if floor is not None:
            floor.close()
        api.close()
        os.killpg(web.pid, signal.SIGINT)
        web.wait(20)
        subprocess.run([*TRAILS, "server", "--stop"], env=env, capture_output=True, check=False)
        subprocess.run(["tmux", "-S", tmux_socket, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
