"""A request → the engine operation it names, run for the caller it came from, answered in API types.

`execute` is the whole life of one request frame: decode its params into the request type, run it
as a job, send its progress and then its result or error. The socket server (process.py) and the
client's in-process mode (TRAILS_SERVER=off) both go through it, so they answer alike.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from trails import __version__
from trails.api import protocol
from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.core import paths
from trails.core.errors import Cancelled, InvalidInput, ServerError, SessionNotFound, SessionStateError, TrailsError
from trails.core.models import LIVE_STATUSES, Session
from trails.server import orchestration, runlist
from trails.server.coordination import CoordinationOps
from trails.server.feed import Feed, info
from trails.server.jobs import Job, Jobs
from trails.server.monitor import Monitor, turned_off
from trails.server.terminal import Terminals
from trails.server.worktrees import WorktreeOps

if TYPE_CHECKING:
    from trails.core.engine import Engine
    from trails.server.hostfeed import HostFeeds

R = TypeVar("R")
Send = Callable[[bytes], None]
FOLLOW_LINES = 20
NEARLY_FULL = 64 * 1024  # free bytes under the home below which no operation is started
# About the server itself, not the home's state: answered whatever the state of the disk.
SERVER_OPS: frozenset[type[t.Request[object]]] = frozenset(
    {t.Ping, t.Nudge, t.Cancel, t.ServerStatusRequest, t.ServerStop})


# Requests about one session that a `HOST:NAME` sends to that host's server (streams and attach stay with
# the commands that know how to run them there: `trails output --follow`, `trails attach HOST:NAME`).
FORWARDED: frozenset[type[t.Request[Any]]] = frozenset({
    t.Show, t.Get, t.Send, t.Output, t.Diff, t.Merge, t.Rebase, t.OpenPr, t.PrChecks, t.Upgrade, t.Export, t.Kill,
    t.AutoYes, t.Pause, t.Resume})
STREAMED: frozenset[type[t.Request[Any]]] = frozenset({t.FollowOutput, t.OpenTerminal, t.AttachCommandRequest})
# Requests about a worktree that name its `host`: asked of that host's server, whose checkout it is (so
# its paths are checked there, against the repositories that host knows).
ON_HOST: frozenset[type[t.Request[Any]]] = frozenset({t.GitStatus, t.GitDiff, t.GitFile, t.ListFiles, t.FindFiles,
                                                      t.ListWorktrees})


def convert(data: object, kind: type[R]) -> R:
    """An engine's record (a dict, or a dataclass's to_dict()) as the API type of the same shape."""
    return msgspec.convert(data, kind, from_attributes=True)


class EnginePool:
    """Engines for the request threads: each request holds one for its length (their state database
    connections are not shared between threads at once)."""

    def __init__(self) -> None:
        self._free: list[Engine] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def engine(self) -> Iterator[Engine]:
        with self._lock:
            if self._closed:
                raise ServerError("the trails server is stopping", hint="run the command again")
            engine = self._free.pop() if self._free else None
        if engine is None:
            from trails.core.engine import Engine

            engine = Engine()
        try:
            yield engine
        finally:
            with self._lock:
                keep = not self._closed
                if keep:
                    self._free.append(engine)
            if not keep:
                engine.close()

    def close(self) -> None:
        """Close every engine (their database connections: the last one out checkpoints the WAL)."""
        with self._lock:
            self._closed = True
            engines, self._free = self._free, []
        for engine in engines:
            engine.close()


class Service:
    """The operations, for one home. `monitor` is None in the client's in-process mode."""

    def __init__(self, home: Path, *, feed: Feed, jobs: Jobs, monitor: Monitor | None = None,
                 stop: Callable[[], None] | None = None, hosts: HostFeeds | None = None) -> None:
        self.home = home
        self.hosts = hosts  # remote hosts' followers and kept connections (None: asked afresh each time)
        self.feed = feed
        self.jobs = jobs
        self.monitor = monitor
        self.engines = EnginePool()
        self._stop = stop
        self._ops: dict[type[t.Request[object]], Callable[[Any, Caller, Job], msgspec.Struct]] = {
            t.Create: self.create, t.ListSessions: self.list, t.Show: self.show, t.Get: self.get,
            t.Send: self.send, t.Output: self.output, t.FollowOutput: self.follow_output, t.Diff: self.diff,
            t.Merge: self.merge, t.Rebase: self.rebase, t.OpenPr: self.open_pr, t.PrChecks: self.pr_checks,
            t.Upgrade: self.upgrade, t.Export: self.export, t.Kill: self.kill, t.AutoYes: self.auto_yes,
            t.Pause: self.pause, t.Resume: self.resume, t.Events: self.events, t.Subscribe: self.subscribe,
            t.Audit: self.audit, t.TrustRepository: self.trust, t.ListTrusted: self.trusted,
            t.AttachCommandRequest: self.attach_command, t.Run: self.run, t.ListRuns: self.runs,
            t.Doctor: self.doctor, t.Orphans: self.orphans,
            t.ServerStatusRequest: self.server_status, t.ServerStop: self.server_stop, t.Cancel: self.cancel,
            t.Ping: self.ping, t.Nudge: self.nudge, t.HookEvent: self.hook_event,
        }
        # The web dashboard's operations (issue #11), each group in a module of its own.
        self.terminals = Terminals(self)
        self._ops.update({**self.terminals.ops(), **WorktreeOps(self).ops(), **runlist.ops()})
        # Agents' coordination (issue #12): messages, claims, artifacts.
        self._ops.update(CoordinationOps(self).ops())
        self._ops.update(orchestration.OrchestrationOps(self).ops())  # the coordinator's own (wait, whoami)

    def close(self) -> None:
        """After the last request: close the engines and the feed (their database connections)."""
        self.engines.close()
        self.feed.close()

    # --- one request, start to end --------------------------------------------------------------

    def execute(self, frame: protocol.RequestFrame, send: Send, *, trust_user: bool = True,
                under_way: set[Job] | None = None) -> None:
        """Run one request frame and send its answer. `trust_user`: the caller is the owner (the Unix
        socket checked its uid), whatever trust the frame claims. `under_way` holds its job while it runs."""
        rid = frame.id

        def progress(item: t.Progress) -> None:
            send(protocol.reply(rid, progress=item))

        def event(item: t.EventInfo) -> None:
            send(protocol.reply(rid, event=item))

        job = self.jobs.start(op=frame.op, on_progress=progress, on_event=event)
        if under_way is not None:
            under_way.add(job)
        try:
            kind = t.REQUESTS.get(frame.op)
            if kind is None:
                raise InvalidInput(f"unknown operation {frame.op!r}", field="op")
            request = _decode(frame.params, kind)
            caller = frame.caller or Caller()
            if caller.credential is not None:
                caller = self.credentialed(caller)
            elif trust_user:
                caller = owner(caller)
            if caller.read_only and frame.op not in t.READS:
                caller.refuse_read_only(f"`{frame.op}`")
            if caller.trust is Trust.AGENT:  # what an agent may ask, of which sessions (the coordinator's scope)
                with self.engines.engine() as engine:
                    caller = orchestration.authorize(engine, caller, request)
            if kind not in SERVER_OPS and paths.out_of_space(self.home, NEARLY_FULL):
                # Refused before anything is done, as a command that could not open the database was:
                # on a full disk an operation would fail part way (a send typed, its audit row unwritten).
                raise paths.no_space(paths.state_db(), "use")
            if kind.long and kind not in (t.Subscribe, t.OpenTerminal):  # these say so once registered
                job.started()
            target = getattr(request, "name", None)
            host = getattr(request, "host", None) if kind in ON_HOST else None
            if kind in FORWARDED and isinstance(target, str) and ":" in target:
                result = self.forward(request, target, caller, job)
            elif isinstance(host, str) and host and host != "local":
                result = self.ask_host(host, msgspec.structs.replace(request, host=None), caller, job)
            elif kind in STREAMED and isinstance(target, str) and target.startswith("local:"):
                result = self._ops[kind](msgspec.structs.replace(request, name=target[len("local:"):]), caller, job)
            elif kind is t.OpenTerminal:  # a HOST:NAME pane is bridged here, over ssh (server/terminal.py)
                result = self._ops[kind](request, caller, job)
            elif kind in STREAMED and isinstance(target, str) and ":" in target:
                raise InvalidInput(f"`{frame.op}` of {target}, a remote host's session, is not served here yet: "
                                   f"`trails attach {target}` and `trails output --follow {target}` reach it",
                                   field="name")
            else:
                result = self._ops[kind](request, caller, job)
            if caller.trust is Trust.AGENT:
                result = orchestration.redacted(result)
            send(protocol.reply(rid, result=result))
        except TrailsError as exc:
            send(protocol.reply(rid, error=api_error(exc)))
        except OverflowError:  # a number in the request beyond what SQLite stores (found by the schema fuzz)
            send(protocol.reply(rid, error=api_error(InvalidInput("a number in the request is out of range"))))
        except Exception as exc:  # a bug: the client gets it as an error, the log gets the traceback
            traceback.print_exc(file=sys.stderr)
            send(protocol.reply(rid, error=t.ApiError(code="internal_error", message=f"{type(exc).__name__}: {exc}",
                                                      hint="see the trails server's log (server.log in TRAILS_HOME)")))
        finally:
            with contextlib.suppress(Exception):
                self.feed.publish_pending()
            self.jobs.finish(job)  # last: a server that stops waits for this
            if under_way is not None:
                under_way.discard(job)

    # --- helpers ---------------------------------------------------------------------------------

    def forward(self, request: t.Request[Any], target: str, caller: Caller, job: Job) -> msgspec.Struct:
        """A request about a remote host's session (`HOST:NAME`), asked of that host's server, so every front
        end reaches remote sessions through this one. The caller there is the user ssh logs in as, acting for
        no more than this caller (a web token stays web, read-only stays read-only); an agent's is refused."""
        host, _, bare = target.partition(":")
        there = msgspec.structs.replace(request, name=bare)
        if host == "local":
            return self._ops[type(request)](there, caller, job)
        return self.ask_host(host, there, caller, job, about=target)

    def ask_host(self, host: str, there: t.Request[Any], caller: Caller, job: Job, *,
                 about: str | None = None) -> msgspec.Struct:
        """`there` (a request as the host names things) asked of `host`'s server for this caller (see forward)."""
        from trails.api.remote import RemoteClient, on_host
        from trails.core import hosts as hostfile
        from trails.core.errors import NotPermitted

        if caller.trust is Trust.AGENT:
            what = f"{about}, a session on another machine" if about else f"a worktree on {host}, another machine"
            raise NotPermitted(f"an agent may not act on {what}")
        found = hostfile.get(host)
        if self.hosts is not None and not type(there).long and caller.trust is Trust.USER:
            kept: msgspec.Struct = self.hosts.call(host, found, there)  # over the connection kept to the host
            return on_host(kept, host)
        remote = RemoteClient(host, found)
        remote.caller = Caller(trust=caller.trust, cwd="", env={}, read_only=caller.read_only)

        def relay(item: t.Progress) -> None:
            if not isinstance(item, t.JobStarted):  # the remote job's id means nothing here
                job.progress(item)

        answer: msgspec.Struct = remote.call(there, progress=relay)
        return on_host(answer, host)

    def credentialed(self, caller: Caller) -> Caller:
        """The agent whose session's credential the caller holds (core.mcpwire); refused when it is
        no live session's: a wrong credential is never taken for the user."""
        from trails.core import mcpwire
        from trails.core.errors import NotPermitted

        with self.engines.engine() as engine:
            session = engine.store.session_by_token(mcpwire.TOKEN_KEY, mcpwire.digest(caller.credential or ""))
        if session is None:
            raise NotPermitted("this MCP credential is no live session's: nothing was done",
                               hint=f"{mcpwire.TOKEN_ENV} is set for an agent by its session's launch; "
                                    "unset it to act as yourself", field="credential")
        return Caller(trust=Trust.AGENT, cwd=caller.cwd, env=caller.env, session=session.name)

    def ensure_monitor(self, caller: Caller) -> None:
        """Statuses, auto-yes and output logs need the supervisor's watch (not if the caller turned it off)."""
        if self.monitor is not None and not turned_off(caller.env):
            self.monitor.start()

    # --- sessions ------------------------------------------------------------------------------

    def create(self, req: t.Create, caller: Caller, job: Job) -> t.CreateResult:
        self.ensure_monitor(caller)
        with self.engines.engine() as engine:
            result = engine.create_session(
                req.name, req.agent, mode=req.mode, prompt=req.prompt, branch=req.branch, base=req.base,
                scope=req.scope, env=req.env, carry_changes=req.carry_changes, force=req.force,
                cwd=Path(req.cwd) if req.cwd else None, auto_yes=req.auto_yes, image=req.image, network=req.network,
                privileged=req.privileged, mounts=req.mounts, cpus=req.cpus, memory=req.memory,
                pids_limit=req.pids_limit, progress=job.line, no_hooks=req.no_hooks, no_mcp=req.no_mcp,
                coordinator=req.coordinator,
                caller=caller)
        self._nudge()
        return convert(result.to_dict(), t.CreateResult)

    def list(self, req: t.ListSessions, caller: Caller, job: Job) -> t.SessionList:
        with self.engines.engine() as engine:
            sessions = engine.list_sessions(include_ended=req.include_ended, caller=caller)
            engine.refresh_pull_requests(sessions, caller=caller)  # only sessions with a PR, at most every few minutes
        listed = t.SessionList(sessions=[session_info(s) for s in sessions])
        if req.hosts:
            from trails.server.hostfeed import host_sessions

            listed.hosts = host_sessions(self.hosts, req.include_ended)
        return listed

    def show(self, req: t.Show, caller: Caller, job: Job) -> t.ShowResult:
        with self.engines.engine() as engine:
            with contextlib.suppress(SessionNotFound):  # none live: show tells of the last one that ended
                engine.refresh_pull_requests([engine.get_session(req.name, caller=caller)], caller=caller)
            return convert(engine.show(req.name, caller=caller), t.ShowResult)

    def get(self, req: t.Get, caller: Caller, job: Job) -> t.SessionInfo:
        with self.engines.engine() as engine:
            return session_info(engine.get_session(req.name, caller=caller))

    def send(self, req: t.Send, caller: Caller, job: Job) -> t.SendResult:
        with self.engines.engine() as engine:
            engine.send(req.name, req.text, caller=caller)
        return t.SendResult(session=req.name, sent=req.text)

    def output(self, req: t.Output, caller: Caller, job: Job) -> t.OutputResult:
        with self.engines.engine() as engine:
            return t.OutputResult(session=req.name, output=engine.output(req.name, req.lines, caller=caller))

    def follow_output(self, req: t.FollowOutput, caller: Caller, job: Job) -> t.Done:
        """The last lines, then new output as it is written, until the session stops (or the job is cancelled)."""
        from trails.core import outputlog

        with self.engines.engine() as engine:
            session = engine.store.get_session(req.name)

            def still_live() -> bool:
                try:
                    return not job.cancelled.is_set() and engine.store.get_session(req.name).status in LIVE_STATUSES
                except TrailsError:
                    return False

            text = outputlog.read_text(self.home, session.tmux_session, req.lines or FOLLOW_LINES)
            with contextlib.suppress(Cancelled):  # cancelled (or the server stopping): the stream just ends
                if text:
                    job.progress(t.OutputChunk(text=text + "\n"))
                for chunk in outputlog.follow(self.home, session.tmux_session, raw=req.raw, still_live=still_live):
                    job.progress(t.OutputChunk(text=chunk))
        return t.Done()

    def diff(self, req: t.Diff, caller: Caller, job: Job) -> t.DiffResult:
        with self.engines.engine() as engine:
            return convert(engine.diff(req.name, stat=req.stat, caller=caller).to_dict(), t.DiffResult)

    def merge(self, req: t.Merge, caller: Caller, job: Job) -> t.MergeResult:
        with self.engines.engine() as engine:
            result = engine.merge(req.name, strategy=req.strategy, message=req.message,
                                cleanup=req.cleanup, caller=caller)
        return convert(result.to_dict(), t.MergeResult)

    def rebase(self, req: t.Rebase, caller: Caller, job: Job) -> t.RebaseResult:
        with self.engines.engine() as engine:
            result = engine.rebase(req.name, onto=req.onto, to_agent=req.to_agent, caller=caller)
        return convert(result.to_dict(), t.RebaseResult)

    def open_pr(self, req: t.OpenPr, caller: Caller, job: Job) -> t.PrResult:
        with self.engines.engine() as engine:
            result = engine.open_pr(req.name, draft=req.draft, title=req.title, body=req.body,
                                base=req.base, caller=caller)
        return convert(result.to_dict(), t.PrResult)

    def pr_checks(self, req: t.PrChecks, caller: Caller, job: Job) -> t.PrChecksResult:
        with self.engines.engine() as engine:
            return convert(engine.pr_checks(req.name, fix=req.fix, caller=caller), t.PrChecksResult)

    def upgrade(self, req: t.Upgrade, caller: Caller, job: Job) -> t.MoveResult:
        with self.engines.engine() as engine:
            result = engine.upgrade_session(req.name, req.to, image=req.image,
                                network=req.network, cpus=req.cpus, memory=req.memory, pids_limit=req.pids_limit,
                                branch=req.branch, force=req.force, progress=job.line, caller=caller)
        return convert(result.to_dict(), t.MoveResult)

    def export(self, req: t.Export, caller: Caller, job: Job) -> t.MoveResult:
        with self.engines.engine() as engine:
            result = engine.export_session(req.name, req.to, force=req.force, caller=caller)
        return convert(result.to_dict(), t.MoveResult)

    def kill(self, req: t.Kill, caller: Caller, job: Job) -> t.KillResult:
        with self.engines.engine() as engine:
            result = engine.kill(req.name, force=req.force, delete_branch=req.delete_branch,
                                no_hooks=req.no_hooks, caller=caller)
        return convert(result.to_dict(), t.KillResult)

    def auto_yes(self, req: t.AutoYes, caller: Caller, job: Job) -> t.AutoYesResult:
        with self.engines.engine() as engine:
            session = engine.set_auto_yes(req.name, req.on, caller=caller)
        if session.auto_yes:
            self.ensure_monitor(caller)
        return t.AutoYesResult(session=req.name, auto_yes=session.auto_yes)

    def pause(self, req: t.Pause, caller: Caller, job: Job) -> t.PauseResult:
        with self.engines.engine() as engine:
            return convert(engine.pause(req.name, caller=caller), t.PauseResult)

    def resume(self, req: t.Resume, caller: Caller, job: Job) -> t.ResumeResult:
        self.ensure_monitor(caller)
        with self.engines.engine() as engine:
            return convert(engine.resume(req.name, caller=caller), t.ResumeResult)

    def attach_command(self, req: t.AttachCommandRequest, caller: Caller, job: Job) -> t.AttachCommand:
        with self.engines.engine() as engine:
            return t.AttachCommand(session=req.name, argv=engine.attach_command(req.name, caller=caller))

    # --- events and the audit log -------------------------------------------------------------------

    def events(self, req: t.Events, caller: Caller, job: Job) -> t.EventList:
        with self.engines.engine() as engine:
            session, host = where(req.session)
            stored = engine.store.events(session=session, since=req.since, limit=req.limit, host=host)
        return t.EventList(events=[info(e) for e in stored])

    def subscribe(self, req: t.Subscribe, caller: Caller, job: Job) -> t.Done:
        """Events as they happen (stored ones after `since` first), until the job is cancelled."""
        self.ensure_monitor(caller)
        session, host = where(req.session)
        with self.engines.engine() as engine:
            visible = orchestration.visible_events(engine, caller)
        with self.feed.subscribe(req.since) as subscription:
            job.started()  # from here on, nothing that happens is missed
            while not job.cancelled.is_set():  # cancelled (or the server stopping): the stream just ends
                event = subscription.get(timeout=0.25)
                if event is None:
                    self.feed.publish_pending()  # writers in other processes need not nudge
                elif (session is None or (event.session == session and event.host == host)) and \
                        (visible is None or (event.host is None and visible(event.session))):
                    with contextlib.suppress(Cancelled):
                        job.event(info(event))
        return t.Done()

    def audit(self, req: t.Audit, caller: Caller, job: Job) -> t.AuditList:
        with self.engines.engine() as engine:
            entries = engine.audit_log(req.session, req.limit, caller=caller)
        return t.AuditList(entries=convert(entries, list[t.AuditEntryInfo]))

    def trust(self, req: t.TrustRepository, caller: Caller, job: Job) -> t.TrustResult:
        with self.engines.engine() as engine:
            result = engine.trust_repository(Path(req.path), revoke=req.revoke, caller=caller)
        return convert(result, t.TrustResult)

    def trusted(self, req: t.ListTrusted, caller: Caller, job: Job) -> t.TrustedList:
        with self.engines.engine() as engine:
            records = engine.trusted_repositories(caller=caller)
        return t.TrustedList(repositories=convert(records, list[t.TrustedRepository]))

    # --- runs, the machine -----------------------------------------------------------------------

    def run(self, req: t.Run, caller: Caller, job: Job) -> t.RunSummary:
        from trails.server import runjob

        summary = runjob.run(req, caller, job)
        if not req.dry_run:
            with self.engines.engine() as engine:
                engine.store.audit("run_finished", None, out=summary.out, status=summary.status or None,
                                   totals=msgspec.to_builtins(summary.totals) if summary.totals else None)
        return summary

    def runs(self, req: t.ListRuns, caller: Caller, job: Job) -> t.RunList:
        from trails.runs.status import list_runs

        return t.RunList(runs=convert(list_runs(Path(caller.cwd, req.directory)), list[t.RunInfo]))

    def doctor(self, req: t.Doctor, caller: Caller, job: Job) -> t.DoctorReport:
        from trails.core.doctor import diagnose

        with self.engines.engine() as engine:
            return convert(diagnose(engine, caller=caller), t.DoctorReport)

    def orphans(self, req: t.Orphans, caller: Caller, job: Job) -> t.OrphansReport:
        with self.engines.engine() as engine:
            if req.repair:
                return convert(engine.repair_orphans(caller=caller), t.OrphansReport)
            return t.OrphansReport(orphans=convert(engine.orphans(caller=caller), list[t.OrphanInfo]))

    # --- the server itself -----------------------------------------------------------------------

    def server_status(self, req: t.ServerStatusRequest, caller: Caller, job: Job) -> t.ServerStatus:
        if self.monitor is None:  # in-process: say how the home's real server is
            pid = protocol.server_pid(self.home)
            return t.ServerStatus(running=pid is not None, pid=pid, socket=str(protocol.socket_path(self.home)),
                                  monitoring=protocol.lock_held(self.home / protocol.MONITOR_LOCK_NAME))
        if req.monitor:
            # The supervisor works from the state database: one this server cannot use is the error
            # to tell, not a watch that failed to start over it.
            with self.engines.engine() as engine:
                _ = engine.store.conn
            self.ensure_monitor(caller)
        return t.ServerStatus(running=True, pid=os.getpid(), socket=str(protocol.socket_path(self.home)),
                              monitoring=self.monitor.watching())

    def server_stop(self, req: t.ServerStop, caller: Caller, job: Job) -> t.StopResult:
        if self._stop is None:
            raise SessionStateError("no trails server runs in this process (TRAILS_SERVER=off)")
        self._stop()
        return t.StopResult(stopped=True)

    def cancel(self, req: t.Cancel, caller: Caller, job: Job) -> t.CancelResult:
        return t.CancelResult(job=req.job, cancelled=self.jobs.cancel(req.job))

    def ping(self, req: t.Ping, caller: Caller, job: Job) -> t.Pong:
        return t.Pong(pid=os.getpid(), version=__version__)

    def nudge(self, req: t.Nudge, caller: Caller, job: Job) -> t.Done:
        self._nudge()
        return t.Done()

    def hook_event(self, req: t.HookEvent, caller: Caller, job: Job) -> t.HookAck:
        """An agent's hook, for its session's watch: taken when its token is the session's own."""
        from trails.core import hookwire
        from trails.core.errors import NotPermitted, SessionNotFound

        with self.engines.engine() as engine:
            try:
                expected = engine.store.get_session(req.session).extra.get(hookwire.TOKEN_KEY)
            except SessionNotFound:
                expected = None
        if not hookwire.token_matches(req.token, expected):
            raise NotPermitted("a hook report whose token is not its session's", field="token")
        agent = Caller(trust=Trust.AGENT, session=req.session)
        return t.HookAck(accepted=self.monitor is not None and self.monitor.hook(req, agent.label))

    def _nudge(self) -> None:
        if self.monitor is not None:
            self.monitor.nudge()


