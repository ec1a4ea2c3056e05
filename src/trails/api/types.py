"""The typed API: one request type per operation, the results they return, errors and events.

Every front end (the CLI's `--json`, the TUI, later the web API's OpenAPI and the MCP tools' schemas)
is built from these types, so they say exactly what crosses the server's socket. A request is tagged
with its operation's name (`Show.op == "show"`) and names its result type (`Show.result`); JSON field
names are those `--json` printed before the server existed, which scripts rely on.

Fields that are free-form JSON by nature stay mappings of `Json` (any JSON value): a session's `extra` (settings,
pull request state, recovery notes written by many modules), an audit entry's `detail`, an event's
`data`, a run plan. Everything the front ends read by name has a field of its own.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Generic, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from trails.core.models import Mode, Status

T_co = TypeVar("T_co", covariant=True)
# Any JSON value: for the free-form parts named in the module docstring (the schema says so).
Json = Annotated[object, msgspec.Meta(extra_json_schema={"description": "any JSON value"})]

# --- results ----------------------------------------------------------------------------------------


class SessionInfo(msgspec.Struct, kw_only=True):
    """A session as core.models.Session holds it (the same fields, in the same order)."""

    id: int
    name: str
    agent: str
    command: list[str]
    mode: Mode
    status: Status
    workdir: str
    repo_root: str | None
    worktree_path: str | None
    branch: str | None
    base_commit: str | None
    tmux_session: str
    env: dict[str, str] = msgspec.field(default_factory=dict)
    status_reason: str | None = None
    auto_yes: bool = False
    conversation_id: str | None = None
    container_id: str | None = None
    limits: dict[str, Json] = msgspec.field(default_factory=dict)
    extra: dict[str, Json] = msgspec.field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    ended_at: float | None = None
    # What set the status: the agent's own hooks ("hook"), its screen ("screen"), or trails itself (None).
    status_source: str | None = None
    # Coordinators (issue #12): the user made this session one; a worker names the coordinator that made it.
    coordinator: bool = False
    parent: str | None = None
    host: str | UnsetType = UNSET  # the remote host it runs on (absent: this machine); address it HOST:NAME


class ModeDecision(msgspec.Struct, kw_only=True):
    mode: Mode
    requested: Mode
    source: str
    reason: str
    notes: list[str]
    rule: str | None = None


class CreateResult(msgspec.Struct, kw_only=True):
    session: SessionInfo
    mode_decision: ModeDecision
    notes: list[str]


class HostSessions(msgspec.Struct, kw_only=True):
    """A remote host's sessions as `list` with `hosts` found them. Unreachable (`error` says why), they
    are those it had when this home's server last listed it, or none it knows of: never reported as gone."""

    reachable: bool
    sessions: list[SessionInfo] = msgspec.field(default_factory=list)
    error: ApiError | UnsetType = UNSET


class SessionList(msgspec.Struct, kw_only=True):
    sessions: list[SessionInfo]
    hosts: dict[str, HostSessions] | UnsetType = UNSET  # with `hosts`: each configured host's


class CheckpointInfo(msgspec.Struct, kw_only=True):
    id: int
    session_name: str
    kind: str
    ref: str
    commit: str
    note: str
    created_at: float


class AuditEntryInfo(msgspec.Struct, kw_only=True):
    id: int
    ts: float
    session_name: str | None
    action: str
    detail: dict[str, Json]


class DiskReport(msgspec.Struct, kw_only=True):
    path: str
    bytes: int
    mb: float
    warn_mb: int
    warning: str | UnsetType = UNSET


class ShowResult(msgspec.Struct, kw_only=True):
    session: SessionInfo
    checkpoints: list[CheckpointInfo]
    audit: list[AuditEntryInfo]
    disk: DiskReport | UnsetType = UNSET  # only for a session whose worktree is on disk


class SendResult(msgspec.Struct, kw_only=True):
    session: str
    sent: str


class OutputResult(msgspec.Struct, kw_only=True):
    session: str
    output: str


class DiffStat(msgspec.Struct, kw_only=True):
    insertions: int
    deletions: int
    files: int


class DiffResult(msgspec.Struct, kw_only=True):
    session: str
    base_commit: str
    diff: str
    stat: DiffStat


