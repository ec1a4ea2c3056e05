"""The HTTP API: one table of endpoints, each the typed request it sends to the trails server (its
fields from the path, then the query for GET or the JSON body otherwise) or a handler of its own.
The same table generates /api/openapi.json (openapi.py), so what is documented is what is served.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from trails import __version__
from trails.api import types as t
from trails.core.errors import InvalidInput, SessionNotFound, SessionStateError, TrailsError
from trails.core.models import LIVE_STATUSES, Mode, Status
from trails.ui.web import comments
from trails.ui.web.backend import Backend, error_json, http_status
from trails.ui.web.tokens import Access

Handler = Callable[[Request, "Context"], Awaitable[object]]
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


# --- web-only shapes ---------------------------------------------------------------------------------


class Me(msgspec.Struct, kw_only=True):
    read_only: bool
    version: str
    cwd: str  # where relative paths (a new session's cwd, a run file) are taken from
    runs_dir: str


class StartRun(msgspec.Struct, kw_only=True):
    file: str  # the run file, from the web server's directory
    id: str | None = None  # the run directory's name under the runs directory (default: file's stem and time)
    parallel: int = 1


class RunStarted(msgspec.Struct, kw_only=True):
    id: str
    out: str
    job: int


class RunSessionDetail(msgspec.Struct, kw_only=True):
    label: str
    result: dict[str, t.Json]
    diff: str | None
    transcript: str | None  # transcript.jsonl (or .txt) as the agent wrote it


# --- the table ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    request: type[t.Request[Any]] | None = None  # sent as it is, fields filled from path/query/body
    result: type | None = None  # what it answers (default: the request's result)
    handler: Handler | None = None
    body: type | None = None  # a handler's JSON body
    query: tuple[str, ...] = ()  # a handler's query parameters
    fixed: tuple[tuple[str, Any], ...] = ()  # request fields the web sets itself

    @property
    def answers(self) -> type:
        answer = self.result or (self.request.result if self.request is not None else None)
        assert answer is not None
        return answer


class Context:
    """What handlers share: the backend, the runs this web server started."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.runs: dict[str, int] = {}  # run id → its job on the trails server
        self.runs_lock = threading.Lock()

    def runs_dir(self) -> Path:
        return Path(self.backend.cwd, self.backend.runs_dir)

    def run_out(self, run_id: str) -> str:
        if not _RUN_ID.fullmatch(run_id) or run_id in (".", ".."):
            raise InvalidInput(f"not a run id: {run_id!r}", field="id")
        return str(self.runs_dir() / run_id)


def access_of(request: Request) -> Access:
    access = request.scope.get("state", {}).get("access")
    assert isinstance(access, Access)  # security.Guard put it there
    return access


def decode(params: dict[str, Any], kind: type[Any], *, strict: bool) -> Any:
    try:
        return msgspec.convert(params, kind, strict=strict)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = text.rsplit("at `$.", 1)[-1].rstrip("`").split(".")[0].split("[")[0] if "at `$." in text else None
        raise InvalidInput(f"invalid request: {text}", field=where) from None


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


async def params_of(request: Request, endpoint: Endpoint) -> dict[str, Any]:
    own = {"op", *request.path_params}
    if request.method == "GET":
        given = {k: v for k, v in request.query_params.items() if k not in own}
    else:
        given = {k: v for k, v in (await body_of(request)).items() if k not in own}
    return {**given, **dict(endpoint.fixed), **request.path_params}


async def send_request(request: Request, ctx: Context, endpoint: Endpoint) -> object:
    assert endpoint.request is not None
    params = await params_of(request, endpoint)
    typed = decode(params, endpoint.request, strict=request.method != "GET")
    return await ctx.backend.call(typed, access_of(request))


HIDDEN = "(hidden)"


def _hide_env(session: t.SessionInfo) -> t.SessionInfo:
    return msgspec.structs.replace(session, env=dict.fromkeys(session.env, HIDDEN)) if session.env else session


def for_viewer(result: object) -> object:
    """What a read-only token sees of a result: a session's `--env` values (API keys, say) hidden."""
    if isinstance(result, t.SessionInfo):
        return _hide_env(result)
    if isinstance(result, t.SessionList):
        return msgspec.structs.replace(result, sessions=[_hide_env(s) for s in result.sessions])
    if isinstance(result, t.ShowResult):
        return msgspec.structs.replace(result, session=_hide_env(result.session))
    return result


def endpoint_view(endpoint: Endpoint, ctx: Context) -> Callable[[Request], Awaitable[Response]]:
    async def view(request: Request) -> Response:
        try:
            if endpoint.handler is not None:
                result = await endpoint.handler(request, ctx)
            else:
                result = await send_request(request, ctx, endpoint)
        except TrailsError as exc:
            return json_response(error_json(exc), http_status(exc))
        return json_response(result if access_of(request) is Access.FULL else for_viewer(result))

    return view


