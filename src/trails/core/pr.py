"""Pull requests for a session's branch: push, open one through the forge's CLI, follow its checks.

The branch is pushed to the repository's remote with git; the pull request is opened with `gh` (or
GitLab's `glab`), logged in by the user — trails keeps no token and puts none on a command line.
Without either, or for a remote that is neither, the push is done and the remote's compare URL is
printed. What was opened is stored in `session.pr`; its state and checks are refreshed
from `gh pr view` when read (`ls`, `show`, `pr --checks`), at most every PR_REFRESH_SECONDS.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import GitError, InvalidInput, SessionStateError, TrailsError
from trails.infra import forge
from trails.infra.git import Git

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine
    from trails.core.models import Session

PR_REFRESH_SECONDS = 300.0
_FAILED = {"FAILURE", "ERROR", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED", "STARTUP_FAILURE"}
_PASSED = {"SUCCESS", "NEUTRAL", "SKIPPED"}
_RUN_ID = re.compile(r"/actions/runs/(\d+)(?:/job/(\d+))?")
# What Actions puts before each line of a step's log (gh passes it through): 2026-01-01T00:00:03.1234567Z
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z ")


class ForgeError(TrailsError):
    """The forge's CLI (gh, glab) refused or failed."""

    code = "forge_error"


@dataclass
class PrResult:
    session: str
    branch: str
    remote: str
    pushed: bool
    url: str | None = None  # the pull request's, else the remote's compare page (None: unknown)
    number: int | None = None
    created: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session, "branch": self.branch, "remote": self.remote, "pushed": self.pushed,
                "url": self.url, "number": self.number, "created": self.created, "notes": self.notes}


def refresh_seconds(env: Mapping[str, str]) -> float:
    value = env.get("TRAILS_PR_REFRESH_SECONDS", "")
    try:
        return float(value) if value else PR_REFRESH_SECONDS
    except ValueError:
        return PR_REFRESH_SECONDS


def open_pr(engine: Engine, name: str, *, draft: bool = False, title: str | None = None, body: str | None = None,
            base: str | None = None, caller: Caller) -> PrResult:
    """Push the session's branch and open a pull request for it (or say where to open one)."""
    session = engine.get_session(name, caller=caller)
    env = caller.env
    if not session.branch or not session.repo_root:
        raise InvalidInput(f"session {name!r} has no branch of its own ({session.mode.value} mode): nothing to push")
    repo = Git(session.repo_root)
    engine.provider(session.mode).catch_up(session)  # a container agent's commits onto its branch
    remote_name = _remote(repo)
    target = base or session.extra.get("base_branch")
    if not target:
        raise InvalidInput(f"session {name!r} did not start from a branch", hint="name the base with --base")
    res = repo.push(remote_name, session.branch)
    if not res.ok:
        raise GitError(f"git push of {session.branch} to {remote_name} failed: {(res.stderr or res.stdout).strip()}")
    result = PrResult(name, session.branch, remote_name, pushed=True)
    stored = session.pr
    if stored:
        result.url, result.number = stored.get("url"), stored.get("number")
        result.notes.append(f"pushed; the pull request #{result.number} exists already")
        return result
    remote = forge.parse_remote(repo.config_get(f"remote.{remote_name}.url") or "")
    text_title = title or default_title(session)
    text_body = body if body is not None else default_body(session, repo, target)
    place = Path(session.repo_root)
    if remote is not None and forge.is_github(remote.host, env) and forge.available("gh", env):
        args = ["pr", "create", "--repo", f"{remote.host}/{remote.path}", "--head", session.branch, "--base", target,
                "--title", text_title, "--body-file", "-", *(["--draft"] if draft else [])]
        out = forge.gh(*args, cwd=place, env=env, input=text_body)
        if not out.ok:
            raise ForgeError(f"gh pr create failed: {(out.stderr or out.stdout).strip()}",
                             hint="`gh auth status` shows whether gh is logged in to " + remote.host)
        result.url = out.stdout.strip().splitlines()[-1]
        result.number = _number(result.url)
        result.created = True
        _store(engine, session, {"url": result.url, "number": result.number, "forge": "github",
                                 "repo": f"{remote.host}/{remote.path}", "base": target, "head": session.branch})
    elif remote is not None and forge.is_gitlab(remote.host, env) and forge.available("glab", env):
        args = ["mr", "create", "--source-branch", session.branch, "--target-branch", target, "--title", text_title,
                "--description", text_body, "--yes", *(["--draft"] if draft else [])]
        out = forge.glab(*args, cwd=place, env=env)
        if not out.ok:
            raise ForgeError(f"glab mr create failed: {(out.stderr or out.stdout).strip()}")
        result.url = next((w for w in out.stdout.split() if w.startswith("http")), None)
        result.number = _number(result.url or "")
        result.created = True
        _store(engine, session, {"url": result.url, "number": result.number, "forge": "gitlab",
                                 "repo": f"{remote.host}/{remote.path}", "base": target, "head": session.branch})
    else:
        result.url = compare_url(remote, target, session.branch, env) if remote else None
        why = ("gh is not installed" if remote and forge.is_github(remote.host, env)
               else f"{remote_name} is not a GitHub or GitLab remote (or their CLI is not installed)")
        result.notes.append(f"pushed; no pull request was opened ({why})"
                            + (f": open one at {result.url}" if result.url else ""))
    engine.store.audit("pr_opened" if result.created else "branch_pushed", name, remote=remote_name,
                       url=result.url, number=result.number, caller=caller.label)
    return result


