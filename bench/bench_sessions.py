"""Session creation and `ls` start-up on a 5,000-file repo, against floors measured in the same run.

    python bench/bench_sessions.py [--rounds N] [--files N]

Floors: `tmux new-session` alone (direct), `git worktree add` + `tmux new-session` (worktree).
Every command is a client of the home's trails server (started by the first call, as for a user).
Each figure is printed twice: through the warm CLI server (the default: the client's modules stay
imported) and from a cold client process (TRAILS_WARM=off).
Targets (issues 2 and 10): worktree ≤ 1.3× floor, direct < 60 ms over tmux, `trails ls --json` < 150 ms.
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
import time
from pathlib import Path

TRAILS = str(Path(sys.executable).parent / "trails")


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)


def wait_for_server(home: Path, timeout: float = 30.0) -> None:
    """The first `trails` call starts the warm server (and the trails server) in the background; let
    them finish importing."""
    deadline = time.monotonic() + timeout
    while not (home / "cli.sock").exists() or not (home / "server.sock").exists():
        if time.monotonic() > deadline:
            sys.exit("the warm server did not start (TRAILS_WARM=off in the environment?)")
        time.sleep(0.05)


def stop_server(home: Path) -> None:
    """The warm server and the trails server (by the pids in their lock files)."""
    for lock in ("cli.lock", "server.lock"):
        pid = (home / lock).read_text() if (home / lock).exists() else ""
        if pid.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGTERM)


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
        run([TRAILS, "new", "warm", "sleep 600", "--mode", "direct"], repo, env)  # also starts the warm server
        warm_env = dict(env, TRAILS_WARM="on")
        cold_env = dict(env, TRAILS_WARM="off")
        wait_for_server(root / "home")

        # Floor and trails alternate within each round, so a slow moment (this machine's disk
        # writeback swings `git worktree add` by 4x) hits both sides of a ratio alike.
        paths = (("warm", warm_env), ("cold", cold_env))
        samples: dict[str, list[float]] = {}

        def sample(key: str, argv: list[str], run_env: dict[str, str]) -> None:
            start = time.perf_counter()
            run(argv, repo, run_env)
            samples.setdefault(key, []).append(time.perf_counter() - start)

        for i in range(n):
            sample("floor direct", [*tmux, "new-session", "-d", "-s", f"f{i}", "-c", str(repo), "--",
                                    "sleep", "600"], env)
            for label, path_env in paths:
                sample(f"{label} direct", [TRAILS, "new", f"{label[0]}d{i}", "sleep 600", "--mode", "direct"],
                       path_env)
            for label, path_env in paths:
                start = time.perf_counter()
                wt = root / f"floor-wt-{label}-{i}"
                run(["git", "worktree", "add", "-q", "-b", f"floor/{label}/{i}", str(wt), "HEAD"], repo, env)
                run([*tmux, "new-session", "-d", "-s", f"w{label}{i}", "-c", str(wt), "--", "sleep", "600"],
                    repo, env)
                samples.setdefault(f"floor worktree {label}", []).append(time.perf_counter() - start)
                sample(f"{label} worktree", [TRAILS, "new", f"{label[0]}w{i}", "sleep 600", "--mode", "worktree"],
                       path_env)
            for label, path_env in paths:
                sample(f"{label} ls", [TRAILS, "ls", "--json"], path_env)
            sample("python", [sys.executable, "-S", "-c", "pass"], env)
            # What a direct session must wait for before its agent may run (the start snapshot).
            sample("status", ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
                   dict(env, GIT_OPTIONAL_LOCKS="0"))

        med = {key: statistics.median(values) * 1000 for key, values in samples.items()}
        print(f"repo: {args.files} files; median of {n} rounds; floors: tmux new-session {med['floor direct']:.1f} ms, "
              f"git worktree add + tmux {med['floor worktree warm']:.0f}-{med['floor worktree cold']:.0f} ms, "
              f"bare python start-up {med['python']:.1f} ms, git status of the checkout {med['status']:.1f} ms")
        sessions = 1 + 4 * n
        for label, _ in paths:
            ratios = [t / f for t, f in zip(samples[f"{label} worktree"], samples[f"floor worktree {label}"],
                                            strict=True)]
            print(f"{label + ':':7}direct   trails new {med[label + ' direct']:6.1f} ms   "
                  f"overhead {med[label + ' direct'] - med['floor direct']:5.1f} ms over tmux (target < 60 ms)")
            print(f"{label + ':':7}worktree trails new {med[label + ' worktree']:6.1f} ms   "
                  f"ratio {statistics.median(ratios):4.2f}x its floor, round by round (target <= 1.3x)")
            print(f"{label + ':':7}ls --json with up to {sessions} sessions {med[label + ' ls']:6.1f} ms "
                  "(target < 150 ms)")
        stop_server(root / "home")
    finally:
        subprocess.run(["tmux", "-S", str(sock_dir / "t.sock"), "kill-server"], capture_output=True, check=False)
        subprocess.run(["tmux", "-S", floor_sock, "kill-server"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sock_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
