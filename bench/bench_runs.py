"""Per-session overhead of scripted runs on a 5,000-file work dir, against plain git doing the same.

Two figures, each as a ratio to a floor measured in the same run:
  1. snapshot + reset: trails' shadow git (own index, commit-tree + tag, read-tree + clean, session diff)
     against plain `git add -A; git commit; git tag; git reset --hard; git clean -fd` in an ordinary repo.
  2. a whole session of `trails run` (agent: /bin/true) against the floor of plain git's commit + reset
     plus starting /bin/true.

Run: PYTHONPATH=src python3 bench/bench_runs.py [SESSIONS]
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILES = 5000


def make_tree(root: Path) -> None:
    for i in range(FILES):
        path = root / f"pkg{i % 50:02d}" / f"mod{i // 50:03d}" / f"file{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# file {i}\nVALUE = {i}\n" + "x = 1\n" * 20)


def touch_some(root: Path, round_: int) -> None:
    for j in range(10):
        (root / f"pkg{j:02d}" / "mod000" / f"file{j}.py").write_text(f"# changed in round {round_}\n")
    (root / f"new_{round_}.txt").write_text("new\n")


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def plain_git_round(repo: Path, i: int) -> float:
    touch_some(repo, i)
    t0 = time.perf_counter()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"s{i}")
    git(repo, "tag", f"session_{i:02d}")
    git(repo, "diff", "--binary", "baseline", f"session_{i:02d}")
    git(repo, "reset", "-q", "--hard", "baseline")
    git(repo, "clean", "-fdq")
    return time.perf_counter() - t0


def shadow_round(tree: object, repo: object, i: int) -> float:
    from trails.runs.shadow import ShadowRepo, WorkTree

    assert isinstance(tree, WorkTree) and isinstance(repo, ShadowRepo)
    touch_some(tree.path, i)
    t0 = time.perf_counter()
    tree.snapshot(f"session_{i:02d}", "baseline", f"s{i}")
    repo.diff("baseline", f"session_{i:02d}")
    repo.changed_files("baseline", f"session_{i:02d}")
    tree.reset("baseline")
    return time.perf_counter() - t0


def main(rounds: int = 7) -> None:
    from trails.runs import start_run
    from trails.runs.shadow import ShadowRepo

    tmp = Path(tempfile.mkdtemp(prefix="trails-bench-runs-"))
    try:
        plain, work = tmp / "plain", tmp / "work"
        make_tree(plain)
        shutil.copytree(plain, work)
        git(plain, "init", "-q")
        git(plain, "-c", "user.name=b", "-c", "user.email=b@b", "add", "-A")
        git(plain, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "base")
        git(plain, "tag", "baseline")
        git(plain, "config", "user.name", "b")
        git(plain, "config", "user.email", "b@b")
        repo = ShadowRepo.create(tmp / "out" / ".shadow_git")
        tree = repo.tree(work, repo.git_dir / "index")
        tree.snapshot("baseline", None, "baseline")

        floor = statistics.median(plain_git_round(plain, i) for i in range(1, rounds + 1))
        ours = statistics.median(shadow_round(tree, repo, i) for i in range(1, rounds + 1))
        print(f"work dir: {FILES} files; median of {rounds} rounds (10 files changed + 1 added per round)")
        print(f"snapshot+reset  plain git {floor * 1000:7.1f} ms   trails shadow git {ours * 1000:7.1f} ms   "
              f"ratio {ours / floor:.2f}x")

        # A whole run: N sessions of /bin/true, each reset to its start, snapshotted and diffed. The
        # one-off baseline snapshot (hashing every file once) is reported apart from the per-session cost.
        run_dir = tmp / "runwd"
        shutil.copytree(plain, run_dir, ignore=shutil.ignore_patterns(".git"))
        first = tmp / "first"
        shutil.copytree(plain, first, ignore=shutil.ignore_patterns(".git"))
        t0 = time.perf_counter()
        git(first, "init", "-q")
        git(first, "-c", "user.name=b", "-c", "user.email=b@b", "add", "-A")
        git(first, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "base")
        first_floor = time.perf_counter() - t0
        sessions = "".join(f"  - {{session_index: {i}, prompt: p{i}}}\n" for i in range(1, rounds + 1))
        (tmp / "run.yaml").write_text(f"agent: /bin/true\nwork_dir: ./runwd\nsessions:\n{sessions}")
        marks: dict[str, float] = {}
        t0 = time.perf_counter()
        start_run(tmp / "run.yaml", out=tmp / "run-out",
                  on_event=lambda e: marks.setdefault(e.kind, time.perf_counter()))
        baseline = marks["run_started"] - t0
        per_session = (marks["run_finished"] - marks["run_started"]) / rounds
        t0 = time.perf_counter()
        for _ in range(rounds):
            subprocess.run(["/bin/true"], check=True)
        session_floor = floor + (time.perf_counter() - t0) / rounds
        print(f"first snapshot  plain git init+add+commit {first_floor * 1000:7.1f} ms   trails baseline "
              f"{baseline * 1000:7.1f} ms   ratio {baseline / first_floor:.2f}x (once per run)")
        print(f"whole session   plain git + /bin/true {session_floor * 1000:7.1f} ms   trails run "
              f"{per_session * 1000:7.1f} ms per session   ratio {per_session / session_floor:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
