"""Container start-up cost of trails.infra.docker against a raw `docker run --rm` floor, same run.

Run: PYTHONPATH=src python3 bench/bench_container.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid

from trails.infra import docker as d
from trails.infra.default_image import DEFAULT_TAG, default_recipe, default_runtime_mounts

LABEL = "trails.bench"


def main(n: int = 7) -> None:
    ok, reason = d.engine_available()
    if not ok:
        sys.exit(reason)
    d.ensure_image(DEFAULT_TAG, default_recipe())  # build outside the measurement
    ensure_times = []
    for _ in range(n):
        t0 = time.perf_counter()
        d.ensure_image(DEFAULT_TAG, default_recipe())
        ensure_times.append(time.perf_counter() - t0)
    ensure = statistics.median(ensure_times)

    mounts = default_runtime_mounts()
    # The floor: the CLI doing the whole create/start/wait/remove cycle of a trivial command, with the
    # same image and read-only host mounts (the image has no programs of its own).
    floor_argv = ["docker", "run", "--rm", "--network", "none"]
    for m in mounts:
        floor_argv += ["-v", f"{m.source}:{m.target}:ro"]
    floor_argv += [DEFAULT_TAG, "/usr/bin/true"]
    user = f"{os.getuid()}:{os.getgid()}"
    run_id = uuid.uuid4().hex[:8]

    floors, creates, execs, removes = [], [], [], []
    try:
        for i in range(n + 1):  # the first round warms caches and is dropped
            t0 = time.perf_counter()
            subprocess.run(floor_argv, check=True, capture_output=True)
            t1 = time.perf_counter()
            cid = d.create_container(
                f"trails-bench-{run_id}-{i}", DEFAULT_TAG, workdir="/workspace", mounts=mounts,
                user=user, network="none", memory="512m", pids_limit=256, labels={LABEL: run_id},
            )
            d.start(cid)
            t2 = time.perf_counter()
            d.exec_run(cid, ["/usr/bin/true"], user)
            t3 = time.perf_counter()
            d.remove(cid, force=True)
            t4 = time.perf_counter()
            if i:
                floors.append(t1 - t0)
                creates.append(t2 - t1)
                execs.append(t3 - t2)
                removes.append(t4 - t3)
    finally:
        for info in d.find_by_label(LABEL, run_id):
            d.remove(info.id, force=True)

    med = statistics.median
    f, c = med(floors), med(creates)
    print(f"container_create: {c:.2f} s  floor(docker run): {f:.2f} s  ratio {c / f:.2f}x (target <= 1.3x)")
    print(f"create+start+exec: {c + med(execs):.2f} s  (exec of true alone: {med(execs):.3f} s)")
    print(f"container_remove(force): {med(removes):.2f} s")
    print(f"ensure_image (cached): {ensure * 1000:.1f} ms")
    print(f"(median of {n} runs each, after one warm-up round)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
