"""Shadow git: snapshots and resets of a work dir through a bare repo elsewhere, real git throughout."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, make_repo
from trails.runs.shadow import ShadowRepo


def test_tags_and_reset_restore_exact_file_state(tmp_path: Path, work_dir: Path) -> None:
    repo = ShadowRepo.create(tmp_path / "out" / ".shadow_git")
    tree = repo.tree(work_dir, repo.git_dir / "index")
    tree.snapshot("baseline", None, "baseline")
    (work_dir / "new.txt").write_text("new\n")
    (work_dir / "README.md").write_text("changed\n")
    (work_dir / "src" / "app.py").unlink()
    tree.snapshot("session_01", "baseline", "s1")
    assert {f["path"]: f["status"] for f in repo.changed_files("baseline", "session_01")} == {
        "new.txt": "A", "README.md": "M", "src/app.py": "D"}

    (work_dir / "junk" / "deep").mkdir(parents=True)
    (work_dir / "junk" / "deep" / "x.txt").write_text("x")
    tree.reset("baseline")
    assert sorted(str(p.relative_to(work_dir)) for p in work_dir.rglob("*") if p.is_file()) == [
        "README.md", "src/app.py"]
    assert (work_dir / "README.md").read_text() == "hello\n"
    tree.reset("session_01")
    assert (work_dir / "new.txt").read_text() == "new\n"
    assert not (work_dir / "src" / "app.py").exists()
    assert repo.tags() == ["baseline", "session_01"]


def test_work_dirs_own_git_repo_is_never_touched(tmp_path: Path) -> None:
    work = make_repo(tmp_path / "proj", {"a.txt": "a\n"})
    head = git(work, "rev-parse", "HEAD")
    repo = ShadowRepo.create(tmp_path / "out" / ".shadow_git")
    tree = repo.tree(work, repo.git_dir / "index")
    tree.snapshot("baseline", None, "baseline")
    (work / "b.txt").write_text("b\n")
    tree.snapshot("session_01", "baseline", "s1")
    tree.reset("baseline")
    assert git(work, "rev-parse", "HEAD") == head
    assert git(work, "status", "--porcelain") == ""
    assert git(work, "tag") == ""  # our tags live in the shadow repo only
    files = repo.git("ls-tree", "-r", "--name-only", "refs/tags/session_01").stdout.split()
    assert files == ["a.txt", "b.txt"]  # and its .git is not tracked


def test_out_dir_inside_work_dir_is_not_tracked(work_dir: Path) -> None:
    out = work_dir / "runs" / "r1"
    repo = ShadowRepo.create(out / ".shadow_git", exclude=["runs/r1"])
    tree = repo.tree(work_dir, repo.git_dir / "index")
    (out / "session_01").mkdir(parents=True)
    (out / "session_01" / "result.json").write_text("{}")
    tree.snapshot("baseline", None, "baseline")
    files = repo.git("ls-tree", "-r", "--name-only", "refs/tags/baseline").stdout.split()
    assert files == ["README.md", "src/app.py"]
    tree.reset("baseline")
    assert (out / "session_01" / "result.json").exists()


def test_two_trees_with_their_own_indexes_share_one_repo(tmp_path: Path, work_dir: Path) -> None:
    repo = ShadowRepo.create(tmp_path / "out" / ".shadow_git")
    main = repo.tree(work_dir, repo.git_dir / "index")
    main.snapshot("baseline", None, "baseline")
    copy = repo.tree(tmp_path / "copy", repo.git_dir / "indexes" / "slot_01")
    copy.reset("baseline")
    (copy.path / "only-in-copy.txt").write_text("c\n")
    copy.snapshot("session_01_r02", "baseline", "r2")
    (work_dir / "only-in-main.txt").write_text("m\n")
    main.snapshot("session_01_r01", "baseline", "r1")
    assert [f["path"] for f in repo.changed_files("baseline", "session_01_r02")] == ["only-in-copy.txt"]
    assert [f["path"] for f in repo.changed_files("baseline", "session_01_r01")] == ["only-in-main.txt"]
