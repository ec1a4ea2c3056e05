"""Worktree set-up on real git: ignored files copied or linked (only from inside the repository),
post_create/pre_remove hooks (a repository's only once trusted), --no-hooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import as_user, git, make_repo, trails
from trails.core.engine import Engine
from trails.core.errors import SessionNotFound
from trails.core.worktree_setup import HookFailed


def _user_settings(home: Path, **settings: object) -> None:
    (home / "settings.json").write_text(json.dumps(settings))


def _repo_settings(repo: Path, **settings: object) -> None:
    (repo / ".trails").mkdir(exist_ok=True)
    (repo / ".trails" / "settings.json").write_text(json.dumps(settings))
    git(repo, "add", ".trails")
    git(repo, "commit", "-qm", "trails settings")


@pytest.fixture
def app_repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "work" / "app", {".gitignore": ".env\n.envrc\nnode_modules/\n.venv/\nbuild/\nout\n",
                                                  "README.md": "app\n"})
    (repo / ".env").write_text("SECRET=1\n")
    (repo / ".envrc").write_text("export A=1\n")
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1\n")
    (repo / "build").mkdir()
    (repo / "build" / "big.bin").write_text("x\n")
    return repo


def test_include_copies_and_link_symlinks_ignored_files(engine: Engine, app_repo: Path,
                                                         trails_env: dict[str, Path]) -> None:
    _user_settings(trails_env["home"], worktree_include=[".env", ".envrc", "README.md"],
                   worktree_link=["node_modules"])
    result = engine.create_session("s1", "sleep 600", mode="worktree", cwd=app_repo, caller=as_user())
    wt = Path(result.session.worktree_path or "")
    assert (wt / ".env").read_text() == "SECRET=1\n" and not (wt / ".env").is_symlink()
    assert (wt / ".envrc").read_text() == "export A=1\n"
    link = wt / "node_modules"
    assert link.is_symlink() and link.resolve() == (app_repo / "node_modules").resolve()
    assert (link / "left-pad" / "index.js").exists()
    assert not (wt / "build").exists()  # not asked for
    assert git(wt, "status", "--porcelain") == ""  # all of it ignored: the agent's diff stays clean
    assert any("copied .env" in n for n in result.notes) and any("linked node_modules" in n for n in result.notes)


def test_nothing_from_outside_the_repository(engine: Engine, app_repo: Path, tmp_path: Path,
                                             trails_env: dict[str, Path]) -> None:
    outside = tmp_path / "outside-secrets"
    outside.mkdir()
    (outside / "id_rsa").write_text("private\n")
    (app_repo / "out").symlink_to(outside)  # an ignored link that leads out of the repository
    _user_settings(trails_env["home"], worktree_include=["out", "../*", "/etc/passwd"], worktree_link=["out"])
    result = engine.create_session("s1", "sleep 600", mode="worktree", cwd=app_repo, caller=as_user())
    wt = Path(result.session.worktree_path or "")
    assert not (wt / "out").exists() and not (wt / "out").is_symlink()
    assert not (wt.parent / "passwd").exists() and not list(wt.parent.glob("*/id_rsa"))
    skipped = [n for n in result.notes if "skipped out" in n and "outside" in n]
    assert [n.split(":")[0] for n in skipped] == ["worktree_link", "worktree_include"]


def test_post_create_runs_in_the_worktree_and_is_logged(engine: Engine, repo: Path,
                                                         trails_env: dict[str, Path]) -> None:
    _user_settings(trails_env["home"], post_create="echo made in $PWD for $TRAILS_SESSION > made.txt; echo hello-hook",
                   pre_remove=["sh", "-c", "echo bye > ../pre-remove-ran.txt"])
    seen: list[str] = []
    result = engine.create_session("s1", "sleep 600", mode="worktree", cwd=repo, progress=seen.append, caller=as_user())
    wt = Path(result.session.worktree_path or "")
    assert (wt / "made.txt").read_text().strip() == f"made in {wt} for s1"
    assert "post_create: hello-hook" in seen
    log = trails_env["home"] / "output" / f"{result.session.tmux_session}.hooks.log"
    assert "hello-hook" in log.read_text() and "exit status 0" in log.read_text()
    engine.kill("s1", force=True, caller=as_user())
    assert (wt.parent / "pre-remove-ran.txt").read_text() == "bye\n"


def test_failing_post_create_fails_the_create_and_leaves_nothing(engine: Engine, repo: Path,
                                                                  trails_env: dict[str, Path]) -> None:
    _user_settings(trails_env["home"], post_create=["sh", "-c", "echo broken install; exit 3"])
    worktrees = git(repo, "worktree", "list")
    with pytest.raises(HookFailed, match="exited with status 3:\nbroken install") as info:
        engine.create_session("s1", "sleep 600", mode="worktree", cwd=repo, caller=as_user())
    assert info.value.to_dict()["code"] == "hook_failed"
    assert git(repo, "worktree", "list") == worktrees and git(repo, "branch", "--list", "trails/s1") == ""
    assert not (repo.parent / "repo-wt-trails-s1").exists()
    with pytest.raises(SessionNotFound):
        engine.get_session("s1", caller=as_user())
    # --no-hooks skips it
    result = engine.create_session("s1", "sleep 600", mode="worktree", cwd=repo, no_hooks=True, caller=as_user())
    assert Path(result.session.worktree_path or "").is_dir()


def test_a_repositorys_hooks_are_refused_until_trusted(repo: Path) -> None:
    _repo_settings(repo, post_create="touch from-the-repo.txt", pre_remove="touch ../repo-pre-remove.txt")
    res = trails("new", "s1", "sleep 600", "--mode", "worktree", cwd=repo)
    assert res.code == 0, res.stderr
    wt = repo.parent / "repo-wt-trails-s1"
    assert not (wt / "from-the-repo.txt").exists()
    assert "defines a post_create hook, which was not run" in res.stderr and "trails trust" in res.stderr
    assert trails("kill", "s1", cwd=repo).code == 0
    assert not (repo.parent / "repo-pre-remove.txt").exists()
    assert trails("trust", str(repo), cwd=repo).code == 0
    assert trails("new", "s2", "sleep 600", "--mode", "worktree", cwd=repo).code == 0
    assert (repo.parent / "repo-wt-trails-s2" / "from-the-repo.txt").exists()
    assert trails("kill", "s2", "--no-hooks", "--force", cwd=repo).code == 0
    assert not (repo.parent / "repo-pre-remove.txt").exists()  # --no-hooks
    # A changed hook needs trust again.
    _repo_settings(repo, post_create="touch changed.txt")
    res = trails("new", "s3", "sleep 600", "--mode", "worktree", cwd=repo)
    assert res.code == 0 and not (repo.parent / "repo-wt-trails-s3" / "changed.txt").exists()