class MergeResult(msgspec.Struct, kw_only=True):
    session: str
    branch: str
    into: str
    commit: str | None  # the base branch's new tip; None when there was nothing to merge
    notes: list[str]
    strategy: str
    cleaned_up: bool
    kept_ref: str | None


class RebaseResult(msgspec.Struct, kw_only=True):
    session: str
    branch: str
    onto: str
    before: str
    after: str
    notes: list[str]


class PrResult(msgspec.Struct, kw_only=True):
    session: str
    branch: str
    remote: str
    pushed: bool
    url: str | None
    number: int | None
    created: bool
    notes: list[str]


class FailingCheck(msgspec.Struct, kw_only=True):
    name: str
    url: str = ""
    conclusion: str | None = None


class PullRequestInfo(msgspec.Struct, kw_only=True):
    """What trails stores of a session's pull request (`extra["pr"]`); keys appear once known."""

    url: str | UnsetType | None = UNSET
    number: int | UnsetType | None = UNSET
    forge: str | UnsetType = UNSET
    repo: str | UnsetType = UNSET
    base: str | UnsetType = UNSET
    head: str | UnsetType | None = UNSET
    checked_at: float | UnsetType = UNSET
    state: str | UnsetType | None = UNSET
    checks: str | UnsetType = UNSET  # passing | failing | pending | none
    review: str | UnsetType = UNSET
    failing: list[str] | UnsetType = UNSET
    failing_detail: list[FailingCheck] | UnsetType = UNSET
    error: str | UnsetType | None = UNSET


class PrChecksResult(msgspec.Struct, kw_only=True):
    session: str
    pr: PullRequestInfo
    sent_to_agent: bool
    note: str | UnsetType = UNSET


class MoveResult(msgspec.Struct, kw_only=True):
    session: SessionInfo
    from_mode: Mode = msgspec.field(name="from")
    to_mode: Mode = msgspec.field(name="to")
    notes: list[str]
    restarted_with: str  # resume | continue | fresh


class KillResult(msgspec.Struct, kw_only=True):
    session: SessionInfo
    notes: list[str]
    saved_refs: list[str]


class AutoYesResult(msgspec.Struct, kw_only=True):
    session: str
    auto_yes: bool


class PauseResult(msgspec.Struct, kw_only=True):
    session: str
    notes: list[str]
    at: float
    conversation_id: str | None
    worktree_removed: bool
    ref: str | UnsetType = UNSET  # where the worktree's work was saved
    commit: str | UnsetType = UNSET
    dirty: bool | UnsetType = UNSET


class ResumeResult(msgspec.Struct, kw_only=True):
    session: str
    command: list[str]
    notes: list[str]
    conversation_id: str | None


class EventInfo(msgspec.Struct, kw_only=True):
    """One stored event: `id` grows by one per event (resume a subscription with `since`)."""

    id: int
    ts: float
    session: str | None
    kind: str
    data: dict[str, Json]
    caller: str | UnsetType | None = UNSET  # who caused it (user, web, agent:NAME), where known
    host: str | UnsetType = UNSET  # the remote host it happened on (absent: this machine)
    remote_id: int | UnsetType = UNSET  # its id on that host


class EventList(msgspec.Struct, kw_only=True):
    events: list[EventInfo]


class AuditList(msgspec.Struct, kw_only=True):
    entries: list[AuditEntryInfo]


class IgnoredSetting(msgspec.Struct, kw_only=True):
    key: str
    value: Json
    file: str | None
    why: str


class TrustResult(msgspec.Struct, kw_only=True):
    """`trust` (then digest, trusted_at, agents, ignored) or `trust --revoke` (then was_trusted)."""

    root: str
    digest: str | UnsetType = UNSET
    trusted_at: float | UnsetType = UNSET
    trusted: bool
    was_trusted: bool | UnsetType = UNSET
    agents: dict[str, str] | UnsetType = UNSET
    ignored: list[IgnoredSetting] | UnsetType = UNSET


class TrustedRepository(msgspec.Struct, kw_only=True):
    root: str
    digest: str
    trusted_at: float
    state: str  # trusted | changed | untrusted | missing


class TrustedList(msgspec.Struct, kw_only=True):
    repositories: list[TrustedRepository]


