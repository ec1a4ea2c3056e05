"""Worktree-scoped git and files through the API: a session's worktree and the primary checkout read,
anything that is not one of git's worktrees or that leads out of one refused (400) with nothing read."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.helpers import git
from tests.web.conftest import Web


def _error(res: httpx.Response) -> str:
    assert res.status_code == 400, res.text
    code: str = res.json()["error"]["code"]
    return code


def test_status_diff_file_list_and_find_in_a_sessions_worktree(web: Web) -> None:
    worktree = web.create("gf")["worktree_path"]
    wt = Path(worktree)
    (wt / "README.md").write_text("hello\nedited\n")
    (wt / "src").mkdir()
    (wt / "src" / "app.py").write_text("print('hi')\n")
    (wt / "image.bin").write_bytes(b"\x00\x01\x02binary")
    (wt / ".gitignore").write_text("*.log\n")
    (wt / "noise.log").write_text("ignored\n")
    with web.http() as api:
        listed = api.get("/api/git/worktrees").json()["worktrees"]
        assert [(w["path"], w["primary"], w["session"]) for w in listed] == [
            (str(web.repo), True, None), (worktree, False, "gf")]
        status = api.get("/api/git/status", params={"worktree": worktree}).json()
        assert status["branch"] == "trails/gf"
        assert {(e["path"], e["status"]) for e in status["entries"]} == {
            ("README.md", " M"), ("src/app.py", "??"), ("image.bin", "??"), (".gitignore", "??")}
        diff = api.get("/api/git/diff", params={"worktree": worktree}).json()
        assert "+edited" in diff["diff"] and "src/app.py" in diff["diff"] and "noise.log" not in diff["diff"]
        assert diff["stat"]["files"] == 4
        file = api.get("/api/git/file", params={"worktree": worktree, "path": "README.md"}).json()
        assert (file["head"], file["work"], file["binary"]) == ("hello\n", "hello\nedited\n", False)
        new = api.get("/api/git/file", params={"worktree": worktree, "path": "./src//app.py"}).json()
        assert (new["path"], new["head"], new["work"]) == ("src/app.py", None, "print('hi')\n")
        binary = api.get("/api/git/file", params={"worktree": worktree, "path": "image.bin"}).json()
        assert binary["binary"] is True and binary["work"] is None
        root = api.get("/api/files/list", params={"worktree": worktree}).json()
        assert [(e["name"], e["kind"]) for e in root["entries"]][:1] == [("src", "dir")]
        assert ".git" not in [e["name"] for e in root["entries"]]
        sub = api.get("/api/files/list", params={"worktree": worktree, "path": "src"}).json()
        assert [e["path"] for e in sub["entries"]] == ["src/app.py"]
        found = api.get("/api/files/find", params={"worktree": worktree, "q": "APP"}).json()
        assert found["paths"] == ["src/app.py"] and found["truncated"] is False
        everything = api.get("/api/files/find", params={"worktree": worktree, "q": ""}).json()["paths"]
        assert "noise.log" not in everything and "README.md" in everything
        # No worktree: the primary checkout of the repository the web server works in.
        primary = api.get("/api/git/status").json()
        assert primary["worktree"] == str(web.repo) and primary["entries"] == []
        assert api.get("/api/git/file", params={"path": "README.md"}).json()["work"] == "hello\n"


def test_what_is_not_a_worktree_is_refused(web: Web, tmp_path: Path) -> None:
    worktree = web.create("nw")["worktree_path"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("s3cret")
    with web.http() as api:
        for value in ("/etc", "/", str(elsewhere), f"{web.repo}/", f"{worktree}/../{Path(worktree).name}",
                      f"{web.repo}/.git", "relative/path", str(web.repo.parent)):
            for path in ("/api/git/status", "/api/git/diff", "/api/files/list"):
                res = api.get(path, params={"worktree": value})
                assert _error(res) == "invalid_worktree", (value, path)
                assert res.json()["error"]["field"] == "worktree"
            res = api.get("/api/git/file", params={"worktree": value, "path": "secret.txt"})
            assert _error(res) == "invalid_worktree" and "s3cret" not in res.text


def test_paths_that_leave_the_worktree_are_refused(web: Web, tmp_path: Path) -> None:
    worktree = web.create("pl")["worktree_path"]
    wt = Path(worktree)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cret")
    os.symlink(outside / "secret.txt", wt / "link-out")
    os.symlink(outside, wt / "dir-out")
    os.symlink("/etc/passwd", wt / "passwd")
    (wt / "inside.txt").write_text("fine\n")
    os.symlink("inside.txt", wt / "link-in")
    with web.http() as api:
        for path in ("../../x", "../outside/secret.txt", "a/../../x", "/etc/passwd", "link-out", "dir-out",
                     "dir-out/secret.txt", "passwd", ".git", ".git/config", "./.git/HEAD"):
            res = api.get("/api/git/file", params={"worktree": worktree, "path": path})
            assert _error(res) == "path_outside_worktree", path
            assert "s3cret" not in res.text and "root:" not in res.text
            assert res.json()["error"]["field"] == "path"
        for path in ("../../x", "dir-out", "..", ".git"):
            res = api.get("/api/files/list", params={"worktree": worktree, "path": path})
            assert _error(res) == "path_outside_worktree", path
        # A link that stays inside is read where it leads.
        inside = api.get("/api/git/file", params={"worktree": worktree, "path": "link-in"}).json()
        assert inside["work"] == "fine\n"
        listed = {e["name"]: e["kind"] for e in api.get("/api/files/list", params={"worktree": worktree}).json()[
            "entries"]}
        assert listed["link-out"] == "link" and listed["dir-out"] == "link"


def test_a_new_worktree_is_known_at_once_and_a_removed_one_is_not(web: Web) -> None:
    with web.http() as api:
        assert api.get("/api/git/status").status_code == 200  # the listing is cached now
        added = web.repo.parent / "added-by-hand"
        git(web.repo, "worktree", "add", "-q", "-b", "by-hand", str(added))
        assert api.get("/api/git/status", params={"worktree": str(added)}).json()["branch"] == "by-hand"
        git(web.repo, "worktree", "remove", str(added))
        res = api.get("/api/git/status", params={"worktree": str(added)})
        assert _error(res) == "invalid_worktree"
