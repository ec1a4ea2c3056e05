"""Session creation and `ls` start-up on a 5,000-file repo, against floors measured in the same run.

    python bench/bench_sessions.py [--rounds N] [--files N]

Floors: `tmux new-session` alone (direct), `git worktree add` + `tmux new-session` (worktree).
Targets (issue 2): worktree ≤ 1.3× floor, direct < 60 ms over tmux, `trails ls --json` < 150 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TRAILS = str(Path(sys.executable).parent / "trails")


def timed(fn: Callable[[int], None], rounds: int) -> float:
    samples = []
    for i in range(rounds):
        start = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)


def make_repo(root: Path, files: int, env: dict[str, str]) -> Path:
    repo = root / "repo"
    for i in range(files):
        path = repo / f"pkg{i % 50}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# module {i}\nVALUE = {i}\n")
    run(["git", "init", "-q", "-b", "main"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "init"], repo, env)
    return repo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--files", type=int, default=5000)
    args = parser.parse_args()
    if not Path(TRAILS).exists():
        sys.exit(f"{TRAILS} not found: install trails into this interpreter (./dev run --version)")

    root = Path(tempfile.mkdtemp(prefix="trails-bench-"))
    sock_dir = Path(tempfile.mkdtemp(prefix="tb-"))
    env = dict(os.environ, TRAILS_HOME=str(root / "home"), TRAILS_TMUX_SOCKET=str(sock_dir / "t.sock"),
               GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b",
               MAX_WORKTREES_PER_WORKSPACE="1000")
    # Users' Pythons cache bytecode; a CI environment that forbids it would time the compiler instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    floor_sock = str(sock_dir / "floor.sock")
    try:
        repo = make_repo(root, args.files, env)
        n = args.rounds
        tmux = ["tmux", "-f", "/dev/null", "-S", floor_sock]
        run([*tmux, "new-session", "-d", "-s", "warm", "sleep", "600"], repo, env)  # server already up, as for trails
        run([TRAILS, "new", "warm", "sleep 600", "--mode", "direct"], repo, env)

        floor_direct = timed(lambda i: run([*tmux, "new-session", "-d", "-s", f"f{i}", "-c", str(repo), "--",
                                            "sleep", "600"], repo, env), n)
        trails_direct = timed(lambda i: run([TRAILS, "new", f"d{i}", "sleep 600", "--mode", "direct"], repo, env), n)

        def floor_wt(i: int) -> None:
            path = root / f"floor-wt-{i}"
            run(["git", "worktree", "add", "-q", "-b", f"floor/{i}", str(path), "HEAD"], repo, env)
            run([*tmux, "new-session", "-d", "-s", f"w{i}", "-c", str(path), "--", "sleep", "600"], repo, env)

        floor_worktree = timed(floor_wt, n)
        trails_worktree = timed(
            lambda i: run([TRAILS, "new", f"w{i}", "sleep 600", "--mode", "worktree"], repo, env), n
        )
        ls_time = timed(lambda i: run([TRAILS, "ls", "--json"], repo, env), n)
        python_floor = timed(lambda i: run([sys.executable, "-S", "-c", "pass"], repo, env), n)

        sessions = 2 * n + 1
        print(f"repo: {args.files} files; median of {n} rounds each")
        print(f"direct:   trails new {trails_direct * 1000:6.1f} ms   "
              f"floor(tmux new-session) {floor_direct * 1000:6.1f} ms   "
              f"overhead {(trails_direct - floor_direct) * 1000:5.1f} ms (target < 60 ms)")
        print(f"worktree: trails new {trails_worktree * 1000:6.1f} ms   floor(git worktree add + tmux) "
              f"{floor_worktree * 1000:6.1f} ms   ratio {trails_worktree / floor_worktree:4.2f}x (target <= 1.3x)")
        print(f"ls --json with {sessions} sessions: {ls_time * 1000:6.1f} ms (target < 150 ms); "
              f"bare python start-up {python_floor * 1000:5.1f} ms")
    finally:
        subprocess.run(["tmux", "-S", str(sock_dir / "t.sock"), "kill-server"], capture_output=True, check=False)
        subprocess.run(["tmux", "-S", floor_sock, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
