"""The fault matrix's machinery: run a real `trails` command until the fault point kills it, then
check what trails promises after a crash.

The faulted command runs its engine in its own process (TRAILS_SERVER=off), so the process the fault
point SIGKILLs is the one executing the step (tests/faults/test_server_kill.py does the same to the
trails server). The invariants, checked after the crash and again after the command is retried:

- work: every file the agent had written (staged, unstaged, untracked; deletions too) is in the
  session's worktree or main checkout, or in a ref that `trails show` names;
- orphans: every worktree, session branch, tmux session and container there is belongs to a session
  row, or is listed by `trails doctor --check` (and nothing else is listed); `--repair` removes what it
  lists, after saving it; no agent runs for a session that is not live;
- locks: no session lock, nor the state database, is left held;
- retry: the same command again completes, or fails with a clear error (a code, no traceback).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import CliResult, git, trails

LIVE = {"creating", "loading", "running", "ready", "waiting"}
_REF = re.compile(r"refs/trails/[A-Za-z0-9._/@+-]+[A-Za-z0-9_]")


def faulted(fault: str, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> None:
    """Run `trails ARGS` with the fault point armed: it must die there, by SIGKILL."""
    armed = {"TRAILS_TEST_FAULTS": "1", "TRAILS_FAULT": fault, "TRAILS_SERVER": "off", **(env or {})}
    res = trails(*args, cwd=cwd, env=armed, timeout=timeout)
    # A run is driven by a child process of the server's (server/runjob.py): that one dies, and the
    # command says so.
    driver_died = fault.startswith("run:") and res.code == 1 and "(exit status -9)" in res.stderr
    assert res.code == -9 or driver_died, \
        f"`trails {' '.join(args)}` did not die at {fault} (exit {res.code}):\n{res.stderr}"


def ok(res: CliResult) -> Any:
    assert res.code == 0 and "Traceback" not in res.stderr, res.stderr
    return res.json if res.stdout.strip().startswith("{") else None


def clear_outcome(res: CliResult) -> str:
    """A command either completes or fails with a clear error: a TrailsError's code, never a traceback."""
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout, res.stderr
    if res.code == 0:
        return "completed"
    error = res.error
    assert error.get("code") and error.get("message"), res.stderr
    return str(error["code"])


# --- the agent's work ----------------------------------------------------------------------------


@dataclass
class Work:
    """What an agent wrote in its place: files as they are on disk, and what it staged."""

    files: dict[str, str]  # relative path → content in the working tree (tracked or not)
    staged: dict[str, str]  # relative path → content in the index
    deleted: set[str] = field(default_factory=set)
    commits: list[str] = field(default_factory=list)  # commits of the agent's: reachable from a named ref


def write_work(place: Path, *, tag: str = "agent") -> Work:
    """The three kinds of uncommitted work, and a deletion, in `place` (a worktree or checkout)."""
    (place / "README.md").write_text(f"edited by the {tag}\n")  # unstaged
    (place / f"{tag}-untracked.txt").write_text("untracked\n")
    (place / "src").mkdir(exist_ok=True)
    (place / "src" / f"{tag}-staged.py").write_text("staged = 1\n")
    git(place, "add", f"src/{tag}-staged.py")
    (place / "src" / f"{tag}-staged.py").write_text("staged = 1\nthen edited = 2\n")  # and unstaged on top
    (place / "f1.txt").unlink()
    return Work(files={"README.md": f"edited by the {tag}\n", f"{tag}-untracked.txt": "untracked\n",
                       f"src/{tag}-staged.py": "staged = 1\nthen edited = 2\n"},
                staged={f"src/{tag}-staged.py": "staged = 1\n"}, deleted={"f1.txt"})


def commit_work(place: Path, *, tag: str = "agent") -> str:
    """A commit of the agent's on its branch."""
    (place / f"{tag}-committed.txt").write_text("committed\n")
    git(place, "add", f"{tag}-committed.txt")
    git(place, "commit", "-q", "-m", f"{tag}: a commit")
    return git(place, "rev-parse", "HEAD")


def _read(repo: Path, spec: str) -> str | None:
    res = subprocess.run(["git", "-C", str(repo), "cat-file", "blob", spec], capture_output=True, text=True,
                         check=False)
    return res.stdout if res.returncode == 0 else None


def _in_place(place: Path, work: Work) -> bool:
    if not (place / ".git").exists():
        return False
    if any((place / p).is_file() is False or (place / p).read_text() != c for p, c in work.files.items()):
        return False
    if any((place / p).exists() for p in work.deleted):
        return False
    return all(_read(place, f":{p}") == c for p, c in work.staged.items())


def _in_ref(repo: Path, ref: str, work: Work) -> bool:
    if any(_read(repo, f"{ref}:{p}") != c for p, c in work.files.items()):
        return False
    if any(_read(repo, f"{ref}:{p}") is not None for p in work.deleted):
        return False
    if not work.staged:
        return True
    # A save's index is its last parent, a commit whose message starts "index:" (core/workstate.py).
    parents = git(repo, "rev-list", "--parents", "-n", "1", ref).split()[1:]
    if not parents or not git(repo, "log", "-1", "--format=%s", parents[-1]).startswith("index:"):
        return False
    return all(_read(repo, f"{parents[-1]}:{p}") == c for p, c in work.staged.items())


def named_refs(shown: dict[str, Any]) -> list[str]:
    """Every refs/trails/… that `trails show --json` mentions (checkpoints, reasons, move records)."""
    return sorted(set(_REF.findall(json.dumps(shown))))