def _remote(repo: Git) -> str:
    remotes = repo.remotes()
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    if not remotes:
        raise InvalidInput(f"{repo.root} has no remote to push to", hint="add one with `git remote add origin URL`")
    raise InvalidInput(f"{repo.root} has several remotes and none is called origin: {', '.join(remotes)}")


def _number(url: str) -> int | None:
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _store(engine: Engine, session: Session, pr: dict[str, Any]) -> None:
    engine.store.update_session(session.id, pr=pr)
    session.pr = pr


def default_title(session: Session) -> str:
    prompt = str(session.extra.get("prompt") or "").strip()
    first = prompt.splitlines()[0].strip() if prompt else ""
    if first:
        return first if len(first) <= 72 else first[:71] + "…"
    return f"{session.name}: work of {session.agent} (trails session)"


def default_body(session: Session, repo: Git, base: str) -> str:
    assert session.branch is not None
    prompt = str(session.extra.get("prompt") or "").strip()
    parts = [f"Made by the agent `{session.agent}` in the trails session `{session.name}` "
             f"(branch `{session.branch}`)."]
    if prompt:
        parts += ["", "Prompt:", "", *(f"> {line}" for line in prompt.splitlines())]
    res = repo.run("merge-base", base, f"refs/heads/{session.branch}", check=False)
    if res.ok:
        stat = repo.diff(res.stdout.strip(), f"refs/heads/{session.branch}", stat=True).rstrip()
        if stat:
            parts += ["", "```", stat, "```"]
    return "\n".join(parts) + "\n"


def compare_url(remote: forge.Remote, base: str, branch: str, env: Mapping[str, str]) -> str | None:
    if forge.is_gitlab(remote.host, env):
        return (f"{remote.web}/-/merge_requests/new?merge_request%5Bsource_branch%5D={branch}"
                f"&merge_request%5Btarget_branch%5D={base}")
    if forge.is_github(remote.host, env) or "." in remote.host:
        return f"{remote.web}/compare/{base}...{branch}?expand=1"
    return None


# --- state and checks ---------------------------------------------------------------------------


