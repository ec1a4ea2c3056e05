"""trails pr with the real gh binary against a local stand-in for GitHub's API (tests/fakes/github_server.py),
and a local bare repository as the remote (the GitHub URL is rewritten to it with git's insteadOf)."""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_server import HOST, FakeGitHub, Run
from tests.helpers import git, trails, wait_until

ECHO_AGENT = f"{sys.executable} {Path(__file__).parent / 'echo_agent.py'}"
FAILING = {"__typename": "CheckRun", "name": "unit-tests", "status": "COMPLETED", "conclusion": "FAILURE",
           "detailsUrl": f"https://{HOST}/o/app/actions/runs/5/job/7", "startedAt": "2026-01-01T00:00:00Z",
           "completedAt": "2026-01-01T00:01:00Z", "checkSuite": {"workflowRun": {"workflow": {"name": "CI"}}}}
PASSING = {**FAILING, "name": "lint", "conclusion": "SUCCESS"}
# Run 5 as Actions keeps it: unit-tests (job 7, FAILING's) failed in its step 2; integration (job 9) failed too.
RUN_JOBS = [
    {"id": 7, "name": "unit-tests", "conclusion": "failure", "steps": [
        {"name": "Set up job", "number": 1, "conclusion": "success"},
        {"name": "Run tests", "number": 2, "conclusion": "failure"}]},
    {"id": 9, "name": "integration", "conclusion": "failure", "steps": [
        {"name": "Run e2e", "number": 1, "conclusion": "failure"}]},
]


def _run_logs() -> bytes:
    """The zip GitHub serves for a run's logs: JOB/N_STEP.txt, each line after Actions' timestamp."""
    def stamped(lines: list[str]) -> str:
        return "".join(f"2026-01-01T00:00:{i % 60:02d}.1234567Z {line}\n" for i, line in enumerate(lines))

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("unit-tests/1_Set up job.txt", stamped(["setting up the runner"]))
        zf.writestr("unit-tests/2_Run tests.txt", stamped([f"collected line {i}" for i in range(25)]
                                                          + ["FAILED tests/test_x.py::test_y - assert 1 == 2"]))
        zf.writestr("integration/1_Run e2e.txt", stamped(["e2e exploded"]))
    return out.getvalue()


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[FakeGitHub, dict[str, str]]]:
    with FakeGitHub() as fake:
        fake.add_repo("o", "app")
        # gh caches a run's log zip under $TMPDIR/gh-cli-cache: keep it in the test's own directory.
        yield fake, {**fake.gh_env(tmp_path / "gh-config"), "TMPDIR": str(tmp_path)}


def _remote(repo: Path, tmp_path: Path, url: str) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", url)
    git(repo, "config", f"url.{bare}.insteadOf", url)  # pushes to `url` land in the local bare repository
    return bare


def _session(repo: Path, env: dict[str, str], agent: str = "sleep 600", *args: str) -> Path:
    res = trails("new", "s1", agent, "--mode", "worktree", "--prompt", "Add the feature\nwith tests", *args,
                 "--json", cwd=repo, env=env)
    assert res.code == 0, res.stderr
    wt = Path(res.json["session"]["worktree_path"])
    (wt / "feature.txt").write_text("new\n")
    git(wt, "add", "feature.txt")
    git(wt, "commit", "-qm", "agent: feature")
    return wt


def test_pr_pushes_and_opens_a_pull_request_with_gh(repo: Path, tmp_path: Path,
                                                      github: tuple[FakeGitHub, dict[str, str]]) -> None:
    fake, env = github
    bare = _remote(repo, tmp_path, f"https://{HOST}/o/app.git")
    wt = _session(repo, env)
    res = trails("pr", "s1", "--draft", "--json", cwd=repo, env=env)
    assert res.code == 0, res.stderr
    assert res.json["created"] is True and res.json["number"] == 1
    assert res.json["url"] == f"https://{HOST}/o/app/pull/1"
    assert git(bare, "rev-parse", "refs/heads/trails/s1") == git(wt, "rev-parse", "HEAD")
    pull = fake.repos["o/app"].pulls[0]
    assert (pull.title, pull.head, pull.base, pull.draft) == ("Add the feature", "trails/s1", "main", True)
    assert "sleep 600" in pull.body and "> with tests" in pull.body and "feature.txt" in pull.body
    assert fake.operations() == ["RepositoryInfo", "PullRequestForBranch", "PullRequestCreate"]
    assert {r["auth"] for r in fake.requests} == {"token gho_fake_token_of_the_user"}  # gh's own login
    shown = trails("show", "s1", "--json", cwd=repo, env=env).json["session"]["extra"]["pr"]
    assert shown["url"] == res.json["url"] and shown["number"] == 1
    again = trails("pr", "s1", "--json", cwd=repo, env=env)  # pushes again, opens no second one
    assert again.code == 0 and again.json["created"] is False and len(fake.repos["o/app"].pulls) == 1


