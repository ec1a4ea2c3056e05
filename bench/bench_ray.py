"""Runs on a Ray cluster: scaling across nodes, and what the bundle round trip costs a session.

Two figures, each against a floor measured in the same run:
  1. throughput: 24 independent sessions of a scripted agent that waits 2 s (as a real agent waits on
     its model), each asking Ray for 1 CPU, on a local cluster of 1 node vs 3 nodes that declare 1 CPU
     each. The ratio of the two wall times is printed against the floor of 3.0 (perfect scaling)
     and the target of 2.7.
  2. overhead: the per-session time of a run of Ray sessions (start state shipped as a git bundle,
     new snapshot shipped back and fetched) on a 5,000-file work dir, minus the same run locally,
     each pair run back to back (the floor: the local run of the pair). Target < 300 ms. First on a
     node with an empty cache (it checks every file out once), then in rounds on a node that has
     run over this work dir before (its cache kept across runs, as a node's is); the target is
     checked against the median of those rounds.

Run: PYTHONPATH=src:. python3 bench/bench_ray.py [SESSIONS] [--overhead-only] [--overhead-sessions N] [--rounds R]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_runs import make_tree
from bench.quiet import settle

FAKE_AGENT = Path(__file__).resolve().parent.parent / "tests" / "runs" / "fake_agent.py"
MB = 1024 * 1024


def run_file(root: Path, prompt: str, count: int, *, isolated_chain: int = 0, name: str = "run") -> Path:
    path = root / f"{name}.yaml"
    if isolated_chain:
        sessions = "".join(f"  - {{session_index: {i}, prompt: '{prompt} {i}'}}\n"
                           for i in range(1, isolated_chain + 1))
    else:
        sessions = f"  - {{session_index: 1, prompt: '{prompt}', count: {count}}}\n"
    path.write_text(f"agent: {sys.executable} {FAKE_AGENT}\nwork_dir: ./wd\nresources: {{num_cpus: 1}}\n"
                    f"sessions:\n{sessions}")
    return path


def timed_run(path: Path, out: Path, *, ray: str | None, parallel: int = 1) -> tuple[float, dict]:
    from trails.runs import start_run

    settle()
    t0 = time.perf_counter()
    summary = start_run(path, out=out, parallel=parallel, ray_address=ray)
    elapsed = time.perf_counter() - t0
    assert summary["status"] == "completed", json.dumps(summary["totals"])
    return elapsed, summary


def cluster(nodes: int, cache: Path):  # type: ignore[no-untyped-def]
    from ray.cluster_utils import Cluster

    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(mode=0o700)
    os.environ["TRAILS_RAY_CACHE"] = str(cache)  # each node's cache: empty at the start, inherited by the nodes
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": 80 * MB,
                                                      "include_dashboard": False})
    for _ in range(nodes):
        c.add_node(num_cpus=1, object_store_memory=80 * MB)
    c.wait_for_nodes()
    return c


def throughput(root: Path, sessions: int) -> dict[str, float]:
    walls = {}
    for nodes in (1, 3):
        work = root / f"tp{nodes}"
        (work / "wd").mkdir(parents=True)
        (work / "wd" / "README.md").write_text("hello\n")
        path = run_file(work, "sleep 2; write out.txt $REPLICATE", sessions)
        c = cluster(nodes, root / "cache")
        try:
            timed_run(run_file(work, "write warm.txt x", 1, name="warm"), work / "warm", ray=c.address)  # workers start
            (work / "wd" / "warm.txt").unlink(missing_ok=True)
            walls[nodes], _ = timed_run(path, work / "out", ray=c.address)
        finally:
            c.shutdown()
    return walls


def overhead(root: Path, sessions: int, rounds: int) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """(local, Ray) seconds per session: on a node with an empty cache, then `rounds` times on a node that has run
    over this work dir before. Each pair runs the same chain from the same start (the work dir as the previous
    run left it)."""
    work = root / "oh"
    (work / "wd").mkdir(parents=True)
    make_tree(work / "wd")
    path = run_file(work, "write notes.txt round", 0, isolated_chain=sessions)
    (work / "tiny" / "wd").mkdir(parents=True)
    c = cluster(1, root / "cache")
    try:
        # The cluster's first job pays for starting it; this one runs over another work dir, so the node's
        # cache knows nothing of the 5,000 files yet.
        timed_run(run_file(work / "tiny", "write warm.txt x", 1, name="warm"), work / "tiny" / "out", ray=c.address)
        pairs = []
        for i in range(rounds + 1):
            # Pairs alternate which side runs first, so a machine that slows down or speeds up during a pair
            # favours neither.
            if i % 2 == 0:
                local, _ = timed_run(path, work / f"local{i}", ray=None)
            remote, _ = timed_run(path, work / f"ray{i}", ray=c.address)
            if i % 2 == 1:
                local, _ = timed_run(path, work / f"local{i}", ray=None)
            pairs.append((local / sessions, remote / sessions))
    finally:
        c.shutdown()
    return pairs[0], pairs[1:]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sessions", nargs="?", type=int, default=24, help="throughput sessions (default 24)")
    parser.add_argument("--overhead-only", action="store_true", help="skip the throughput figure (quicker)")
    parser.add_argument("--overhead-sessions", type=int, default=5, help="sessions in the overhead chain (default 5)")
    parser.add_argument("--rounds", type=int, default=5, help="overhead runs on a node that knows the work dir (5)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trails-bench-ray-"))
    try:
        if not args.overhead_only:
            walls = throughput(root, args.sessions)
            ratio = walls[1] / walls[3]
            print(f"throughput: {args.sessions} sessions x 2 s, 1 CPU each: 1 node {walls[1]:.1f}s, "
                  f"3 nodes {walls[3]:.1f}s")
            print(f"  ratio {ratio:.2f}x  (floor: 3.00x perfect scaling; target >= 2.7x) "
                  f"{'OK' if ratio >= 2.7 else 'BELOW TARGET'}")
        (cold_local, cold_ray), warm = overhead(root, args.overhead_sessions, args.rounds)
        n = args.overhead_sessions
        print(f"bundle round trip on a 5,000-file work dir, runs of {n} sessions (ms per session, Ray - local):")
        print(f"  node with an empty cache: local {cold_local * 1000:.0f}, Ray {cold_ray * 1000:.0f}: "
              f"+{(cold_ray - cold_local) * 1000:.0f} ms (its first checkout of every file, once per node)")
        extra = [(r - loc) * 1000 for loc, r in warm]
        for i, (loc, r) in enumerate(warm, start=1):
            print(f"  node that ran this work dir before, round {i}: local {loc * 1000:.0f}, Ray {r * 1000:.0f}: "
                  f"{extra[i - 1]:+.0f} ms")
        med = statistics.median(extra)
        print(f"  overhead {med:+.0f} ms per session, median of {len(extra)} rounds (floor: the local run of each "
              f"pair; target < 300 ms) {'OK' if med < 300 else 'ABOVE TARGET'}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
