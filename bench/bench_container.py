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

from quiet import settle

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


def session_bench(n: int = 5) -> None:
    """`trails new --mode container` against the same work done by hand, measured in the same run:
    raw `docker run -d` of the same image (same mounts and limits), and that plus `git worktree add`
    and a tmux pane running `docker exec -it` (what a container session is)."""
    import shutil
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp(prefix="trails-bench-"))
    env = dict(os.environ, TRAILS_HOME=str(tmp / "home"), TRAILS_TMUX_SOCKET=str(tmp / "tmux.sock"),
               MAX_WORKTREES_PER_WORKSPACE="100")
    repo = tmp / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    for i in range(200):
        (repo / f"f{i}.txt").write_text(f"{i}\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    user = f"{os.getuid()}:{os.getgid()}"
    mounts = default_runtime_mounts()
    tmux = ["tmux", "-S", str(tmp / "floor.sock"), "-f", "/dev/null"]
    trails_cli = [sys.executable, "-m", "trails"]
    raw, manual, cli = [], [], []
    try:
        subprocess.run([*trails_cli, "new", "warm", "sleep 600", "--mode", "container"], cwd=repo, env=env,
                       check=True, capture_output=True)  # builds the image if needed, warms caches
        subprocess.run([*trails_cli, "kill", "warm"], cwd=repo, env=env, check=True, capture_output=True)
        for i in range(n):
            wt = tmp / f"wt{i}"
            # The same container trails makes: read-only root, tmpfs /tmp and home, no capabilities,
            # the host runtime, the repository's git database read-only and a git directory of the
            # container's own (two of its files read-only), same limits.
            gitdir = tmp / f"gitdir{i}"
            (gitdir / "objects").mkdir(parents=True)
            for name in ("commondir", "config.worktree"):
                (gitdir / name).write_text("")
            run = ["docker", "run", "-d", "--read-only", "--network", "none", "--cap-drop", "ALL", "-u", user,
                   "--security-opt", "no-new-privileges", "--memory", "4g", "--memory-swap", "4g",
                   "--pids-limit", "1024", "--cpus", "1", "-w", "/workspace", "--label", f"{LABEL}=floor",
                   "--tmpfs", "/tmp:rw,exec,nosuid,nodev,size=512m,mode=1777",
                   "--tmpfs", "/home/agent:rw,exec,nosuid,nodev,size=512m,mode=0700",
                   "-e", "HOME=/home/agent", "-v", f"{repo}/.git:{repo}/.git:ro", "-v", f"{gitdir}:{gitdir}",
                   "-v", f"{gitdir}/commondir:{gitdir}/commondir:ro",
                   "-v", f"{gitdir}/config.worktree:{gitdir}/config.worktree:ro"]
            for m in mounts:
                run += ["-v", f"{m.source}:{m.target}:ro"]
            # Each measured step starts on a quiet machine: not while the engine still tears down
            # the container of the step before.
            settle()
            t0 = time.perf_counter()
            cid = subprocess.run([*run, "-v", f"{repo}:/workspace", DEFAULT_TAG, "/usr/bin/sleep", "600"],
                                 check=True, capture_output=True, text=True).stdout.strip()
            t1 = time.perf_counter()
            subprocess.run(["docker", "rm", "-f", cid], check=True, capture_output=True)
            settle()
            t2 = time.perf_counter()
            subprocess.run([*git, "worktree", "add", "-q", "-b", f"floor{i}", str(wt)], check=True)
            cid = subprocess.run([*run, "-v", f"{wt}:/workspace", DEFAULT_TAG, "/usr/bin/sleep", "600"], check=True,
                                 capture_output=True, text=True).stdout.strip()
            subprocess.run([*tmux, "new-session", "-d", "-s", f"f{i}", "--", "docker", "exec", "-it", cid, "sleep",
                            "600"], check=True)
            t3 = time.perf_counter()
            subprocess.run(["docker", "rm", "-f", cid], check=True, capture_output=True)
            settle()
            t4 = time.perf_counter()
            subprocess.run([*trails_cli, "new", f"s{i}", "sleep 600", "--mode", "container"], cwd=repo, env=env,
                           check=True, capture_output=True)
            t5 = time.perf_counter()
            subprocess.run([*trails_cli, "kill", f"s{i}"], cwd=repo, env=env, check=True, capture_output=True)
            raw.append(t1 - t0)
            manual.append(t3 - t2)
            cli.append(t5 - t4)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        subprocess.run(["tmux", "-S", str(tmp / "tmux.sock"), "kill-server"], capture_output=True)
        for info in d.find_by_label(LABEL, "floor"):
            d.remove(info.id, force=True)
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    r, m, c = med(raw), med(manual), med(cli)
    print(f"container session (trails new --mode container): {c:.2f} s")
    print(f"  vs raw docker run -d, same image/mounts/limits:    {r:.2f} s  ratio {c / r:.2f}x (target <= 1.3x)")
    print(f"  vs by hand (worktree add + docker run + tmux exec): {m:.2f} s  ratio {c / m:.2f}x")
    print(f"(median of {n} sessions each, same run, after one warm-up session)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    session_bench(int(sys.argv[2]) if len(sys.argv) > 2 else 5)