def summarize(rollup: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """("passing" | "failing" | "pending" | "none", the failing checks) from gh's statusCheckRollup."""
    failing, pending = [], 0
    for item in rollup:
        if item.get("__typename") == "StatusContext":
            state = str(item.get("state") or "").upper()
            name, failed, done = str(item.get("context")), state in _FAILED, state == "SUCCESS"
        else:
            conclusion = str(item.get("conclusion") or "").upper()
            name = str(item.get("name"))
            failed = conclusion in _FAILED
            done = str(item.get("status") or "").upper() == "COMPLETED" and conclusion in _PASSED
        if failed:
            failing.append({"name": name, "url": item.get("detailsUrl") or item.get("targetUrl") or "",
                            "conclusion": item.get("conclusion") or item.get("state")})
        elif not done:
            pending += 1
    summary = "failing" if failing else "pending" if pending else "passing" if rollup else "none"
    return summary, failing


def refresh(engine: Engine, session: Session, env: Mapping[str, str]) -> dict[str, Any]:
    """Ask gh (as the caller, environment `env`) for the pull request's state and checks now; store
    and return `session.pr`."""
    pr: dict[str, Any] = dict(session.pr or {})
    if not pr:
        raise InvalidInput(f"session {session.name!r} has no pull request",
                           hint=f"open one with `trails pr {session.name}`")
    if pr.get("forge") != "github" or not forge.available("gh", env):
        return pr
    out = forge.gh("pr", "view", str(pr["number"]), "--repo", str(pr["repo"]), "--json",
                   "state,statusCheckRollup,reviewDecision", cwd=Path(session.repo_root or session.workdir),
                   env=env, timeout=20)
    pr["checked_at"] = time.time()
    if out.ok:
        import json

        data = json.loads(out.stdout)
        pr["checks"], failing = summarize(data.get("statusCheckRollup") or [])
        pr.update(state=data.get("state"), review=data.get("reviewDecision") or "",
                  failing=[f["name"] for f in failing], failing_detail=failing, error=None)
    else:
        pr["error"] = (out.stderr or out.stdout).strip()[:300]
    engine.store.update_session(session.id, pr=pr)
    session.pr = pr
    return pr


def refresh_stale(engine: Engine, sessions: list[Session], *, env: Mapping[str, str]) -> None:
    """Refresh the pull requests not checked for refresh_seconds() (only sessions that have one)."""
    limit = refresh_seconds(env)
    now = time.time()
    for session in sessions:
        pr = session.pr
        if pr and pr.get("forge") == "github" and now - float(pr.get("checked_at") or 0) >= limit:
            try:
                refresh(engine, session, env)
            except TrailsError:
                continue  # a read must not fail on a forge's hiccup; the stored state stays


def fix_message(session: Session, pr: dict[str, Any], env: Mapping[str, str]) -> str:
    """The message --fix sends: each failing check, with its log's tail when gh can fetch it."""
    lines = [f"trails: checks are failing on your pull request #{pr.get('number')} ({pr.get('url')}). "
             "Please look into these, fix them, and commit:"]
    for check in pr.get("failing_detail", []):
        conclusion = str(check.get("conclusion") or "").lower()
        lines.append(f"- {check['name']} ({conclusion}) {check.get('url') or ''}".rstrip())
        tail = _log_tail(session, pr, str(check.get("url") or ""), env)
        if tail:
            lines += ["  last lines of its log:", *(f"    {line}" for line in tail)]
    return "\n".join(lines)


def _log_tail(session: Session, pr: dict[str, Any], url: str, env: Mapping[str, str], count: int = 20) -> list[str]:
    found = _RUN_ID.search(url)
    if found is None or not forge.available("gh", env):
        return []
    # The check's own job when its URL names one; the whole run would mix in its other failing jobs.
    which = ["--job", found.group(2)] if found.group(2) else [found.group(1)]
    out = forge.gh("run", "view", *which, "--log-failed", "--repo", str(pr["repo"]),
                   cwd=Path(session.repo_root or session.workdir), env=env, timeout=30)
    if not out.ok:
        return []
    # gh prints each line as JOB<tab>STEP<tab>LINE: the agent gets LINE without the tabs (a tab typed
    # into an agent's input can complete or switch modes) and without Actions' timestamp.
    lines = [_STAMP.sub("", line.split("\t", 2)[-1]).replace("\t", " ") for line in out.stdout.rstrip().splitlines()]
    return lines[-count:]


def checks(engine: Engine, name: str, *, fix: bool = False, caller: Caller) -> dict[str, Any]:
    """The pull request's state and checks, asked for now; with fix, failing checks go to the agent."""
    session = engine.get_session(name, caller=caller)
    pr = refresh(engine, session, caller.env)
    out: dict[str, Any] = {"session": name, "pr": pr, "sent_to_agent": False}
    if fix:
        if not pr.get("failing"):
            out["note"] = "no failing checks: nothing was sent"
        elif not session.status.live:
            raise SessionStateError(f"session {name!r} is {session.status.value}: its agent cannot be asked")
        else:
            engine.send(name, fix_message(session, pr, caller.env), caller=caller)
            out["sent_to_agent"] = True
    return out
