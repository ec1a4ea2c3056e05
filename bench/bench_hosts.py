"""Remote hosts over SSH, in one run (sudo python bench/bench_hosts.py [--sessions 20] [--rounds 9] [--samples 40]).

Needs root: like tests/remote, it starts a real sshd on a loopback port and logs in, with a key made for
the run, as a second local user whose home holds the "remote" trails (tests.remote.conftest does it).

1. `trails ls --json` with N local and N remote sessions, through the warm CLI server and from a cold
   client (target < 200 ms warm), against the same command with the host file moved aside (only the N
   local sessions: what listing the host adds), a bare `ssh` channel over the host's master connection
   running `true` there, and the host's list asked over a channel and `trails server --stdio` relay of
   its own (what a command would pay without the connection the trails server keeps to each host).
2. A remote status change reaching a local subscriber: the same `running` status event, timestamped by
   a subscriber on the remote machine (on its own server's socket) and by one on the local server's
   socket (through the follower over ssh): the local one's lag behind the remote one is what the link
   adds (target p95 < 150 ms on loopback). Both run on this machine: one clock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

TRAILS = str(Path(sys.executable).parent / "trails")
AGENT = "sh -c 'echo idle agent ready; exec cat'"
SUBSCRIBER = ("import sys, time\nfrom trails.api.client import Client\n"
              "for e in Client(local=False).subscribe():\n"
              "    print(json.dumps([e.id, e.kind, e.session, e.data.get('status'), time.time()]), flush=True)\n")


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr}")
    return took


def wait(cond, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    if os.getuid() != 0:
        raise SystemExit("bench_hosts needs root (it adds a user and runs sshd), as tests/remote do")
    if not Path(TRAILS).exists():
        raise SystemExit(f"{TRAILS} not found: install trails into this interpreter (./dev run --version)")

    tmp = Path(tempfile.mkdtemp(prefix="trails-bench-hosts-"))
    home, repo = tmp / "home", tmp / "repo"
    home.mkdir()
    sock_dir = Path(tempfile.mkdtemp(prefix="tbh-"))
    env = dict(os.environ, TRAILS_HOME=str(home), TRAILS_TMUX_SOCKET=str(sock_dir / "tmux.sock"),
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.pop("TRAILS_SUPERVISOR", None)
    os.environ.update(env)  # this process's own clients (and tests.remote's helpers) use the same home
    from tests.helpers import make_repo
    from tests.remote.conftest import running_sshd

    from trails.api import types as t
    from trails.api.client import Client
    from trails.api.remote import RemoteClient, ssh_argv
    from trails.core import hosts

    make_repo(repo)
    client = Client(home, local=False)
    with running_sshd(tmp, home) as sshd:
        remote_trails = shlex.split(sshd.command)
        there = sshd.home / "repo"
        sshd.run_as("git", "init", "-q", "-b", "main", str(there))
        sshd.run_as("sh", "-c", "echo hello > README.md && git add -A && git commit -q -m initial", cwd=there)
        settings = sshd.home / ".trails" / "settings.json"  # a quick quiet rule: running/ready alternate fast
        sshd.run_as("mkdir", "-p", str(settings.parent))
        sshd.run_as("sh", "-c", f"echo {shlex.quote(json.dumps({'detection': {'command': {'quiet_seconds': 0.25}}}))}"
                                f" > {shlex.quote(str(settings))}")
        subprocess.run([TRAILS, *sshd.add_host()], env=env, cwd=repo, check=True, capture_output=True)
        client.call(t.ServerStatusRequest(monitor=True))
        made = time.perf_counter()
        for i in range(args.sessions):
            client.call(t.Create(name=f"l{i}", agent=AGENT, mode="direct", cwd=str(repo)))
        with RemoteClient("box", cwd="repo").connection() as box:
            for i in range(args.sessions):
                box.call(t.Create(name=f"r{i}", agent=AGENT, mode="direct"))
        print(f"{args.sessions} local and {args.sessions} remote sessions made in {time.perf_counter() - made:.1f}s")
        listed = client.call(t.ListSessions(hosts=True))
        assert isinstance(listed.hosts, dict) and len(listed.hosts["box"].sessions) == args.sessions, listed.hosts

        # --- 1. ls ---------------------------------------------------------------------------------
        warm, cold = dict(env, TRAILS_WARM="on"), dict(env, TRAILS_WARM="off")
        timed([TRAILS, "ls", "--json"], warm, repo)  # starts the warm CLI server
        time.sleep(1.0)
        host = hosts.get("box")
        channel = [*ssh_argv("box", host), "--", "true"]
        got: dict[str, list[float]] = {k: [] for k in ("warm", "cold", "warm local", "cold local", "ssh", "own")}

        def own_channel() -> float:  # the host's sessions over a channel and relay of their own
            start = time.perf_counter()
            RemoteClient("box").call(t.ListSessions())
            return time.perf_counter() - start

        for _ in range(2):
            timed([TRAILS, "ls", "--json"], warm, repo)
        for _ in range(args.rounds):
            got["warm"].append(timed([TRAILS, "ls", "--json"], warm, repo))
            got["cold"].append(timed([TRAILS, "ls", "--json"], cold, repo))
            got["ssh"].append(timed(channel, env, repo))
            got["own"].append(own_channel())
        hosts_file = home / "hosts.json"
        hosts_file.rename(home / "hosts.json.aside")
        try:
            for _ in range(args.rounds):
                got["warm local"].append(timed([TRAILS, "ls", "--json"], warm, repo))
                got["cold local"].append(timed([TRAILS, "ls", "--json"], cold, repo))
        finally:
            (home / "hosts.json.aside").rename(hosts_file)
        w = statistics.median(got["warm"])
        print(f"ls --json, {args.sessions} local + {args.sessions} remote, {args.rounds} rounds: "
              f"warm {ms(got['warm'])} (target < 200 ms: {'OK' if w < 0.2 else 'MISSED'}), cold {ms(got['cold'])}")
        print(f"  floors: the {args.sessions} local alone warm {ms(got['warm local'])}, cold {ms(got['cold local'])}"
              f" (the host adds {(w - statistics.median(got['warm local'])) * 1000:.0f} ms warm); "
              f"a bare ssh channel running `true` there {ms(got['ssh'])}; the host's list over a channel and "
              f"`trails server --stdio` of its own (what the server's kept connection saves) {ms(got['own'])}")

        # --- 2. a remote status change → a local subscriber ---------------------------------------------
        client.call(t.ListSessions(hosts=True))
        box = RemoteClient("box", cwd="repo").connection()
        box.call(t.Create(name="lat", agent=AGENT, mode="direct"))
        wait(lambda: box.call(t.Get(name="lat")).status.value == "ready", 30, "lat ready")
        remote_seen: dict[int, float] = {}
        local_seen: dict[int, float] = {}
        watcher = subprocess.Popen(["runuser", "-u", sshd.user, "--", *remote_trails[:-2], "-c",
                                    "import json\n" + SUBSCRIBER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True,
                                   env={"HOME": str(sshd.home), "PATH": os.environ["PATH"]})

        def read_remote() -> None:
            assert watcher.stdout is not None
            for line in watcher.stdout:
                rid, kind, session, status, when = json.loads(line)
                if kind == "status" and session == "lat" and status == "running":
                    remote_seen[rid] = when

        def read_local() -> None:
            for e in client.subscribe():
                if e.host == "box" and e.kind == "status" and e.session == "lat" and e.data.get("status") == "running":
                    local_seen[int(e.remote_id)] = time.time()  # type: ignore[arg-type]

        threading.Thread(target=read_remote, daemon=True).start()
        threading.Thread(target=read_local, daemon=True).start()
        time.sleep(2.0)  # both subscribed
        for i in range(args.samples):
            wait(lambda: box.call(t.Get(name="lat")).status.value == "ready", 10, "ready again")
            before = len(remote_seen)
            client.call(t.Send(name="box:lat", text=f"sample {i}"))  # forwarded by the local server
            wait(lambda before=before: len(remote_seen) > before, 10, "the remote's running event")
        wait(lambda: set(remote_seen) <= set(local_seen), 10, "every running event locally")
        watcher.terminate()
        box.close()
        lags = [local_seen[rid] - remote_seen[rid] for rid in remote_seen]
        p50, p95 = statistics.median(lags), statistics.quantiles(lags, n=20)[18]
        print(f"remote status change → local subscriber, {len(lags)} samples: added over the remote's own "
              f"subscriber p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms (target p95 < 150 ms: "
              f"{'OK' if p95 < 0.15 else 'MISSED'})")
        with contextlib.suppress(Exception):
            client.stop_server()
    subprocess.run(["tmux", "-S", str(sock_dir / "tmux.sock"), "kill-server"], capture_output=True, check=False)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
