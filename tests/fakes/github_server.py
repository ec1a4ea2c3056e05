"""A stand-in for the few GitHub API calls the real `gh` CLI (2.23) makes for `pr create` and `pr view`.

gh talks plain HTTP to `http://api.github.localhost/` when `GH_HOST=github.localhost` (its
development host); with `HTTP_PROXY` naming this server, every request reaches it as a proxy request
(`POST http://api.github.localhost/graphql`), so the real gh binary runs unchanged. Use
:meth:`FakeGitHub.gh_env` for the environment and :meth:`FakeGitHub.add_repo` for a repository; pull
requests made through it are in ``repo.pulls``, and ``set_checks`` scripts their status checks.
GraphQL operations are answered by name (``query RepositoryInfo``, ``mutation PullRequestCreate``, …).

``add_run`` scripts an Actions workflow run for `gh run view ID [--job ID] --log-failed`, which reads
(REST, as GitHub serves them) the run, its jobs, and the run's logs: a zip of `JOB/N_STEP.txt` files,
answered as GitHub does with a redirect to an unauthenticated blob URL (on BLOB_HOST, also proxied here).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

HOST = "github.localhost"
BLOB_HOST = "blobs.github.localhost"  # where GitHub's redirect for a run's logs points (signed, no token)
JSON = dict[str, Any]
_OPERATION = re.compile(r"\b(query|mutation)\s+(\w+)")
_REST = re.compile(r"/repos/([^/]+)/([^/]+)/actions/(runs|jobs|workflows)/(\d+)(/jobs|/logs)?")
_BLOB = re.compile(rf"/{re.escape(BLOB_HOST)}/([^/]+)/([^/]+)/(\d+)/logs\.zip")
_TIME = "2026-01-01T00:00:00Z"


@dataclass
class Pull:
    number: int
    title: str
    body: str
    head: str
    base: str
    draft: bool
    state: str = "OPEN"
    review: str = ""
    checks: list[JSON] = field(default_factory=list)  # CheckRun / StatusContext nodes

    def url(self, owner: str, name: str) -> str:
        return f"https://{HOST}/{owner}/{name}/pull/{self.number}"


@dataclass
class Run:
    id: int
    jobs: list[JSON]  # {"id", "name", "conclusion", "steps": [{"name", "number", "conclusion"}]}
    log_zip: bytes  # what GET .../runs/ID/logs ends at: members JOB_NAME/STEP_NUMBER_STEP_NAME.txt
    conclusion: str = "failure"


@dataclass
class Repo:
    owner: str
    name: str
    default_branch: str = "main"
    pulls: list[Pull] = field(default_factory=list)
    runs: dict[int, Run] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return f"R_{self.owner}_{self.name}"


class FakeGitHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[JSON] = []  # {"method", "url", "operation", "variables", "auth"}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- set-up -----------------------------------------------------------------------------

    def add_repo(self, owner: str, name: str) -> Repo:
        repo = Repo(owner, name)
        self.repos[f"{owner}/{name}".lower()] = repo
        return repo

    def set_checks(self, owner: str, name: str, number: int, checks: list[JSON], review: str = "") -> None:
        pull = self.repos[f"{owner}/{name}".lower()].pulls[number - 1]
        pull.checks, pull.review = checks, review

    def add_run(self, owner: str, name: str, run: Run) -> None:
        self.repos[f"{owner}/{name}".lower()].runs[run.id] = run

    @property
    def proxy_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def gh_env(self, config_dir: Path, token: str = "gho_fake_token_of_the_user") -> dict[str, str]:
        """The environment a logged-in user's gh would have, pointed here (the token sits in gh's
        own hosts.yml, as after `gh auth login`)."""
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "hosts.yml").write_text(f"{HOST}:\n    oauth_token: {token}\n    user: tester\n"
                                              "    git_protocol: https\n")
        return {"GH_CONFIG_DIR": str(config_dir), "GH_HOST": HOST, "HTTP_PROXY": self.proxy_url,
                "http_proxy": self.proxy_url, "NO_PROXY": "", "no_proxy": "", "GH_PROMPT_DISABLED": "1",
                "GH_NO_UPDATE_NOTIFIER": "1"}

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(_Handler):
            github = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def operations(self) -> list[str]:
        with self._lock:
            return [r["operation"] for r in self.requests]

    # --- answers ----------------------------------------------------------------------------

    def graphql(self, operation: str, variables: JSON) -> JSON:
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return {"errors": [{"message": f"the fake GitHub does not know the operation {operation}"}]}
        result: JSON = handler(variables)
        return result

    def _repo(self, variables: JSON) -> Repo | None:
        return self.repos.get(f"{variables.get('owner')}/{variables.get('name') or variables.get('repo')}".lower())

    @staticmethod
    def _not_found(variables: JSON) -> JSON:
        return {"data": {"repository": None}, "errors": [{
            "type": "NOT_FOUND", "path": ["repository"],
            "message": f"Could not resolve to a Repository with the name '{variables.get('owner')}/"
                       f"{variables.get('name') or variables.get('repo')}'."}]}

    def _repo_fields(self, repo: Repo) -> JSON:
        return {"id": repo.node_id, "name": repo.name, "owner": {"login": repo.owner}, "hasIssuesEnabled": True,
                "description": "", "hasWikiEnabled": False, "viewerPermission": "ADMIN",
                "defaultBranchRef": {"name": repo.default_branch}, "isPrivate": False}

    def _op_RepositoryInfo(self, variables: JSON) -> JSON:
        repo = self._repo(variables)
        if repo is None:
            return self._not_found(variables)
        return {"data": {"repository": {**self._repo_fields(repo), "parent": None, "mergeCommitAllowed": True,
                                        "rebaseMergeAllowed": True, "squashMergeAllowed": True}}}

    def _op_PullRequestForBranch(self, variables: JSON) -> JSON:
        repo = self._repo(variables)
        if repo is None:
            return self._not_found(variables)
        nodes = [self._pull_fields(repo, p) for p in repo.pulls if p.head == variables.get("headRefName")
                 and p.state in variables.get("states", ["OPEN"])]
        return {"data": {"repository": {"pullRequests": {"nodes": nodes}}}}

    def _op_PullRequestCreate(self, variables: JSON) -> JSON:
        given = variables["input"]
        repo = next((r for r in self.repos.values() if r.node_id == given["repositoryId"]), None)
        if repo is None:
            return {"errors": [{"message": "no such repository"}]}
        pull = Pull(len(repo.pulls) + 1, given["title"], given.get("body", ""), given["headRefName"],
                    given["baseRefName"], bool(given.get("draft")))
        repo.pulls.append(pull)
        return {"data": {"createPullRequest": {"pullRequest": self._pull_fields(repo, pull)}}}

    def _op_PullRequestByNumber(self, variables: JSON) -> JSON:
        repo = self._repo(variables)
        if repo is None:
            return self._not_found(variables)
        number = int(variables["pr_number"])
        if not 0 < number <= len(repo.pulls):
            return {"data": {"repository": {"pullRequest": None}}, "errors": [{
                "type": "NOT_FOUND", "message": f"Could not resolve to a PullRequest with the number of {number}."}]}
        return {"data": {"repository": {"pullRequest": self._pull_fields(repo, repo.pulls[number - 1])}}}

    # --- REST (Actions) ------------------------------------------------------------------------

    def rest(self, path: str) -> tuple[int, JSON | bytes, dict[str, str]]:
        """(status, JSON or raw bytes, extra headers) for a GET of `path` (without the query)."""
        blob = _BLOB.fullmatch(path)
        if blob is not None:
            held = self.repos.get(f"{blob.group(1)}/{blob.group(2)}".lower())
            run = held.runs.get(int(blob.group(3))) if held else None
            if run is None:
                return 404, b"<Error><Code>BlobNotFound</Code></Error>", {"Content-Type": "application/xml"}
            return 200, run.log_zip, {"Content-Type": "application/zip"}
        found = _REST.fullmatch(path)
        repo = self.repos.get(f"{found.group(1)}/{found.group(2)}".lower()) if found else None
        if found is None or repo is None:
            return 404, {"message": "Not Found"}, {}
        kind, number, tail = found.group(3), int(found.group(4)), found.group(5) or ""
        if kind == "workflows":  # gh names a run by its workflow's name
            if number != 1 or tail:
                return 404, {"message": "Not Found"}, {}
            return 200, {"id": 1, "node_id": "W_1", "name": "CI", "path": ".github/workflows/ci.yml",
                         "state": "active"}, {}
        if kind == "jobs":
            owning = next((r for r in repo.runs.values() for j in r.jobs if j["id"] == number), None)
            if owning is None or tail:
                return 404, {"message": "Not Found"}, {}
            return 200, self._job_fields(repo, owning, next(j for j in owning.jobs if j["id"] == number)), {}
        run = repo.runs.get(number)
        if run is None:
            return 404, {"message": "Not Found"}, {}
        if tail == "":
            return 200, self._run_fields(repo, run), {}
        if tail == "/jobs":
            jobs = [self._job_fields(repo, run, job) for job in run.jobs]
            return 200, {"total_count": len(jobs), "jobs": jobs}, {}
        if tail == "/logs":  # GitHub answers 302 to a short-lived signed URL on another host
            return 302, b"", {"Location": f"http://{BLOB_HOST}/{repo.owner}/{repo.name}/{run.id}/logs.zip"}
        return 404, {"message": "Not Found"}, {}

    def _run_fields(self, repo: Repo, run: Run) -> JSON:
        api = f"http://api.{HOST}/repos/{repo.owner}/{repo.name}/actions/runs/{run.id}"
        return {"id": run.id, "name": "CI", "display_title": "CI", "workflow_id": 1, "run_number": run.id,
                "run_attempt": 1, "event": "pull_request", "status": "completed", "conclusion": run.conclusion,
                "head_branch": "trails/s1", "path": ".github/workflows/ci.yml", "head_sha": "0" * 40,
                "created_at": _TIME, "updated_at": _TIME,
                "run_started_at": _TIME, "url": api, "jobs_url": f"{api}/jobs", "logs_url": f"{api}/logs",
                "html_url": f"https://{HOST}/{repo.owner}/{repo.name}/actions/runs/{run.id}",
                "head_repository": {"owner": {"login": repo.owner}, "name": repo.name}}

    def _job_fields(self, repo: Repo, run: Run, job: JSON) -> JSON:
        api = f"http://api.{HOST}/repos/{repo.owner}/{repo.name}"
        steps = [{"status": "completed", "started_at": _TIME, "completed_at": _TIME, **step}
                 for step in job.get("steps", [])]
        return {"id": job["id"], "run_id": run.id, "name": job["name"], "status": "completed",
                "conclusion": job.get("conclusion", "failure"), "started_at": _TIME, "completed_at": _TIME,
                "steps": steps, "check_run_url": f"{api}/check-runs/{job['id']}",
                "url": f"{api}/actions/jobs/{job['id']}",
                "html_url": f"https://{HOST}/{repo.owner}/{repo.name}/actions/runs/{run.id}/job/{job['id']}"}

    def _pull_fields(self, repo: Repo, pull: Pull) -> JSON:
        return {
            "id": f"PR_{pull.number}", "number": pull.number, "url": pull.url(repo.owner, repo.name),
            "title": pull.title, "body": pull.body, "state": pull.state, "isDraft": pull.draft,
            "headRefName": pull.head, "baseRefName": pull.base, "reviewDecision": pull.review or None,
            "headRepositoryOwner": {"login": repo.owner}, "headRepository": {"name": repo.name},
            "isCrossRepository": False, "maintainerCanModify": False,
            "statusCheckRollup": {"nodes": [{"commit": {"statusCheckRollup": {"contexts": {
                "nodes": pull.checks, "pageInfo": {"hasNextPage": False, "endCursor": ""}}}}}]},
        }


class _Handler(BaseHTTPRequestHandler):
    github: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        found = _OPERATION.search(body.get("query", ""))
        operation = found.group(2) if found else "?"
        with self.github._lock:
            self.github.requests.append({"method": "POST", "url": self.path, "operation": operation,
                                         "variables": body.get("variables", {}),
                                         "auth": self.headers.get("Authorization")})
        if not self.path.endswith("/graphql"):
            self._send(404, {"message": "Not Found"})
            return
        self._send(200, self.github.graphql(operation, body.get("variables", {})))

    def do_GET(self) -> None:
        with self.github._lock:
            self.github.requests.append({"method": "GET", "url": self.path, "operation": self.path,
                                         "variables": {}, "auth": self.headers.get("Authorization")})
        # A proxy request names the whole URL: http://api.github.localhost/repos/... or http://BLOB_HOST/...
        url = urlsplit(self.path)
        path = url.path if url.netloc == f"api.{HOST}" else f"/{url.netloc}{url.path}"
        status, data, headers = self.github.rest(path)
        self._send(status, data, headers)

    def _send(self, status: int, data: JSON | bytes, headers: dict[str, str] | None = None) -> None:
        out = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_response(status)
        extra = headers or {}
        self.send_header("Content-Type", extra.pop("Content-Type", "application/json; charset=utf-8"))
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
