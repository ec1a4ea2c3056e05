"""Sessions through the HTTP API: list, create, show, send, output, diff, review comments, kill —
real tmux sessions of the echo agent, in a real repository."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import git, tmux_capture, wait_until
from tests.web.conftest import Web


def test_create_list_send_diff_kill(web: Web, tmp_path: Path, trails_env: dict[str, Path]) -> None:
    log = tmp_path / "echo.log"
    created = web.create("w1", env={"ECHO_LOG": str(log)})
    assert created["mode"] == "worktree" and created["branch"] == "trails/w1"
    worktree = Path(created["worktree_path"])
    with web.http() as api:
        listed = api.get("/api/sessions").json()["sessions"]
        assert [s["name"] for s in listed] == ["w1"]
        assert api.get("/api/sessions", params={"mode": "direct"}).json() == {"sessions": []}
        assert [s["name"] for s in api.get("/api/sessions", params={"q": "W1"}).json()["sessions"]] == ["w1"]
        bad = api.get("/api/sessions", params={"status": "sleeping"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "status"

        res = api.post("/api/sessions/w1/send", json={"text": "hello from the web"})
        assert res.status_code == 200 and res.json() == {"session": "w1", "sent": "hello from the web"}
        wait_until(lambda: log.exists() and "hello from the web" in log.read_text(), message="the agent to get it")
        output = api.get("/api/sessions/w1/output", params={"lines": 5}).json()["output"]
        assert "got: hello from the web" in output

        (worktree / "new.txt").write_text("one\ntwo\n")
        (worktree / "README.md").write_text("hello\nchanged\n")
        diff = api.get("/api/sessions/w1/diff").json()
        assert diff["stat"] == {"insertions": 3, "deletions": 0, "files": 2}
        assert "+changed" in diff["diff"] and "new.txt" in diff["diff"]
        shown = api.get("/api/sessions/w1").json()
        assert shown["session"]["name"] == "w1" and any(a["action"] == "sent" for a in shown["audit"])

        refused = api.post("/api/sessions/w1/kill", json={})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "uncommitted_work"
        assert worktree.is_dir()  # nothing was lost
        killed = api.post("/api/sessions/w1/kill", json={"force": True}).json()
        assert killed["session"]["status"] == "killed" and killed["saved_refs"]
        saved = killed["saved_refs"][0]
        assert "new.txt" in git(web.repo, "show", "--stat", saved)
        assert api.get("/api/sessions").json() == {"sessions": []}
        assert [s["name"] for s in api.get("/api/sessions", params={"all": "1"}).json()["sessions"]] == ["w1"]
        assert api.get("/api/sessions", params={"status": "killed"}).json()["sessions"][0]["name"] == "w1"
    assert "trails-w1" not in tmux_capture(trails_env["socket"], "trails-w1")


def test_bad_input_names_its_field_and_changes_nothing(web: Web) -> None:
    with web.http() as api:
        res = api.post("/api/sessions", json={"name": "Bad Name!", "agent": "cat", "mode": "direct"})
        assert res.status_code == 400
        assert res.json()["error"]["code"] == "invalid_name" and res.json()["error"]["field"] == "name"
        res = api.post("/api/sessions", json={"name": "ok", "agent": 5})
        assert res.status_code == 400 and res.json()["error"]["field"] == "agent"
        res = api.post("/api/sessions", content=b"not json", headers={"Content-Type": "application/json"})
        assert res.status_code == 400 and res.json()["error"]["code"] == "invalid_input"
        assert api.get("/api/sessions").json() == {"sessions": []}
        missing = api.post("/api/sessions/ghost/send", json={"text": "x"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "session_not_found"
        unknown = api.get("/api/nothing-here")
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_review_comments_reach_the_agent_as_one_message(web: Web, tmp_path: Path,
                                                        trails_env: dict[str, Path]) -> None:
    log = tmp_path / "echo.log"
    web.create("rv", env={"ECHO_LOG": str(log)})
    comments = [{"path": "src/app.py", "line_start": 10, "line_end": 12, "text": "rename this\nplease"},
                {"path": "README.md", "line_start": 3, "text": "typo"}]
    with web.http() as api:
        res = api.post("/api/sessions/rv/comments", json={"comments": comments})
        assert res.status_code == 200, res.text
        sent = res.json()["sent"]
        assert sent == ("Review 2 comments on your changes, please address: (1) src/app.py lines 10-12: rename this "
                        "please (2) README.md line 3: typo")
        wait_until(lambda: log.exists() and log.read_text().count("\n") >= 1, message="the message to arrive")
        assert log.read_text() == sent + "\n"  # one message, one line
        assert "src/app.py lines 10-12" in tmux_capture(trails_env["socket"], "trails-rv")
        bad = api.post("/api/sessions/rv/comments", json={"comments": [{"path": "a", "line_start": 5,
                                                                          "line_end": 2, "text": "x"}]})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "comments"
        empty = api.post("/api/sessions/rv/comments", json={"comments": []})
        assert empty.status_code == 400
    assert log.read_text() == sent + "\n"


def test_pause_resume_and_auto_yes(web: Web) -> None:
    web.create("pr", mode="direct")
    with web.http() as api:
        assert api.post("/api/sessions/pr/auto-yes", json={"on": True}).json() == {"session": "pr", "auto_yes": True}
        assert api.post("/api/sessions/pr/pause").status_code == 200
        assert api.get("/api/sessions", params={"status": "paused"}).json()["sessions"][0]["name"] == "pr"
        assert api.post("/api/sessions/pr/resume").status_code == 200
        assert api.get("/api/sessions/pr").json()["session"]["status"] in ("loading", "running", "ready")