def where_is(repo: Path, name: str, work: Work) -> str:
    """Where `trails show` says the work is: the session's place or a ref it names. Fails if nowhere."""
    shown = ok(trails("show", name, "--json", cwd=repo))
    session = shown["session"]
    places = [p for p in (session.get("worktree_path"), session.get("workdir")) if p]
    found = None
    if work.files or work.staged or work.deleted:
        found = next((p for p in places if _in_place(Path(p), work)), None)
        if found is None:
            found = next((r for r in named_refs(shown) if _in_ref(repo, r, work)), None)
        assert found is not None, (f"the agent's work is neither in {places} nor in a ref `trails show {name}` "
                                   f"names ({named_refs(shown)}); {session['status']}: {session['status_reason']}")
    # Commits: on the session's branch, in a ref `show` names, or merged into the main checkout's branch.
    refs = [*named_refs(shown), *([f"refs/heads/{session['branch']}"] if session.get("branch") else []), "HEAD"]
    for commit in work.commits:
        assert any(_contains(repo, r, commit) for r in refs), f"commit {commit} is reachable from none of {refs}"
    return found or "(commits only)"


def _contains(repo: Path, ref: str, commit: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", commit, ref],
                          capture_output=True, check=False).returncode == 0


# --- orphans, agents, locks ----------------------------------------------------------------------


def _tmux(socket: Path) -> dict[str, bool]:
    """tmux session → whether its agent (pane) is alive."""
    res = subprocess.run(["tmux", "-S", str(socket), "list-panes", "-a", "-F", "#{session_name} #{pane_dead}"],
                         capture_output=True, text=True, check=False)
    return {ln.split()[0]: ln.split()[1] == "0" for ln in res.stdout.splitlines() if ln.strip()}


def _containers() -> list[tuple[str, str]]:
    from trails.infra import docker as d
    from trails.isolation.container import LABEL_HOME, LABEL_SESSION, home_tag

    return [(c.id, c.labels.get(LABEL_SESSION, "")) for c in d.find_by_label(LABEL_HOME, home_tag())]


def what_exists(repo: Path, socket: Path, *, containers: bool) -> set[tuple[str, str]]:
    """Everything trails could have made, as (kind, name), found without asking trails."""
    out: set[tuple[str, str]] = set()
    blocks = git(repo, "worktree", "list", "--porcelain").split("\n\n")[1:]  # the main checkout first
    for block in blocks:  # trails' worktrees: on a session branch (the user's own are theirs)
        lines = dict(ln.split(" ", 1) for ln in block.splitlines() if " " in ln)
        if lines.get("branch", "").startswith("refs/heads/trails/"):
            out.add(("worktree", lines["worktree"]))
    out |= {("branch", b) for b in git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/trails/").split()}
    out |= {("tmux", t) for t in _tmux(socket)}
    if containers:
        out |= {("container", cid) for cid, _ in _containers()}
    return out


def known(rows: list[dict[str, Any]], *, containers: bool) -> set[tuple[str, str]]:
    """What the session rows account for."""
    out: set[tuple[str, str]] = set()
    labelled = {label: cid for cid, label in _containers()} if containers else {}
    for row in rows:
        if row.get("branch"):
            out.add(("branch", row["branch"]))
        if row["ended_at"] is not None:
            continue
        out.add(("tmux", row["tmux_session"]))
        if row.get("worktree_path"):
            out.add(("worktree", row["worktree_path"]))
        if row["mode"] == "container" and row["name"] in labelled:
            out.add(("container", labelled[row["name"]]))
    return out


def no_orphan_unknown(repo: Path, socket: Path, *, containers: bool = False) -> list[dict[str, Any]]:
    """`doctor --check` lists exactly what no session row accounts for; no agent runs unseen."""
    check = trails("doctor", "--check", "--json", cwd=repo)
    assert "Traceback" not in check.stderr and check.code in (0, 1), check.stderr
    listed = check.json["orphans"]
    assert check.code == (1 if listed else 0)
    rows = ok(trails("ls", "--all", "--json", cwd=repo))["sessions"]
    exists = what_exists(repo, socket, containers=containers)
    unknown = exists - known(rows, containers=containers)
    assert {(o["kind"], o["name"]) for o in listed} == unknown, (listed, unknown)
    live = {row["tmux_session"] for row in rows if row["status"] in LIVE and row["ended_at"] is None}
    running = {t for t, alive in _tmux(socket).items() if alive}
    assert running <= live | {o["name"] for o in listed if o["kind"] == "tmux"}, (
        f"an agent runs for a session that is not live: {running - live}; rows: "
        f"{[(r['name'], r['status']) for r in rows]}")
    return listed  # type: ignore[no-any-return]


def repair(repo: Path, socket: Path, work: Work | None, *, containers: bool = False) -> None:
    """`doctor --repair` removes every orphan, saving first: the work is then in a ref it names."""
    res = trails("doctor", "--repair", "--json", cwd=repo)
    assert res.code == 0 and "Traceback" not in res.stderr, res.stderr
    done = res.json
    assert done["orphans"] == [] and done["skipped"] == [], done
    if work is not None:
        saved = [d["saved_ref"] for d in done["repaired"] if d.get("saved_ref")]
        if not any(_in_ref(repo, ref, work) for ref in saved):
            raise AssertionError(f"after --repair the work is in none of {saved}")
    assert no_orphan_unknown(repo, socket, containers=containers) == []


def no_lock_held(home: Path) -> None:
    for lock in sorted((home / "locks").glob("*.lock")):
        fd = os.open(lock, os.O_WRONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: someone still holds it
        finally:
            os.close(fd)
    db = sqlite3.connect(home / "state.db", timeout=0)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.rollback()
    finally:
        db.close()