class AttachCommand(msgspec.Struct, kw_only=True):
    """The command that attaches a terminal to the session's pane (the client execs it)."""

    session: str
    argv: list[str]


class AttachResult(msgspec.Struct, kw_only=True):
    session: str
    exit_code: int


class ToolInfo(msgspec.Struct, kw_only=True):
    available: bool
    version: str | None
    socket: str | UnsetType = UNSET


class Nesting(msgspec.Struct, kw_only=True):
    container: bool
    wsl: bool
    ssh: bool


class ModeAvailability(msgspec.Struct, kw_only=True):
    available: bool
    reason: str | None
    how_to_enable: str | UnsetType = UNSET


class DoctorReport(msgspec.Struct, kw_only=True):
    tmux: ToolInfo
    git: ToolInfo
    repo: str | None
    trails_home: str
    nested: Nesting
    modes: dict[str, ModeAvailability]
    would_pick: dict[str, Json]  # a mode decision, or {"error": {...}} when settings do not load


class RunTotals(msgspec.Struct, kw_only=True):
    planned: int
    done: int
    ok: int
    failed: int
    cost_usd: float
    duration_s: float


class RunSummary(msgspec.Struct, kw_only=True):
    """A run's state as its run.json holds it; a dry run has only dry_run, plan and out."""

    out: str
    dry_run: bool | UnsetType = UNSET
    plan: dict[str, Json] | UnsetType = UNSET
    version: int | UnsetType = UNSET
    status: str | UnsetType = UNSET
    run_file: str | UnsetType = UNSET
    base_dir: str | UnsetType = UNSET
    work_dir: str | UnsetType = UNSET
    session_mode: str | UnsetType = UNSET
    parallel: int | UnsetType = UNSET
    started_at: float | UnsetType = UNSET
    finished_at: float | UnsetType | None = UNSET
    resumed: int | UnsetType = UNSET
    hypothesis: str | UnsetType | None = UNSET
    tags: list[str] | UnsetType = UNSET
    run_name: str | UnsetType | None = UNSET
    repo_name: str | UnsetType | None = UNSET
    provider: str | UnsetType | None = UNSET
    backend: str | UnsetType = UNSET
    matrix: Json | UnsetType = UNSET
    memory_seeded: bool | UnsetType = UNSET
    sessions: dict[str, dict[str, Json]] | UnsetType = UNSET
    totals: RunTotals | UnsetType = UNSET
    groups: dict[str, dict[str, Json]] | UnsetType = UNSET
    end_tag: str | UnsetType | None = UNSET
    interrupted: list[str] | UnsetType = UNSET  # snapshots of what interrupted attempts had written
    driver: dict[str, Json] | UnsetType = UNSET  # the process driving it (pid, host, start time)


class RunInfo(msgspec.Struct, kw_only=True):
    """One run directory as `trails runs` lists it."""

    out: str
    name: str
    status: str | None  # run.json's, but `interrupted` for a `running` one whose driver is gone
    planned: int
    done: int
    ok: int
    failed: int
    cost_usd: float
    started_at: float | None
    tags: list[str]
    hypothesis: str | None
    backend: str
    resume: str | None  # for an interrupted run: the command that continues it


class RunList(msgspec.Struct, kw_only=True):
    runs: list[RunInfo]


class ServerStatus(msgspec.Struct, kw_only=True):
    running: bool
    pid: int | None
    socket: str
    monitoring: bool = False  # the supervisor's watch over live sessions runs in it


class StopResult(msgspec.Struct, kw_only=True):
    stopped: bool


class CancelResult(msgspec.Struct, kw_only=True):
    job: int
    cancelled: bool  # False: no such job (it had already finished)


class Pong(msgspec.Struct, kw_only=True):
    pid: int
    version: str


class HookAck(msgspec.Struct, kw_only=True):
    """A hook report was taken (`accepted`), or left aside (no watch runs for the session)."""

    accepted: bool


class Done(msgspec.Struct, kw_only=True):
    """The result of an operation that has nothing to say but that it was done."""

    ok: bool = True


# --- progress (zero or more per request, before its result) ------------------------------------------


