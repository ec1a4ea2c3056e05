"""Agents' coordination for front ends (the MCP server's tools, issue #12): who acts, then core.coordination.

The session acting is decided here, from the caller alone: an agent's is its own session (asking
for another, `as_session`, is refused: a session never speaks as another); the user names the one
it acts for (`as_session`), and is refused where one is needed and none is named.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.api import types as t
from trails.api.caller import Caller, Trust
from trails.core import coordination as co
from trails.core.errors import (
    InvalidInput,
    NeedsSession,
    NotPermitted,
    PathOutsideWorktree,
    SessionNotFound,
    TooLarge,
)
from trails.core.models import Artifact, Claim, Message, Session
from trails.infra.git import find_toplevel

if TYPE_CHECKING:
    from trails.core.engine import Engine
    from trails.server.jobs import Job
    from trails.server.service import Service

LAST_MESSAGE_CHARS = 200


class CoordinationOps:
    def __init__(self, service: Service) -> None:
        self.service = service

    def ops(self) -> dict[type[t.Request[Any]], Callable[[Any, Caller, Job], Any]]:
        return {t.AgentMessage: self.message, t.ReadMessages: self.read, t.ClaimResource: self.claim,
                t.ReleaseResource: self.release, t.ListClaims: self.claims, t.QuerySessions: self.sessions,
                t.ShareArtifact: self.share, t.GetArtifact: self.get_artifact, t.ListArtifacts: self.artifacts}

    # --- messages -------------------------------------------------------------------------------

    def message(self, req: t.AgentMessage, caller: Caller, job: Job) -> t.MessageInfo:
        with self.service.engines.engine() as engine:
            actor = _actor(engine, caller, req.as_session)
            sent = co.Coordination(engine.store).send_message(actor, req.to, req.text, caller=caller.label)
        return _message(sent)

    def read(self, req: t.ReadMessages, caller: Caller, job: Job) -> t.MessageList:
        with self.service.engines.engine() as engine:
            actor = _actor(engine, caller, req.as_session)
            found = co.Coordination(engine.store).read_messages(actor, req.since)
        return t.MessageList(session=actor.name, messages=[_message(m) for m in found],
                             last_id=found[-1].id if found else req.since)

    # --- claims -----------------------------------------------------------------------------------

    def claim(self, req: t.ClaimResource, caller: Caller, job: Job) -> t.ClaimInfo:
        with self.service.engines.engine() as engine:
            actor = _actor(engine, caller, req.as_session)
            made = co.Coordination(engine.store).claim(actor, req.path, ttl=req.ttl_seconds, reason=req.reason,
                                                       caller=caller.label)
        return _claim(made)

    def release(self, req: t.ReleaseResource, caller: Caller, job: Job) -> t.ClaimList:
        with self.service.engines.engine() as engine:
            actor = _actor(engine, caller, req.as_session)
            released = co.Coordination(engine.store).release(actor, req.path, caller=caller.label)
        return t.ClaimList(repo=co.project(actor), claims=[_claim(c) for c in released])

    def claims(self, req: t.ListClaims, caller: Caller, job: Job) -> t.ClaimList:
        with self.service.engines.engine() as engine:
            root = _scope(engine, caller, req.as_session)
            held = co.Coordination(engine.store).claims(root)
        return t.ClaimList(repo=root, claims=[_claim(c) for c in held])

    # --- peers --------------------------------------------------------------------------------------

    def sessions(self, req: t.QuerySessions, caller: Caller, job: Job) -> t.PeerList:
        with self.service.engines.engine() as engine:
            root = _scope(engine, caller, req.as_session)
            held: dict[str, list[str]] = {}
            for claim in engine.store.held_claims(repo_root=root):
                held.setdefault(claim.session, []).append(claim.pattern)
            # With the supervisor watching, the stored statuses are its own (at most one poll, 2 s, old):
            # the `tmux list-panes` that reconciling takes was most of this tool's time.
            monitor = self.service.monitor
            listed = engine.store.list_sessions() if monitor is not None and monitor.watching() \
                else engine.list_sessions(caller=caller)
            shown = [s for s in listed if co.project(s) == root and _matches(s, req.filter)]
            lasts = engine.store.last_messages([s.id for s in shown])  # one query, not one per session
            stats = engine.diff_stats(shown, caller=caller) if req.stats else {}
            peers = []
            for session in shown:
                last = lasts.get(session.id)
                counts = stats.get(session.id)
                diff = t.DiffStat(insertions=counts[0], deletions=counts[1], files=counts[2]) if counts else None
                peers.append(t.PeerInfo(
                    name=session.name, agent=session.agent, mode=session.mode, status=session.status,
                    branch=session.branch, claims=held.get(session.name, []),
                    last_message=last.text[:LAST_MESSAGE_CHARS] if last is not None else None, diff=diff))
        return t.PeerList(repo=root, sessions=peers)

    # --- artifacts --------------------------------------------------------------------------------

    def share(self, req: t.ShareArtifact, caller: Caller, job: Job) -> t.ArtifactInfo:
        given = [name for name in ("text", "data", "path") if getattr(req, name) is not None]
        if len(given) != 1:
            raise InvalidInput("give the artifact's content as one of text, data or path", field="text")
        with self.service.engines.engine() as engine:
            actor = _actor(engine, caller, req.as_session)
            if req.text is not None:
                content = req.text.encode()
            elif req.data is not None:
                content = req.data
            else:
                assert req.path is not None
                content = _read_in(Path(actor.workdir), req.path)
            stored = co.Coordination(engine.store).share(actor, req.name, content, caller=caller.label)
        return _artifact(stored)

    def get_artifact(self, req: t.GetArtifact, caller: Caller, job: Job) -> t.ArtifactContent:
        with self.service.engines.engine() as engine:
            found = co.Coordination(engine.store).artifact(_scope(engine, caller, req.as_session), req.name)
        content = found.content or b""
        try:
            text, data = content.decode(), None
        except UnicodeDecodeError:
            text, data = None, content
        return t.ArtifactContent(name=found.name, session=found.session, size=found.size, ts=found.ts, text=text,
                                 data=data)

    def artifacts(self, req: t.ListArtifacts, caller: Caller, job: Job) -> t.ArtifactList:
        with self.service.engines.engine() as engine:
            root = _scope(engine, caller, req.as_session)
            found = co.Coordination(engine.store).artifacts(root)
        return t.ArtifactList(repo=root, artifacts=[_artifact(a) for a in found])


# --- who acts ---------------------------------------------------------------------------------------


def _actor(engine: Engine, caller: Caller, as_session: str | None) -> Session:
    """The session the caller acts for: an agent's own, or the one the user names."""
    actor = _acting(engine, caller, as_session)
    if actor is None:
        raise NeedsSession("this acts for a session: name the one you act for (as_session)", field="as_session",
                           hint="agents act for their own session; the user names one")
    return actor


