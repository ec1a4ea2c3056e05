"""A session's agent cannot make trails run anything on the host through git, and a container agent
can write no more of the repository than its own worktree's git directory. Real Docker, git, tmux."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import as_user, git
from tests.isolation.conftest import SLEEPER

pytestmark = pytest.mark.usefixtures("containers")

_HOOKS = ("reference-transaction", "post-checkout", "post-index-change", "pre-commit", "commit-msg",
          "prepare-commit-msg", "post-commit", "pre-merge-commit", "post-merge", "pre-auto-gc", "post-rewrite")


def _agent(cid: str, script: str) -> tuple[int, str]:
    """Run a shell script in the session's container as its agent runs: the host user, in /workspace."""
    from trails.infra import docker as d

    return d.exec_run(cid, ["sh", "-c", script], f"{os.getuid()}:{os.getgid()}", workdir="/workspace")


def _ok(cid: str, script: str) -> str:
    code, out = _agent(cid, script)
    assert code == 0, (script, out)
    return out


def _own_repository(kind: str, marker: Path, common: Path, base: str, wt: Path) -> str:
    """The script an agent runs to swap /workspace/.git for a repository of its own whose config makes
    git run `touch marker` (a path only the host has): by fsmonitor, hooks, or diff/filter drivers.
    The repository borrows the real objects and stands at the base commit, so git gets far in it."""
    run = f"touch {marker}"
    config = {
        "fsmonitor": [("core.fsmonitor", f"{run}; false")],
        "hooks": [("core.hooksPath", f"{wt}/.git/own-hooks")],  # where the host sees them
        "drivers": [("diff.external", run), ("diff.x.command", run), ("diff.x.textconv", f"{run}; cat"),
                    ("filter.x.clean", f"{run}; cat"), ("filter.x.smudge", f"{run}; cat"),
                    ("merge.x.driver", f"{run}; false")],
    }[kind]
    lines = [
        "set -e",
        "rm -rf .git /tmp/own",
        "env -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git init -q /tmp/own",
        "mv /tmp/own/.git .git",
        f"echo {common}/objects > .git/objects/info/alternates",
        f"echo {base} > .git/HEAD",
        "env -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES git read-tree HEAD",
        *[f"git config -f .git/config '{key}' '{value}'" for key, value in config],
        "printf '* filter=x diff=x merge=x\\n' > .gitattributes",
    ]
    if kind == "hooks":
        lines.append("mkdir -p .git/own-hooks")
        for hooks_dir in (".git/hooks", ".git/own-hooks"):
            for hook in _HOOKS:
                lines += [f"printf '#!/bin/sh\\n{run}\\n' > {hooks_dir}/{hook}", f"chmod +x {hooks_dir}/{hook}"]
    return "\n".join(lines)


def _worktree_entry(repo: Path, path: Path) -> str:
    """The repository's own view of the worktree at `path` (`git worktree list --porcelain`)."""
    blocks = git(repo, "worktree", "list", "--porcelain").split("\n\n")
    return next(b for b in blocks if b.startswith(f"worktree {path}\n"))


def _registered_gitdir(common: Path, worktree: Path) -> Path:
    """The directory the repository keeps for the worktree (`<common>/worktrees/<id>`)."""
    return next(d for d in (common / "worktrees").iterdir()
                if (d / "gitdir").read_text().strip() == f"{worktree}/.git")


def _detached_inside(cid: str) -> bool:
    return "HEAD detached" in _ok(cid, "git status")