class JobStarted(msgspec.Struct, tag="job", tag_field="type", kw_only=True):
    """Sent first by a long operation: `job` is what `Cancel` names."""

    job: int


class ProgressLine(msgspec.Struct, tag="line", tag_field="type", kw_only=True):
    text: str


class RunProgress(msgspec.Struct, tag="run", tag_field="type", kw_only=True):
    kind: str  # run_started | session_started | session_finished | run_finished | note
    label: str | None = None
    detail: dict[str, Json] = msgspec.field(default_factory=dict)


class OutputChunk(msgspec.Struct, tag="output", tag_field="type", kw_only=True):
    text: str


class TerminalOutput(msgspec.Struct, tag="terminal", tag_field="type", kw_only=True):
    """Bytes a terminal's pane wrote (base64 in JSON). The first one repaints the screen as it is."""

    data: bytes


class TerminalSize(msgspec.Struct, tag="terminal_size", tag_field="type", kw_only=True):
    """The pane's size: sent when a terminal opens and whenever it changes."""

    cols: int
    rows: int


Progress = JobStarted | ProgressLine | RunProgress | OutputChunk | TerminalOutput | TerminalSize


class ApiError(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A TrailsError as it crosses the socket: the client raises it again with the same code and exit code."""

    code: str
    message: str
    hint: str | None = None
    field: str | None = None  # which request field was wrong
    exit_code: int = 1
    files: list[str] | None = None  # merge and rebase conflicts: the conflicting files
    onto: str | None = None
    sent_to_agent: bool | None = None


# --- requests ---------------------------------------------------------------------------------------


class Request(msgspec.Struct, Generic[T_co], kw_only=True, tag_field="op"):
    """Base of every request. `op` is the tag; `result` the type the server answers with."""

    result: ClassVar[type]
    # A job: it may take long, reports progress and can be cancelled.
    long: ClassVar[bool] = False

    @classmethod
    def op_name(cls) -> str:
        return str(cls.__struct_config__.tag)


class Create(Request[CreateResult], tag="create"):
    result = CreateResult
    long = True
    name: str
    agent: str
    cwd: str | None = None  # where the session works (relative to the caller's cwd; default: that)
    mode: str | None = None
    prompt: str | None = None
    branch: str | None = None
    base: str | None = None
    scope: list[str] = msgspec.field(default_factory=list)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    carry_changes: bool = False
    force: bool = False
    auto_yes: bool = False
    image: str | None = None
    network: str | None = None
    privileged: bool = False
    mounts: list[str] = msgspec.field(default_factory=list)
    cpus: float | None = None
    memory: str | None = None
    pids_limit: int | None = None
    no_hooks: bool = False
    no_mcp: bool = False  # its agent is not given trails' MCP server
    coordinator: bool = False  # its agent may run the orchestration tools (only the user may ask it)


class ListSessions(Request[SessionList], tag="list"):
    result = SessionList
    include_ended: bool = False
    hosts: bool = False  # also every configured remote host's (SessionList.hosts)


class Show(Request[ShowResult], tag="show"):
    result = ShowResult
    name: str


class Get(Request[SessionInfo], tag="get"):
    """One session's row, reconciled with tmux (what `show` starts from, without its history)."""

    result = SessionInfo
    name: str


class Send(Request[SendResult], tag="send"):
    result = SendResult
    name: str
    text: str


class Output(Request[OutputResult], tag="output"):
    result = OutputResult
    name: str
    lines: int | None = None


class FollowOutput(Request[Done], tag="follow_output"):
    """The last `lines` of output, then new output as OutputChunk progress until the session stops."""

    result = Done
    long = True
    name: str
    lines: int | None = None
    raw: bool = False


class Diff(Request[DiffResult], tag="diff"):
    result = DiffResult
    name: str
    stat: bool = False


class Merge(Request[MergeResult], tag="merge"):
    result = MergeResult
    long = True
    name: str
    strategy: str | None = None
    message: str | None = None
    cleanup: bool = False


class Rebase(Request[RebaseResult], tag="rebase"):
    result = RebaseResult
    long = True
    name: str
    onto: str | None = None
    to_agent: bool = False


class OpenPr(Request[PrResult], tag="pr"):
    result = PrResult
    long = True
    name: str
    draft: bool = False
    title: str | None = None
    body: str | None = None
    base: str | None = None


class PrChecks(Request[PrChecksResult], tag="pr_checks"):
    result = PrChecksResult
    long = True
    name: str
    fix: bool = False


class Upgrade(Request[MoveResult], tag="upgrade"):
    result = MoveResult
    long = True
    name: str
    to: str
    image: str | None = None
    network: str | None = None
    cpus: float | None = None
    memory: str | None = None
    pids_limit: int | None = None
    branch: str | None = None
    force: bool = False


class Export(Request[MoveResult], tag="export"):
    result = MoveResult
    long = True
    name: str
    to: str
    force: bool = False


class Kill(Request[KillResult], tag="kill"):
    result = KillResult
    name: str
    force: bool = False
    delete_branch: bool = False
    no_hooks: bool = False


class AutoYes(Request[AutoYesResult], tag="auto_yes"):
    result = AutoYesResult
    name: str
    on: bool


class Pause(Request[PauseResult], tag="pause"):
    result = PauseResult
    name: str


class Resume(Request[ResumeResult], tag="resume"):
    result = ResumeResult
    name: str


class Events(Request[EventList], tag="events"):
    result = EventList
    session: str | None = None
    since: int | None = None
    limit: int | None = None


class Subscribe(Request[Done], tag="subscribe"):
    """Stored events after `since` (None: none), then live ones, as event frames, until cancelled."""

    result = Done
    long = True
    since: int | None = None
    session: str | None = None


class Audit(Request[AuditList], tag="audit"):
    result = AuditList
    session: str | None = None
    limit: int | None = None


class TrustRepository(Request[TrustResult], tag="trust"):
    result = TrustResult
    path: str  # relative paths are taken from the caller's cwd
    revoke: bool = False


class ListTrusted(Request[TrustedList], tag="trusted"):
    result = TrustedList


class AttachCommandRequest(Request[AttachCommand], tag="attach_command"):
    result = AttachCommand
    name: str


class Run(Request[RunSummary], tag="run"):
    """A run file's sessions, headless; RunProgress as it goes. Paths are taken from the caller's cwd."""

    result = RunSummary
    long = True
    run_file: str | None = None
    out: str | None = None
    parallel: int = 1
    dry_run: bool = False
    resume_run: str | None = None
    ray_address: str | None = None


class ListRuns(Request[RunList], tag="runs"):
    result = RunList
    directory: str = "runs"  # relative to the caller's cwd


class Doctor(Request[DoctorReport], tag="doctor"):
    result = DoctorReport


class OrphanInfo(msgspec.Struct, kw_only=True):
    """Something trails made that no session accounts for."""

    kind: str  # worktree | branch | tmux | container
    name: str  # the worktree's path, the branch, the tmux session, the container's id
    session: str | None  # the session it was made for, as far as its name tells
    repo: str | None = None
    detail: str = ""


class RepairedOrphan(OrphanInfo, kw_only=True):
    removed: str
    saved_ref: str | None = None  # branches and worktrees: where what they held was saved
    kept_at: str | None = None  # a worktree's untracked files, copied there
    last_screen: str | None = None  # tmux sessions: their last screen


class SkippedOrphan(OrphanInfo, kw_only=True):
    why: str


class OrphansReport(msgspec.Struct, kw_only=True):
    orphans: list[OrphanInfo]
    repaired: list[RepairedOrphan] = msgspec.field(default_factory=list)
    skipped: list[SkippedOrphan] = msgspec.field(default_factory=list)


class Orphans(Request[OrphansReport], tag="orphans"):
    """What trails made that no session accounts for; with repair, remove it, saving first what it holds."""

    result = OrphansReport
    repair: bool = False


class ServerStatusRequest(Request[ServerStatus], tag="server_status"):
    result = ServerStatus
    monitor: bool = False  # also start the supervisor's watch (unless the caller turned it off)


class ServerStop(Request[StopResult], tag="server_stop"):
    result = StopResult


class Cancel(Request[CancelResult], tag="cancel"):
    result = CancelResult
    job: int


class Ping(Request[Pong], tag="ping"):
    result = Pong


class Nudge(Request[Done], tag="nudge"):
    """Something changed the state database: look now (the supervisor's rescan, the event feed)."""

    result = Done


class HookEvent(Request[HookAck], tag="hook_event"):
    """What an agent's own hook says it is doing (trails/hookreport.py sends it, on the hook socket).
    `token` is the one its session's launch put in the agent's environment; the caller is
    `agent:<session>` whatever the frame claims."""

    result = HookAck
    session: str
    token: str
    event: str
    tool: str | None = None
    input: dict[str, Json] | None = None
    detail: dict[str, str] = msgspec.field(default_factory=dict)


REQUESTS: dict[str, type[Request[object]]] = {
    cls.op_name(): cls for cls in (
        Create, ListSessions, Show, Get, Send, Output, FollowOutput, Diff, Merge, Rebase, OpenPr, PrChecks,
        Upgrade, Export, Kill, AutoYes, Pause, Resume, Events, Subscribe, Audit, TrustRepository, ListTrusted,
        AttachCommandRequest, Run, ListRuns, Doctor, Orphans, ServerStatusRequest, ServerStop, Cancel, Ping, Nudge,
        HookEvent,
    )
}


# --- worktree-scoped git and files, terminals, runs (the web dashboard's, issue #11) -------------------
#
# A `worktree` is one of the paths `git worktree list --porcelain` prints for a repository trails knows
# (one of its sessions' repositories, or the caller's); None means the primary checkout of the caller's
# repository. A `path` is relative to the worktree and must stay inside it, symlinks resolved. A `host`
# (a remote host's name) asks that host's server, whose checkouts its worktrees are.


class WorktreeInfo(msgspec.Struct, kw_only=True):
    path: str
    repo: str  # the primary checkout of its repository
    primary: bool
    branch: str | None
    head: str | None
    session: str | None = None  # the session working in it, if any


class WorktreeList(msgspec.Struct, kw_only=True):
    worktrees: list[WorktreeInfo]


class GitStatusEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    path: str
    status: str  # git's two status letters (index, work tree): " M", "A ", "??", "R "…
    orig_path: str | None = None  # a rename's or copy's source


class GitStatusResult(msgspec.Struct, kw_only=True):
    worktree: str
    branch: str | None
    head: str | None
    entries: list[GitStatusEntry]


class GitDiffResult(msgspec.Struct, kw_only=True):
    """The work tree against HEAD, untracked files included (as `trails diff` shows a session)."""

    worktree: str
    head: str | None
    diff: str
    stat: DiffStat


class GitFileResult(msgspec.Struct, kw_only=True):
    """A file at HEAD and in the work tree: None where it does not exist (or, `binary`, is not text)."""

    worktree: str
    path: str
    head: str | None
    work: str | None
    binary: bool = False
    truncated: bool = False  # longer than the limit: the texts hold its start


class FileEntry(msgspec.Struct, kw_only=True):
    name: str
    path: str  # from the worktree's root
    kind: str  # file | dir | link | other
    size: int


class FileList(msgspec.Struct, kw_only=True):
    worktree: str
    path: str
    entries: list[FileEntry]


class FileMatches(msgspec.Struct, kw_only=True):
    worktree: str
    q: str
    paths: list[str]
    truncated: bool


class TerminalClosed(msgspec.Struct, kw_only=True):
    session: str
    reason: str


class RunDetail(msgspec.Struct, kw_only=True):
    summary: RunSummary
    results: dict[str, dict[str, Json]]  # each session's result.json, by label


class RunFileText(msgspec.Struct, kw_only=True):
    out: str
    session: str
    file: str
    text: str
    truncated: bool


class GitStatus(Request[GitStatusResult], tag="git_status"):
    result = GitStatusResult
    worktree: str | None = None
    host: str | None = None


class GitDiff(Request[GitDiffResult], tag="git_diff"):
    result = GitDiffResult
    worktree: str | None = None
    stat: bool = False
    host: str | None = None


class GitFile(Request[GitFileResult], tag="git_file"):
    result = GitFileResult
    path: str
    worktree: str | None = None
    host: str | None = None


class ListFiles(Request[FileList], tag="files_list"):
    result = FileList
    worktree: str | None = None
    path: str = ""
    host: str | None = None


class FindFiles(Request[FileMatches], tag="files_find"):
    """Tracked and untracked (not ignored) files whose path contains `q`, case-insensitively."""

    result = FileMatches
    q: str
    worktree: str | None = None
    limit: int = 200
    host: str | None = None


class ListWorktrees(Request[WorktreeList], tag="worktrees"):
    result = WorktreeList
    host: str | None = None


class OpenTerminal(Request[TerminalClosed], tag="terminal_open"):
    """A session's tmux pane (or, `shell`, a shell of its own in the session's worktree), bridged:
    TerminalSize then TerminalOutput progress until the pane ends or the job is cancelled. Its job id
    names it to TerminalInput and TerminalResize. `read_only` (always, for a read-only caller): output only."""

    result = TerminalClosed
    long = True
    name: str
    shell: bool = False
    cols: int | None = None
    rows: int | None = None
    read_only: bool = False


class TerminalCommand(msgspec.Struct, kw_only=True):
    """A control-mode tmux client of a session's pane (`tmux -C attach-session`), for a bridge to run."""

    session: str
    target: str  # the tmux session
    argv: list[str]


class TerminalCommandRequest(Request[TerminalCommand], tag="terminal_command"):
    """What bridges the session's pane from elsewhere: another machine's server runs it over ssh for a
    `HOST:NAME` terminal. `read_only` (always, for a read-only caller): a read-only client."""

    result = TerminalCommand
    name: str
    read_only: bool = False


class TerminalInput(Request[Done], tag="terminal_input"):
    """Bytes typed into an open terminal (as a keyboard sends them: no Enter is added)."""

    result = Done
    terminal: int
    data: bytes


class TerminalResize(Request[Done], tag="terminal_resize"):
    result = Done
    terminal: int
    cols: int
    rows: int


class ShowRun(Request[RunDetail], tag="run_show"):
    result = RunDetail
    out: str


class ReadRunFile(Request[RunFileText], tag="run_file"):
    """One of a run session's files: its prompt, result, diff, transcript, stderr or command log."""

    result = RunFileText
    out: str
    session: str
    file: str


REQUESTS.update({cls.op_name(): cls for cls in (
    GitStatus, GitDiff, GitFile, ListFiles, FindFiles, ListWorktrees, OpenTerminal, TerminalCommandRequest,
    TerminalInput, TerminalResize, ShowRun, ReadRunFile,
)})


# --- agents' coordination (issue #12): messages, claims, artifacts, peers -------------------------------
#
# For an `agent` caller the session acting is always its own (`as_session`, when sent, must name it);
# a `user` caller names the session it acts for with `as_session` (an operation that needs one refuses
# without it, `needs_session`); listings without one are of the caller's cwd's repository.


class MessageInfo(msgspec.Struct, kw_only=True):
    id: int
    ts: float
    from_session: str = msgspec.field(name="from")
    to: str  # a session's name, or "*": every session of the repository
    text: str
    delivered_at: float | None = None


class MessageList(msgspec.Struct, kw_only=True):
    session: str
    messages: list[MessageInfo]
    last_id: int | None  # pass it as `since` to read only what comes after


class ClaimInfo(msgspec.Struct, kw_only=True):
    id: int
    ts: float
    session: str
    path: str  # relative to the repository; a directory covers what is under it
    reason: str
    expires_at: float | None


class ClaimList(msgspec.Struct, kw_only=True):
    repo: str
    claims: list[ClaimInfo]


class PeerInfo(msgspec.Struct, kw_only=True):
    """A session as the agents of its repository see it."""

    name: str
    agent: str
    mode: Mode
    status: Status
    branch: str | None
    claims: list[str]
    last_message: str | None  # the last message it sent
    diff: DiffStat | None = None  # with `stats`: its changes against its base


class PeerList(msgspec.Struct, kw_only=True):
    repo: str
    sessions: list[PeerInfo]


class ArtifactInfo(msgspec.Struct, kw_only=True):
    name: str
    session: str  # who shared it
    size: int
    ts: float


class ArtifactContent(ArtifactInfo, kw_only=True):
    text: str | None  # the content, when it is UTF-8 text
    data: bytes | None = None  # else its bytes (base64 in JSON)


class ArtifactList(msgspec.Struct, kw_only=True):
    repo: str
    artifacts: list[ArtifactInfo]


class AgentMessage(Request[MessageInfo], tag="agent_message"):
    result = MessageInfo
    to: str
    text: str
    as_session: str | None = None


class ReadMessages(Request[MessageList], tag="read_messages"):
    result = MessageList
    since: int | None = None
    as_session: str | None = None


class ClaimResource(Request[ClaimInfo], tag="claim_resource"):
    result = ClaimInfo
    path: str
    ttl_seconds: float | None = None
    reason: str = ""
    as_session: str | None = None


class ReleaseResource(Request[ClaimList], tag="release_resource"):
    """Release the session's claim of `path` (None: all of them); the result lists what was released."""

    result = ClaimList
    path: str | None = None
    as_session: str | None = None


class ListClaims(Request[ClaimList], tag="list_claims"):
    result = ClaimList
    as_session: str | None = None


class QuerySessions(Request[PeerList], tag="query_sessions"):
    """The sessions of the repository; `filter`: those whose name, agent, mode or status contains it."""

    result = PeerList
    filter: str | None = None
    stats: bool = False
    as_session: str | None = None


class ShareArtifact(Request[ArtifactInfo], tag="share_artifact"):
    """One of `text`, `data` or `path` (a file in the session's workdir) is the content."""

    result = ArtifactInfo
    name: str
    text: str | None = None
    data: bytes | None = None
    path: str | None = None
    as_session: str | None = None


class GetArtifact(Request[ArtifactContent], tag="get_artifact"):
    result = ArtifactContent
    name: str
    as_session: str | None = None


class ListArtifacts(Request[ArtifactList], tag="list_artifacts"):
    result = ArtifactList
    as_session: str | None = None


COORDINATION: tuple[type[Request[object]], ...] = (
    AgentMessage, ReadMessages, ClaimResource, ReleaseResource, ListClaims, QuerySessions, ShareArtifact,
    GetArtifact, ListArtifacts,
)
REQUESTS.update({cls.op_name(): cls for cls in COORDINATION})

# --- the coordinator (issue #12) ---------------------------------------------------------------------
# Its other tools are the requests above (Create, Send, Show, Output, Diff, Merge, Pause, Kill), which the
# server scopes for a coordinator's agent (trails.server.orchestration).

WAIT_MAX_SECONDS = 600.0


class WhoamiResult(msgspec.Struct, kw_only=True):
    caller: str  # user, web, web:read-only or agent:NAME
    session: str | None = None  # an agent's own session
    coordinator: bool = False  # that session is a coordinator: the orchestration tools are its


class WaitResult(msgspec.Struct, kw_only=True):
    statuses: dict[str, Status | None]  # each session's status when the wait ended (None: no such session)
    reached: bool  # every one is in a status asked for
    timed_out: bool


class Whoami(Request[WhoamiResult], tag="whoami"):
    """Who the server takes the caller to be (an MCP front end asks it to know which tools to offer)."""

    result = WhoamiResult


class WaitForStatus(Request[WaitResult], tag="wait_for_status"):
    """Wait until every session named is in one of `statuses` (or can no longer get there: it ended),
    at most `timeout` seconds."""

    result = WaitResult
    long = True
    names: list[str]
    statuses: list[Status]
    timeout: Annotated[float, msgspec.Meta(ge=0, le=WAIT_MAX_SECONDS)] = 60.0


ORCHESTRATION: tuple[type[Request[object]], ...] = (Whoami, WaitForStatus)
REQUESTS.update({cls.op_name(): cls for cls in ORCHESTRATION})

# What a read-only caller (a web viewer's token) may ask: operations that change nothing. The server
# refuses every other one for such a caller, whatever the front end in between let through.
READS: frozenset[str] = frozenset(cls.op_name() for cls in (
    ListSessions, Show, Get, Output, FollowOutput, Diff, Events, Subscribe, Audit, ListTrusted, Doctor, Ping,
    GitStatus, GitDiff, GitFile, ListFiles, FindFiles, ListWorktrees, OpenTerminal, TerminalCommandRequest, ListRuns,
    ShowRun, ReadRunFile,
    ListClaims, QuerySessions, GetArtifact, ListArtifacts, Whoami, WaitForStatus,
))