def where(name: str | None) -> tuple[str | None, str | None]:
    """A session filter's (name, host): `HOST:NAME` is a host's session, `NAME` (or `local:NAME`) this machine's."""
    if name is None:
        return None, None
    host, sep, session = name.partition(":")
    if not sep:
        return name, None
    return session, (None if host == "local" else host)


def owner(caller: Caller) -> Caller:
    """The caller of a request the owner's own process sent (the socket checked its uid): a user,
    unless it says it acts for less — a web token (read-only or not) or an agent — which it keeps,
    since claiming less trust can only take rights away."""
    if caller.trust is Trust.WEB:
        return msgspec.structs.replace(caller, session=None)
    if caller.trust is Trust.AGENT:
        return msgspec.structs.replace(caller, read_only=False)
    return msgspec.structs.replace(caller, trust=Trust.USER, session=None, read_only=False)


def local_service(home: Path) -> Service:
    """The operations served in the client's own process (TRAILS_SERVER=off): no supervisor's watch."""
    return Service(home, feed=Feed(paths.state_db()), jobs=Jobs())


def session_info(session: Session) -> t.SessionInfo:
    """A session in its JSON form: the lifecycle records (conflict, pr, paused, …) inside `extra`."""
    return convert(session.to_dict(), t.SessionInfo)


def api_error(exc: TrailsError) -> t.ApiError:
    extra = {k: getattr(exc, k) for k in ("files", "onto", "sent_to_agent") if hasattr(exc, k)}
    if extra.get("files"):
        extra["files"] = [_utf8(f) for f in extra["files"]]
    return t.ApiError(code=exc.code, message=_utf8(exc.message), hint=_utf8(exc.hint) if exc.hint else exc.hint,
                      field=exc.field, exit_code=exc.exit_code, **extra)


def _utf8(text: str) -> str:
    """The text, any lone surrogate (an undecodable byte of a name or file quoted in a message) written
    as its escape: a reply frame is UTF-8, and an error must reach the caller whatever it quotes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _decode(params: msgspec.Raw, kind: type[R]) -> R:
    try:
        return msgspec.json.decode(params, type=kind)
    except msgspec.ValidationError as exc:
        # msgspec says where: "Expected `str`, got `int` - at `$.name`"
        text = str(exc)
        where = text.rsplit("at `$.", 1)[-1].rstrip("`").split(".")[0].split("[")[0] if "at `$." in text else None
        raise InvalidInput(f"invalid request: {text}", field=where) from None
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"invalid request: {exc}") from None