def _acting(engine: Engine, caller: Caller, as_session: str | None) -> Session | None:
    if caller.trust is Trust.AGENT:
        if caller.session is None:
            raise NotPermitted("an agent caller whose session is unknown", field="as_session")
        if as_session is not None and as_session != caller.session:
            raise NotPermitted(f"{caller.label} cannot act as {as_session!r}: a session speaks only for itself",
                               field="as_session")
        name = caller.session
    elif as_session is None:
        return None
    else:
        name = as_session
    try:
        return engine.store.get_session(name)
    except SessionNotFound:
        raise SessionNotFound(f"no live session named {name!r}", field="as_session") from None


def _scope(engine: Engine, caller: Caller, as_session: str | None) -> str:
    """The project a listing is of: the acting session's, else the repository of the caller's cwd."""
    actor = _acting(engine, caller, as_session)
    if actor is not None:
        return co.project(actor)
    cwd = Path(caller.cwd)
    top = find_toplevel(cwd) if cwd.is_dir() else None
    return str(top) if top is not None else str(cwd)


def _matches(session: Session, text: str | None) -> bool:
    if not text:
        return True
    wanted = text.lower()
    return any(wanted in value.lower() for value in (session.name, session.agent, session.mode.value,
                                                     session.status.value))


def _read_in(workdir: Path, path: str) -> bytes:
    """A file of the session's workdir (symlinks resolved, never outside it), within the size limit."""
    root = workdir.resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise PathOutsideWorktree(f"{path!r} is outside the session's workdir {root}", field="path")
    try:
        size = os.stat(target).st_size
        if size > co.ARTIFACT_MAX_BYTES:
            raise TooLarge(f"{path} is {size} bytes; an artifact may be at most {co.ARTIFACT_MAX_BYTES} bytes "
                           "(nothing was stored)", field="path")
        with open(target, "rb") as handle:
            return handle.read(co.ARTIFACT_MAX_BYTES + 1)
    except (IsADirectoryError, FileNotFoundError, PermissionError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="path") from None


# --- API types ----------------------------------------------------------------------------------------


def _message(m: Message) -> t.MessageInfo:
    return t.MessageInfo(id=m.id, ts=m.ts, from_session=m.from_session, to=m.to_session, text=m.text,
                         delivered_at=m.delivered_at)


def _claim(c: Claim) -> t.ClaimInfo:
    return t.ClaimInfo(id=c.id, ts=c.ts, session=c.session, path=c.pattern, reason=c.reason, expires_at=c.expires_at)


def _artifact(a: Artifact) -> t.ArtifactInfo:
    return t.ArtifactInfo(name=a.name, session=a.session, size=a.size, ts=a.ts)
