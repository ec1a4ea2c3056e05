"""Runs through the web API: started from a run file, listed, shown with each session's result, diff
and files, cancelled; a run file that cannot run is the answer's error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.helpers import wait_until
from tests.runs.conftest import fake_agent_command
from tests.web.conftest import Web


def _run_file(tmp_path: Path, prompts: list[str]) -> Path:
    wd = tmp_path / "wd"
    wd.mkdir(exist_ok=True)
    (wd / "README.md").write_text("hello\n")
    sessions = "".join(f"  - session_index: {i}\n    prompt: {p}\n" for i, p in enumerate(prompts, 1))
    path = tmp_path / "study.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: ./wd\nsessions:\n{sessions}")
    return path


def _finished(api: httpx.Client, run_id: str) -> dict[str, Any] | None:
    res = api.get(f"/api/runs/{run_id}")
    if res.status_code != 200:
        return None
    summary: dict[str, Any] = res.json()["summary"]
    return summary if summary.get("status") not in (None, "running") else None


def test_start_list_and_show_a_run(web: Web, tmp_path: Path) -> None:
    path = _run_file(tmp_path, ["write notes.txt first", "write second.txt two"])
    with web.http() as api:
        started = api.post("/api/runs", json={"file": str(path), "id": "study1"})
        assert started.status_code == 200, started.text
        assert started.json()["id"] == "study1" and started.json()["out"] == str(web.repo / "runs" / "study1")
        summary = wait_until(lambda: _finished(api, "study1"), timeout=120, message="the run to finish")
        assert summary["status"] == "completed" and summary["totals"]["ok"] == 2
        runs = api.get("/api/runs").json()
        assert [(r["name"], r["status"], r["ok"]) for r in runs["runs"]] == [("study1", "completed", 2)]
        detail = api.get("/api/runs/study1").json()
        assert set(detail["results"]) == {"session_01", "session_02"}
        one = api.get("/api/runs/study1/sessions/session_01").json()
        assert one["result"]["status"] == "ok" and "notes.txt" in (one["diff"] or "")
        prompt = api.get("/api/runs/study1/sessions/session_02/files/prompt.txt").json()
        assert prompt["text"].strip() == "write second.txt two"
        for bad in ("/api/runs/study1/sessions/session_01/files/..%2F..%2Frun.json",
                    "/api/runs/study1/sessions/session_09", "/api/runs/%2E%2E", "/api/runs/.hidden"):
            res = api.get(bad)
            assert res.status_code in (400, 404), (bad, res.text)
    with web.http("read-only") as viewer:
        assert [r["name"] for r in viewer.get("/api/runs").json()["runs"]] == ["study1"]


def test_a_run_file_that_cannot_run_is_the_error(web: Web, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("agent: cat\nsessions: 7\n")
    with web.http() as api:
        res = api.post("/api/runs", json={"file": str(bad)})
        assert res.status_code == 400 and res.json()["error"]["code"] == "run_file_invalid", res.text
        assert api.post("/api/runs", json={"file": str(tmp_path / "none.yaml")}).status_code in (400, 409)
        assert api.post("/api/runs", json={"file": str(bad), "id": "../escape"}).status_code == 400
        assert api.get("/api/runs").json()["runs"] == []


def test_cancel_a_run(web: Web, tmp_path: Path) -> None:
    path = _run_file(tmp_path, ["write started.txt yes; sleep 60"])
    with web.http() as api:
        started = api.post("/api/runs", json={"file": str(path), "id": "slow"}).json()
        # Cancelled while its agent runs: the case this test is about.
        wait_until(lambda: (tmp_path / "wd" / "started.txt").exists(), timeout=60, message="the agent to start")
        res = api.post("/api/runs/slow/cancel")
        assert res.status_code == 200 and res.json() == {"job": started["job"], "cancelled": True}
        summary = wait_until(lambda: _finished(api, "slow"), timeout=60, message="the run to stop")
        assert summary["status"] != "completed"
        wait_until(lambda: api.post("/api/runs/slow/cancel").status_code == 404, timeout=30)