def json_response(data: object, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


# --- handlers ---------------------------------------------------------------------------------------


_ENDED = frozenset(s.value for s in Status) - {s.value for s in LIVE_STATUSES}


def _choices(value: str | None, allowed: set[str], field: str) -> set[str]:
    chosen = {v.strip() for v in (value or "").split(",") if v.strip()}
    unknown = chosen - allowed
    if unknown:
        raise InvalidInput(f"unknown {field} {', '.join(sorted(unknown))}: choose from {', '.join(sorted(allowed))}",
                           field=field)
    return chosen


async def list_sessions(request: Request, ctx: Context) -> t.SessionList:
    query = request.query_params
    statuses = _choices(query.get("status"), {s.value for s in Status}, "status")
    modes = _choices(query.get("mode"), {m.value for m in Mode}, "mode")
    text = (query.get("q") or "").strip().lower()
    every = query.get("all", "").lower() in ("1", "true", "yes")
    listed = await ctx.backend.call(t.ListSessions(include_ended=every or bool(statuses & _ENDED), hosts=True),
                                    access_of(request))
    # One list for the page: every host's sessions beside this machine's, each with its `host`; `hosts`
    # keeps only whether each host could be asked (an unreachable one's sessions stay on the page, greyed).
    hosts = listed.hosts if isinstance(listed.hosts, dict) else {}
    every_session = [*listed.sessions, *(s for found in hosts.values() for s in found.sessions)]

    def keep(s: t.SessionInfo) -> bool:
        words = " ".join(filter(None, (s.name, s.agent, s.branch or "", s.status.value))).lower()
        return ((not statuses or s.status.value in statuses) and (not modes or s.mode.value in modes)
                and (not text or text in words))

    shown = t.SessionList(sessions=[s for s in every_session if keep(s)])
    if hosts:
        shown.hosts = {name: msgspec.structs.replace(found, sessions=[]) for name, found in hosts.items()}
    return shown


async def send_comments(request: Request, ctx: Context) -> t.SendResult:
    body = decode(await body_of(request), comments.ReviewComments, strict=True)
    text = comments.message(body.comments)
    return await ctx.backend.call(t.Send(name=request.path_params["name"], text=text), access_of(request))


async def me(request: Request, ctx: Context) -> Me:
    return Me(read_only=access_of(request) is not Access.FULL, version=__version__, cwd=ctx.backend.cwd,
              runs_dir=str(ctx.runs_dir()))


async def list_runs(request: Request, ctx: Context) -> t.RunList:
    return await ctx.backend.call(t.ListRuns(directory=str(ctx.runs_dir())), access_of(request))


async def show_run(request: Request, ctx: Context) -> t.RunDetail:
    out = ctx.run_out(request.path_params["id"])
    return await ctx.backend.call(t.ShowRun(out=out), access_of(request))


async def run_session(request: Request, ctx: Context) -> RunSessionDetail:
    out, label, access = ctx.run_out(request.path_params["id"]), request.path_params["label"], access_of(request)
    detail = await ctx.backend.call(t.ShowRun(out=out), access)
    if label not in detail.results:
        raise InvalidInput(f"run {request.path_params['id']} has no session {label!r}", field="label")

    async def text(*names: str) -> str | None:
        for name in names:
            try:
                return (await ctx.backend.call(t.ReadRunFile(out=out, session=label, file=name), access)).text
            except InvalidInput:
                continue
        return None

    return RunSessionDetail(label=label, result=detail.results[label], diff=await text("session_diff.patch"),
                            transcript=await text("transcript.jsonl", "transcript.txt"))


async def run_file(request: Request, ctx: Context) -> t.RunFileText:
    p = request.path_params
    return await ctx.backend.call(t.ReadRunFile(out=ctx.run_out(p["id"]), session=p["label"], file=p["file"]),
                                  access_of(request))


async def start_run(request: Request, ctx: Context) -> RunStarted:
    body = decode(await body_of(request), StartRun, strict=True)
    if not body.file.strip():
        raise InvalidInput("give the run file", field="file")
    run_id = body.id or f"{Path(body.file).stem or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = ctx.run_out(run_id)
    with ctx.runs_lock:
        if run_id in ctx.runs:
            raise SessionStateError(f"run {run_id} is already running", field="id")
    client = ctx.backend.client(access_of(request))
    stream = await ctx.backend.run(client.stream, t.Run(run_file=body.file, out=out, parallel=body.parallel))
    job = await ctx.backend.run(_started, stream)
    with ctx.runs_lock:
        ctx.runs[run_id] = job

    def follow() -> None:
        try:
            for _ in stream:
                pass  # progress is in run.json and the event stream; the summary too
        except TrailsError:
            pass  # a failed or cancelled run says so in its run.json
        finally:
            with ctx.runs_lock:
                ctx.runs.pop(run_id, None)

    threading.Thread(target=follow, name=f"trails-web-run-{run_id}", daemon=True).start()
    return RunStarted(id=run_id, out=out, job=job)


def _started(stream: Iterator[t.Progress | t.EventInfo]) -> int:
    """The run's job, once the run has begun: a run file that cannot run is the answer's error instead."""
    job = None
    for item in stream:  # a TrailsError here is the run's, before anything ran
        if isinstance(item, t.JobStarted):
            job = item.job
        elif isinstance(item, t.RunProgress) and job is not None:
            return job
    raise InvalidInput("the run ended before it started")


async def cancel_run(request: Request, ctx: Context) -> t.CancelResult:
    run_id = request.path_params["id"]
    ctx.run_out(run_id)
    with ctx.runs_lock:
        job = ctx.runs.get(run_id)
    if job is None:
        raise SessionNotFound(f"no run {run_id!r} started from this web server is running", field="id")
    return await ctx.backend.call(t.Cancel(job=job), access_of(request))


S = "/api/sessions/{name}"
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/api/me", "What this token may do, and where paths are taken from", result=Me, handler=me),
    Endpoint("GET", "/api/sessions", "Sessions, every remote host's too, each with its `host` (live ones; status, "
                                     "mode and text filters; all=1: ended too); `hosts`: which could be reached",
             result=t.SessionList, handler=list_sessions, query=("status", "mode", "q", "all")),
    Endpoint("POST", "/api/sessions", "Create a session (the fields and checks of `trails new`)", t.Create),
    Endpoint("GET", S, "One session, its saved refs and audit entries", t.Show),
    Endpoint("POST", f"{S}/send", "Type a message into the agent, then Enter", t.Send),
    Endpoint("POST", f"{S}/pause", "Pause: save the work, stop the agent", t.Pause),
    Endpoint("POST", f"{S}/resume", "Resume a paused, ended or failed session", t.Resume),
    Endpoint("POST", f"{S}/kill", "End the session (force: save uncommitted work to a ref first)", t.Kill),
    Endpoint("POST", f"{S}/auto-yes", "Switch auto-yes on or off", t.AutoYes),
    Endpoint("POST", f"{S}/upgrade", "Move to a more isolated mode", t.Upgrade),
    Endpoint("POST", f"{S}/export", "Move to a less isolated mode (needs force)", t.Export),
    Endpoint("POST", f"{S}/merge", "Merge the session's branch into the main checkout's branch", t.Merge),
    Endpoint("GET", f"{S}/diff", "The session's changes against its base commit", t.Diff),
    Endpoint("GET", f"{S}/output", "What the agent's terminal shows (the last `lines`)", t.Output),
    Endpoint("POST", f"{S}/comments", "Review comments, sent to the agent as one message naming files and lines",
             result=t.SendResult, handler=send_comments, body=comments.ReviewComments),
    Endpoint("GET", "/api/events", "Stored events (after `since`)", t.Events),
    Endpoint("GET", "/api/runs", "The run directories under the runs directory", result=t.RunList, handler=list_runs),
    Endpoint("POST", "/api/runs", "Start a run from a run file (it runs while this web server does)",
             result=RunStarted, handler=start_run, body=StartRun),
    Endpoint("GET", "/api/runs/{id}", "A run's summary and each session's result", result=t.RunDetail,
             handler=show_run),
    Endpoint("GET", "/api/runs/{id}/sessions/{label}", "A run session's result, diff and transcript",
             result=RunSessionDetail, handler=run_session),
    Endpoint("GET", "/api/runs/{id}/sessions/{label}/files/{file}", "One of a run session's files",
             result=t.RunFileText, handler=run_file),
    Endpoint("POST", "/api/runs/{id}/cancel", "Cancel a run this web server started", result=t.CancelResult,
             handler=cancel_run),
    Endpoint("GET", "/api/git/worktrees", "The worktrees of the repositories trails knows", t.ListWorktrees),
    Endpoint("GET", "/api/git/status", "A worktree's git status", t.GitStatus),
    Endpoint("GET", "/api/git/diff", "A worktree's changes against HEAD, untracked files included", t.GitDiff),
    Endpoint("GET", "/api/git/file", "A file at HEAD and in the work tree", t.GitFile),
    Endpoint("GET", "/api/files/list", "A directory of a worktree", t.ListFiles),
    Endpoint("GET", "/api/files/find", "Files of a worktree whose path holds `q`", t.FindFiles),
)