def test_checks_ls_marker_refresh_and_fix(repo: Path, tmp_path: Path,
                                          github: tuple[FakeGitHub, dict[str, str]]) -> None:
    fake, env = github
    _remote(repo, tmp_path, f"https://{HOST}/o/app.git")
    log = tmp_path / "agent.log"
    _session(repo, env, ECHO_AGENT, f"--env=ECHO_LOG={log}")
    assert trails("pr", "s1", "--title", "Mine", "--body", "by hand", cwd=repo, env=env).code == 0
    assert fake.repos["o/app"].pulls[0].title == "Mine" and fake.repos["o/app"].pulls[0].body == "by hand"
    fake.set_checks("o", "app", 1, [PASSING, FAILING], review="REVIEW_REQUIRED")
    res = trails("pr", "s1", "--checks", "--json", cwd=repo, env=env)
    assert res.code == 0, res.stderr
    pr = res.json["pr"]
    assert (pr["state"], pr["checks"], pr["failing"], pr["review"]) == ("OPEN", "failing", ["unit-tests"],
                                                                        "REVIEW_REQUIRED")
    assert "PullRequestByNumber" in fake.operations()
    assert "pr#1 open checks failing" in trails("ls", cwd=repo, env=env).stdout
    # Refreshed on read only when stale: with the default interval, ls asks gh nothing.
    asked = len(fake.requests)
    fake.set_checks("o", "app", 1, [PASSING], review="APPROVED")
    assert "checks failing" in trails("ls", cwd=repo, env=env).stdout and len(fake.requests) == asked
    fresh = trails("ls", cwd=repo, env={**env, "TRAILS_PR_REFRESH_SECONDS": "0"}).stdout
    assert "pr#1 open checks passing" in fresh and len(fake.requests) == asked + 1
    shown = trails("show", "s1", cwd=repo, env=env).stdout
    assert "open, checks passing, review approved" in shown
    fake.set_checks("o", "app", 1, [FAILING])
    fake.add_run("o", "app", Run(5, RUN_JOBS, _run_logs()))
    res = trails("pr", "s1", "--fix", "--json", cwd=repo, env=env)
    assert res.code == 0 and res.json["sent_to_agent"] is True, res.stderr
    done = "FAILED tests/test_x.py::test_y - assert 1 == 2"
    wait_until(lambda: log.exists() and done in log.read_text(), message="the failing check and its log sent")
    sent = log.read_text().splitlines()
    assert any(line.startswith("- unit-tests (failure) https://") for line in sent)
    # The last 20 lines of the failed step's log, as they were written (no gh prefix, no timestamp) …
    tail = [line.strip() for line in sent[sent.index("  last lines of its log:") + 1:]]
    assert tail == [f"collected line {i}" for i in range(6, 25)] + [done]
    # … of this check's job alone: not the run's other failing job, nor a step that passed.
    assert "e2e exploded" not in log.read_text() and "setting up the runner" not in log.read_text()
    assert "\t" not in log.read_text()
    asked = [r["url"] for r in fake.requests if "/actions/" in r["url"] or "blobs." in r["url"]]
    assert any(u.endswith("/actions/jobs/7") for u in asked) and any("blobs.github.localhost" in u for u in asked)


def test_a_remote_that_is_not_github_gets_a_push_and_a_compare_url(repo: Path, tmp_path: Path,
                                                                  github: tuple[FakeGitHub, dict[str, str]]) -> None:
    fake, env = github
    bare = _remote(repo, tmp_path, "https://git.example.org/team/app.git")
    _session(repo, env)
    res = trails("pr", "s1", "--json", cwd=repo, env=env)
    assert res.code == 0, res.stderr
    assert res.json["created"] is False and res.json["pushed"] is True
    assert res.json["url"] == "https://git.example.org/team/app/compare/main...trails/s1?expand=1"
    assert git(bare, "rev-parse", "refs/heads/trails/s1")
    assert fake.requests == []
    no_pr = trails("pr", "s1", "--checks", "--json", cwd=repo, env=env)
    assert no_pr.code == 2 and "has no pull request" in no_pr.error["message"]


def test_pr_refusals(repo: Path, github: tuple[FakeGitHub, dict[str, str]]) -> None:
    _, env = github
    _session(repo, env)
    res = trails("pr", "s1", "--json", cwd=repo, env=env)
    assert res.code == 2 and "has no remote" in res.error["message"]
    assert trails("pr", "s1", "--checks", "--draft", "--json", cwd=repo, env=env).error["code"] == "usage"
