"""A stand-in for the few GitHub API calls the real `gh` CLI (2.23) makes for `pr create` and `pr view`.

gh talks plain HTTP to `http://api.github.localhost/` when `GH_HOST=github.localhost` (its
development host); with `HTTP_PROXY` naming this server, every request reaches it as a proxy request
(`POST http://api.github.localhost/graphql`), so the real gh binary runs unchanged. Use
:meth:`FakeGitHub.gh_env` for the environment and :meth:`FakeGitHub.add_repo` for a repository; pull
requests made through it are in ``repo.pulls``, and ``set_checks`` scripts their status checks.
GraphQL operations are answered by name (``query RepositoryInfo``, ``mutation PullRequestCreate``, …).
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

HOST = "github.localhost"
JSON = dict[str, Any]
_OPERATION = re.compile(r"\b(query|mutation)\s+(\w+)")


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
class Repo:
    owner: str
    name: str
    default_branch: str = "main"
    pulls: list[Pull] = field(default_factory=list)

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
        self._send(404, {"message": "Not Found"})

    def _send(self, status: int, data: JSON) -> None:
        out = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