@pytest.mark.parametrize("kind", ["fsmonitor", "hooks", "drivers"])
def test_git_config_an_agent_plants_runs_nothing_on_the_host(kind: str, repo: Path, engine: Any,
                                                             tmp_path: Path) -> None:
    marker = tmp_path / "host-only" / f"ran-{kind}"
    marker.parent.mkdir()
    common = repo / ".git"
    s = engine.create_session("g1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    wt = Path(s.worktree_path)
    _ok(s.container_id, "echo one > one.txt && git add one.txt && git -c user.name=a -c user.email=a@b "
                        "commit -qm agent-one")
    _ok(s.container_id, _own_repository(kind, marker, common, s.base_commit, wt))
    (wt / "dirty.txt").write_text("uncommitted\n")

    def nothing_ran(after: str) -> None:
        assert not marker.exists(), f"`{after}` ran the agent's {kind} command on the host"

    assert "dirty.txt" in engine.diff("g1", caller=as_user()).text
    nothing_ran("diff")
    engine.show("g1", caller=as_user())
    nothing_ran("show")
    merged = engine.merge("g1", caller=as_user())
    nothing_ran("merge")
    assert merged.commit and git(repo, "log", "-1", "--format=%s", "main^2") == "agent-one"
    engine.pause("g1", caller=as_user())
    nothing_ran("pause")
    engine.resume("g1", caller=as_user())
    nothing_ran("resume")
    cid = engine.get_session("g1", caller=as_user()).container_id
    assert _detached_inside(cid)  # in a container again: its agent on a detached HEAD
    assert "\nbranch refs/heads/trails/g1" in _worktree_entry(repo, wt)  # the repository: still on its branch
    assert (wt / "dirty.txt").read_text() == "uncommitted\n"

    _ok(cid, "echo two > two.txt && git add two.txt && git -c user.name=a -c user.email=a@b commit -qm agent-two")
    _ok(cid, _own_repository(kind, marker, common, s.base_commit, wt))
    engine.export_session("g1", "worktree", force=True, caller=as_user())
    nothing_ran("export-session --to worktree")
    assert git(repo, "log", "-1", "--format=%s", "trails/g1") == "agent-two"
    # On the host the worktree is the repository's own again, on its branch (the agent's .git is gone).
    assert git(wt, "rev-parse", "--absolute-git-dir").startswith(f"{common}/worktrees/")
    assert git(wt, "symbolic-ref", "HEAD") == "refs/heads/trails/g1"
    assert git(wt, "status", "--porcelain", "--", "two.txt") == ""
    engine.upgrade_session("g1", "container", caller=as_user())
    nothing_ran("upgrade-session --to container")
    assert _detached_inside(engine.get_session("g1", caller=as_user()).container_id)
    killed = engine.kill("g1", force=True, caller=as_user())
    nothing_ran("kill --force")
    assert git(repo, "show", f"{killed.saved_refs[0]}:dirty.txt") == "uncommitted"
    assert not wt.exists() and len(git(repo, "worktree", "list").splitlines()) == 1


def test_the_container_can_write_only_its_own_worktree_git_dir(repo: Path, engine: Any) -> None:
    common = repo / ".git"
    engine.create_session("w1", SLEEPER, mode="worktree", cwd=repo, caller=as_user())
    other_admin = Path(git(repo.parent / "repo-wt-trails-w1", "rev-parse", "--absolute-git-dir"))
    git(repo, "update-ref", "refs/trails/saved/old/1", "HEAD")
    git(repo, "gc", "-q")  # the initial commit's objects into a pack: the store has a pack and loose objects
    (repo / "later.txt").write_text("later\n")
    git(repo, "add", "later.txt")
    git(repo, "commit", "-qm", "later")
    loose = next(p for p in (common / "objects").glob("??/*") if p.parent.name != "pack")
    pack = next((common / "objects" / "pack").glob("*.pack"))
    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session
    inside_gitdir = Path(git(Path(s.worktree_path), "rev-parse", "--absolute-git-dir"))  # the container's own
    own_admin = _registered_gitdir(common, Path(s.worktree_path))  # the repository's record of the worktree
    before = {ref: git(repo, "rev-parse", ref) for ref in ("main", "trails/w1", "refs/trails/saved/old/1")}
    other_head = (other_admin / "HEAD").read_text()

    attempts = {
        "move main": "git update-ref refs/heads/main HEAD~1",
        "delete saved work": "git update-ref -d refs/trails/saved/old/1",
        "make a branch": "git branch mine",
        "move its own branch": "git update-ref refs/heads/trails/c1 HEAD~1",
        "write another worktree's HEAD": f"echo 0000000000000000000000000000000000000000 > {other_admin}/HEAD",
        "point its git dir at another repository": f"echo /tmp/own > {inside_gitdir}/commondir",
        "write its worktree config": f"echo '[core]' > {inside_gitdir}/config.worktree",
        "write the repository's record of it": f"echo {repo.parent}/repo-wt-trails-w1/.git > {own_admin}/gitdir",
        "write the HEAD the repository records": f"echo 0000000000000000000000000000000000000000 > {own_admin}/HEAD",
        "write the config": f"echo '[core]' >> {common}/config",
        "plant a hook": f"echo x > {common}/hooks/post-checkout",
        "write packed-refs": f"echo x >> {common}/packed-refs",
        "write info/attributes": f"echo '* filter=x' > {common}/info/attributes",
        "rewrite an object": f"chmod u+w {loose} && echo x > {loose}",
        "delete an object": f"rm -f {loose}",
        "delete a pack": f"rm -f {pack}",
        "add an object to the repository": f"touch {common}/objects/{loose.parent.name}/{'0' * 38}",
    }
    for what, script in attempts.items():
        code, out = _agent(s.container_id, script)
        assert code != 0 and ("Read-only file system" in out or "cannot lock ref" in out), (what, out)
    assert {ref: git(repo, "rev-parse", ref) for ref in before} == before
    assert (other_admin / "HEAD").read_text() == other_head and loose.exists() and pack.exists()
    assert git(repo, "branch", "--list", "mine") == ""
    assert subprocess.run(["git", "-C", str(repo), "fsck", "--strict", "--no-dangling"], capture_output=True,
                          text=True).returncode == 0

    # What is the agent's own: files, its index and HEAD, new objects (in a store of its own), none
    # of which the repository sees until trails takes them in: its `git gc` meets nothing missing.
    out = _ok(s.container_id, "echo inside > inside.txt && git add inside.txt && "
                              "git -c user.name=a -c user.email=a@b commit -qm inside && git status")
    assert "HEAD detached" in out
    git(repo, "gc", "-q")


def test_the_agents_commits_reach_its_branch_at_merge_pause_and_kill(repo: Path, engine: Any) -> None:
    s = engine.create_session("c1", SLEEPER, mode="container", cwd=repo, caller=as_user()).session

    def commit(cid: str, name: str) -> None:
        _ok(cid, f"echo {name} > {name}.txt && git add {name}.txt && "
                 f"git -c user.name=a -c user.email=a@b commit -qm {name}")

    commit(s.container_id, "first")
    result = engine.merge("c1", caller=as_user())
    assert result.commit and git(repo, "log", "-1", "--format=%s", "main^2") == "first"
    commit(s.container_id, "second")
    engine.pause("c1", caller=as_user())
    assert git(repo, "log", "-1", "--format=%s", "trails/c1") == "second"
    engine.resume("c1", caller=as_user())
    cid = engine.get_session("c1", caller=as_user()).container_id
    commit(cid, "third")
    _ok(cid, "echo left > left.txt")
    killed = engine.kill("c1", force=True, caller=as_user())
    assert git(repo, "log", "-1", "--format=%s", "trails/c1") == "third"
    assert git(repo, "show", f"{killed.saved_refs[0]}:left.txt") == "left"
    # Every object the agent wrote is in the repository now (its store went with the worktree).
    fsck = subprocess.run(["git", "-C", str(repo), "fsck", "--strict", "--no-dangling"], capture_output=True,
                          text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


@pytest.mark.parametrize("mode", ["direct", "worktree"])
def test_git_on_the_host_runs_nothing_a_session_config_names(mode: str, repo: Path, engine: Any,
                                                            tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    s = engine.create_session("h1", SLEEPER, mode=mode, cwd=repo, caller=as_user()).session
    place = Path(s.worktree_path or s.workdir)
    if mode == "worktree":  # its .git swapped for a repository whose config runs a command
        own = tmp_path / "own"
        git(tmp_path, "init", "-q", str(own))
        (place / ".git").unlink()
        (own / ".git").rename(place / ".git")
        (place / ".git" / "objects" / "info" / "alternates").write_text(f"{repo}/.git/objects\n")
        (place / ".git" / "HEAD").write_text(f"{s.base_commit}\n")
        dot_git = place / ".git"
    else:  # direct mode works in the user's checkout: its own config is what an agent there would write
        dot_git = repo / ".git"
    with (dot_git / "config").open("a") as config:
        config.write(f"[core]\n\tfsmonitor = touch {marker}; false\n\thooksPath = {tmp_path}/hooks\n"
                     f"[diff \"x\"]\n\ttextconv = touch {marker}; cat\n")
    (tmp_path / "hooks").mkdir()
    for hook in _HOOKS:
        (tmp_path / "hooks" / hook).write_text(f"#!/bin/sh\ntouch {marker}\n")
        (tmp_path / "hooks" / hook).chmod(0o755)
    (place / ".gitattributes").write_text("* diff=x\n")
    (place / "README.md").write_text("changed\n")
    text = engine.diff("h1", caller=as_user()).text
    assert not marker.exists(), "diff"
    assert "+changed" in text  # the diff as it is, no driver's text in between
    if mode == "worktree":
        engine.pause("h1", caller=as_user())
        assert not marker.exists(), "pause"
        engine.resume("h1", caller=as_user())
        assert not marker.exists(), "resume"
    engine.kill("h1", force=True, caller=as_user())
    assert not marker.exists(), "kill --force"
