"""The coordinator (issue #12): what an agent caller may ask of the server, and of which sessions.

Decided here, for every request, from the caller alone (front ends only choose which tools to show):

* Any agent (a session's credential) may ask the coordination operations (messages, claims,
  artifacts, query_sessions), `whoami` and `ping`. Every other operation is refused (`not_permitted`):
  an agent does not pause, kill, merge, move or run anything unless the user made it a coordinator.
* A coordinator's agent may also ask the orchestration operations:
  - reads (`get`, `show`, `output`, `diff`, `wait_for_status`) of any session of its own repository;
  - changes (`send`, `pause`, `kill`, `merge`) of its workers only: sessions it created, and theirs;
  - `create`: a worker in its own repository, whose `parent` is the coordinator, with only a name,
    agent, mode, prompt, base and branch. The engine refuses anything less isolated than the
    coordinator's own session or the user's settings give, and every isolation-weakening option.
    `kill` never forces (unsaved work stays refused) nor deletes the branch; `merge` forces nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.core import coordination as co
from trails.core.errors import NotPermitted, SessionNotFound
from trails.core.models import Session, Status

if TYPE_CHECKING:
    from trails.core.engine import Engine
    from trails.server.jobs import Job
    from trails.server.service import Service

# Subscribe too: an agent's stream holds only its own repository's sessions' events (visible_events).
AGENT_OPS: frozenset[type[t.Request[Any]]] = frozenset({*t.COORDINATION, t.Whoami, t.Ping, t.Subscribe})
READS: frozenset[type[t.Request[Any]]] = frozenset({t.Get, t.Show, t.Output, t.Diff, t.WaitForStatus})
CHANGES: frozenset[type[t.Request[Any]]] = frozenset({t.Send, t.Pause, t.Kill, t.Merge})
# What a coordinator's create may say besides name and agent; every other field must keep its default.
CREATE_FIELDS = frozenset({"name", "agent", "mode", "prompt", "base", "branch"})
REDACTED = "(hidden from agents)"
RECHECK_SECONDS = 2.0  # a wait looks again this often even when no event came (a pane that just went)


def authorize(engine: Engine, caller: Caller, request: t.Request[Any]) -> Caller:
    """The caller to run `request` as, or NotPermitted. Only agent callers are limited here; a
    coordinator's create runs in the coordinator's repository."""
    if caller.trust is not Trust.AGENT or type(request) in AGENT_OPS:
        return caller
    op = request.op_name()
    kind = type(request)
    if isinstance(request, t.Create) and request.coordinator:
        caller.refuse_weakening("coordinator", "making a coordinator (a session whose agent runs others)")
    if kind not in READS | CHANGES and kind is not t.Create:
        raise NotPermitted(f"`{op}` is not available to an agent ({caller.label})",
                           hint="ask the user to run it", field=None)
    me = _own_session(engine, caller)
    if not me.coordinator:
        raise NotPermitted(f"`{op}` is for coordinators, and {me.name} is not one: nothing was done",
                           hint="the user makes a coordinator with `trails new NAME AGENT --coordinator`", field=None)
    if isinstance(request, t.Create):
        _check_create(request, caller)
        return msgspec.structs.replace(caller, cwd=co.project(me))
    if isinstance(request, t.Kill):
        for name in ("force", "delete_branch", "no_hooks"):
            if getattr(request, name):
                raise NotPermitted(f"a coordinator's kill never uses {name}: nothing was done",
                                   hint="ask the user to run it", field=name)
    names = request.names if isinstance(request, t.WaitForStatus) else [request.name]  # type: ignore[attr-defined]
    for name in names:
        target = _find(engine, name)
        if target is None:
            continue  # the operation says it is not there
        if kind in READS:
            if co.project(target) != co.project(me):
                raise NotPermitted(f"{name} is not a session of {me.name}'s repository", field="name")
        elif not _descends(engine, target, me):
            raise NotPermitted(f"{me.name} may `{op}` only its own workers, and {name} is not one: nothing was done",
                               hint="a coordinator's workers are the sessions it created", field="name")
    return caller


def redacted(result: Any) -> Any:
    """A result for an agent caller: sessions' `--env` values are the user's (API keys, often), so an
    agent reading another session sees their names only."""
    if isinstance(result, t.SessionInfo):
        return msgspec.structs.replace(result, env=dict.fromkeys(result.env, REDACTED))
    if isinstance(result, t.ShowResult | t.CreateResult | t.KillResult):
        return msgspec.structs.replace(result, session=redacted(result.session))
    return result


def visible_events(engine: Engine, caller: Caller) -> Callable[[str | None], bool] | None:
    """For an agent caller, which session names' events it may see: those of sessions of its own
    repository (never another repository's, nor an event of no session); None: every event."""
    if caller.trust is not Trust.AGENT:
        return None
    repo = _own_session(engine, caller).repo_root
    store = engine.store
    seen: dict[str, bool] = {}

    def visible(name: str | None) -> bool:
        if name is None:
            return False
        if name not in seen:  # a session made since: look again (names of ended ones stay theirs)
            for s in store.list_sessions(include_ended=True):
                seen[s.name] = seen.get(s.name, False) or s.repo_root == repo
        return seen.get(name, False)

    return visible


def _own_session(engine: Engine, caller: Caller) -> Session:
    try:
        return engine.store.get_session(caller.session or "")
    except SessionNotFound:
        raise NotPermitted(f"{caller.label} is no live session's agent", field=None) from None


def _check_create(request: t.Create, caller: Caller) -> None:
    defaults = t.Create(name=request.name, agent=request.agent)
    for name in request.__struct_fields__:
        if name in CREATE_FIELDS or getattr(request, name) == getattr(defaults, name):
            continue
        if name in ("network", "privileged", "mounts", "auto_yes", "coordinator"):
            continue  # the engine refuses these for every agent, with its own words
        raise NotPermitted(f"a coordinator's create takes name, agent, mode, prompt, base and branch; not {name} "
                           f"({caller.label}): nothing was made", hint="ask the user to create it", field=name)


def _find(engine: Engine, name: str) -> Session | None:
    try:
        return engine.store.get_session(name)
    except SessionNotFound:
        return None


def _descends(engine: Engine, session: Session, ancestor: Session) -> bool:
    """Whether `ancestor` created `session`, or created the coordinator that did (and so on). Parents
    are names: a session made after its child is a later one under the same name, not the parent."""
    seen, child = {session.name}, session
    while child.parent is not None and child.parent not in seen:
        found = ancestor if child.parent == ancestor.name else _find(engine, child.parent)
        if found is None or found.created_at > child.created_at:
            return False
        if found is ancestor:
            return True
        seen.add(found.name)
        child = found
    return False


class OrchestrationOps:
    def __init__(self, service: Service) -> None:
        self.service = service

    def ops(self) -> dict[type[t.Request[Any]], Callable[[Any, Caller, Job], Any]]:
        return {t.Whoami: self.whoami, t.WaitForStatus: self.wait}

    def whoami(self, req: t.Whoami, caller: Caller, job: Job) -> t.WhoamiResult:
        if caller.trust is not Trust.AGENT:
            return t.WhoamiResult(caller=caller.label)
        with self.service.engines.engine() as engine:
            me = _find(engine, caller.session or "")
        return t.WhoamiResult(caller=caller.label, session=caller.session,
                              coordinator=me is not None and me.coordinator)

    def wait(self, req: t.WaitForStatus, caller: Caller, job: Job) -> t.WaitResult:
        """Each event about a session named (or every few seconds) looks at their statuses again."""
        wanted, names = set(req.statuses), list(dict.fromkeys(req.names))
        deadline = time.monotonic() + req.timeout
        with self.service.feed.subscribe(None) as subscription:
            while True:
                statuses, ended = self._statuses(names)
                reached = all(statuses[n] in wanted for n in names)
                if reached or all(statuses[n] in wanted or n in ended for n in names):
                    return t.WaitResult(statuses=statuses, reached=reached, timed_out=False)
                recheck = time.monotonic() + RECHECK_SECONDS
                while not job.cancelled.is_set():
                    now = time.monotonic()
                    if now >= deadline:
                        return t.WaitResult(statuses=self._statuses(names)[0], reached=False, timed_out=True)
                    if now >= recheck:
                        break
                    event = subscription.get(timeout=min(0.25, deadline - now))
                    if event is None:
                        self.service.feed.publish_pending()
                    elif event.session in names:
                        break
                else:
                    return t.WaitResult(statuses=statuses, reached=False, timed_out=False)

    def _statuses(self, names: list[str]) -> tuple[dict[str, Status | None], set[str]]:
        """Each session's status now (reconciled with tmux), and which of them ended (their last status)."""
        statuses: dict[str, Status | None] = {}
        ended: set[str] = set()
        with self.service.engines.engine() as engine:
            for name in names:
                try:
                    statuses[name] = engine.get_session(name, caller=Caller()).status
                except SessionNotFound:
                    ended.add(name)
                    last = [s for s in engine.store.list_sessions(include_ended=True) if s.name == name]
                    statuses[name] = last[-1].status if last else None
        return statuses, ended
