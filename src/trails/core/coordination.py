"""Agents' coordination (issue #12): messages between sessions, advisory claims on paths, shared artifacts.

The rules live here; the store keeps the rows (state.db is the source of truth) and writes each
action's audit entry — and so its event — in the same transaction as the row. Every call names the
session acting (`actor`): the server decides who that is from the caller, never from the request.

A session's *project* is its repository's primary checkout (`repo_root`), or its workdir outside git:
claims, artifacts and "*" messages are scoped to it. Each action is also appended, as one JSON line,
to `<project>/.trails/agent-comm.log` for plain tools to read; trails keeps that file out of git
through the repository's `info/exclude` (no file of its own in the work tree, which would show as
untracked), and a log that cannot be written never undoes the action.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import time
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from trails.core.errors import (
    ArtifactNotFound,
    ArtifactTaken,
    ClaimConflict,
    InvalidClaim,
    InvalidInput,
    RateLimited,
    SessionNotFound,
    TooLarge,
)
from trails.core.models import Artifact, Claim, Message, Session
from trails.core.store import Store

MESSAGE_MAX_BYTES = 16 * 1024
RATE_WINDOW = 60.0
RATE_MAX = 30  # messages a session may send per RATE_WINDOW
ARTIFACT_MAX_BYTES = 1024 * 1024
READ_LIMIT = 100  # messages one read returns at most (the latest)
TYPED_MAX_CHARS = 500  # a longer message is announced in the pane, not typed there
MAX_TTL = 7 * 24 * 3600.0
BROADCAST = "*"
LOG_NAME = "agent-comm.log"
IGNORE_LINE = "/.trails/agent-comm.log"
_ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_GLOB_CHARS = frozenset("*?[")


def project(session: Session) -> str:
    """What a session's claims, artifacts and broadcasts are scoped to."""
    return session.repo_root or session.workdir


class Coordination:
    """Messages, claims and artifacts over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- messages -------------------------------------------------------------------------------

    def send_message(self, actor: Session, to: str, text: str, *, caller: str) -> Message:
        """Store `text` for session `to` (a live one of the actor's project, or "*" for all of them)."""
        size = len(text.encode())
        if not text.strip():
            raise InvalidInput("the message is empty", field="text")
        if size > MESSAGE_MAX_BYTES:
            raise TooLarge(f"the message is {size} bytes; a message may be at most {MESSAGE_MAX_BYTES} bytes "
                           "(nothing was sent)", hint="share long text as an artifact and send its name",
                           field="text")
        root = project(actor)
        if to != BROADCAST:
            target = self._live(to, "to")
            if project(target) != root:
                raise SessionNotFound(f"no live session named {to!r} works in {root}", field="to",
                                      hint="query_sessions lists the sessions of this repository")
            if target.id == actor.id:
                raise InvalidInput("a session cannot send a message to itself", field="to")
            recipients = [target.id]
        else:
            recipients = [s.id for s in self.store.list_sessions() if project(s) == root and s.id != actor.id]
        message = self.store.add_message(root, actor.name, to, text, recipients, window=RATE_WINDOW,
                                         at_most=RATE_MAX, audit=("message_sent", actor.name, {
                                             "caller": caller, "to": to, "text": text, "repo": root}))
        if message is None:
            raise RateLimited(f"{actor.name} sent {RATE_MAX} messages in the last {RATE_WINDOW:g} seconds, the "
                              "most allowed: this one was not sent", hint="wait a little, or send fewer, longer ones",
                              field="text")
        _log(root, "message", id=message.id, ts=message.ts, **{"from": actor.name}, to=to, text=text)
        return message

    def read_messages(self, reader: Session, since: int | None = None) -> list[Message]:
        """The reader's inbox after message id `since` (all of it: the latest READ_LIMIT); the direct
        ones it returns are marked delivered."""
        found = self.store.inbox(reader.name, project(reader), since=since or 0, not_before=reader.created_at,
                                 limit=READ_LIMIT)
        self.store.mark_delivered(reader.id, [m.id for m in found], "read")
        return found

    # --- delivery into ready agents ------------------------------------------------------------

    def deliverable(self) -> list[tuple[Message, int, str]]:
        """Messages to type now: at most one per recipient (the oldest), each of which is `ready`."""
        seen: set[int] = set()
        out = []
        for message, recipient_id, recipient in self.store.pending_for_ready():
            if recipient_id not in seen:
                seen.add(recipient_id)
                out.append((message, recipient_id, recipient))
        return out

    def delivered(self, message: Message, recipient_id: int) -> None:
        self.store.mark_delivered(recipient_id, [message.id], "typed")

    # --- claims -----------------------------------------------------------------------------------

    def claim(self, actor: Session, path: str, *, ttl: float | None = None, reason: str = "",
              caller: str) -> Claim:
        """An advisory lock on a path or glob of the actor's project, refused when it overlaps a claim
        another live session holds (naming it)."""
        root = project(actor)
        pattern = normalize_pattern(path, root, actor.workdir)
        if ttl is not None and not (0 < ttl <= MAX_TTL):
            raise InvalidInput(f"ttl_seconds must be between 0 and {MAX_TTL:g}", field="ttl_seconds")
        if len(reason) > 500:
            raise TooLarge("a claim's reason may be at most 500 characters", field="reason")
        wanted = Claim(0, 0.0, actor.name, actor.id, root, pattern, reason, time.time() + ttl if ttl else None)

        def conflict(held: list[Claim]) -> Claim | None:
            return next((c for c in held if c.session_id != actor.id and overlaps(c.pattern, pattern)), None)

        stored, other = self.store.add_claim(wanted, conflict, audit=(
            "resource_claimed", actor.name, {"caller": caller, "pattern": pattern, "reason": reason,
                                             "expires_at": wanted.expires_at, "repo": root}))
        if other is not None:
            why = f" ({other.reason})" if other.reason else ""
            raise ClaimConflict(f"{pattern!r} overlaps {other.pattern!r}, claimed by {other.session}{why}",
                                hint=f"ask {other.session} (agent_message) to release it, or claim something else",
                                field="path")
        assert stored is not None
        _log(root, "claim", id=stored.id, ts=stored.ts, session=actor.name, pattern=pattern, reason=reason,
             expires_at=stored.expires_at)
        return stored

    def release(self, actor: Session, path: str | None = None, *, caller: str) -> list[Claim]:
        """Release the actor's claim of `path` (None: all of its claims); what was released."""
        root = project(actor)
        pattern = normalize_pattern(path, root, actor.workdir) if path is not None else None
        released = self.store.release_claims(actor.id, pattern, audit=(
            "resource_released", actor.name, {"caller": caller, "repo": root}))
        if released:
            _log(root, "release", ts=time.time(), session=actor.name, patterns=[c.pattern for c in released])
        return released

    def claims(self, root: str) -> list[Claim]:
        return self.store.held_claims(repo_root=root)

    # --- artifacts --------------------------------------------------------------------------------

    def share(self, actor: Session, name: str, content: bytes, *, caller: str) -> Artifact:
        """Store (or, its sharer, replace) a named artifact of the actor's project."""
        check_artifact_name(name)
        if len(content) > ARTIFACT_MAX_BYTES:
            raise TooLarge(f"the artifact is {len(content)} bytes; an artifact may be at most {ARTIFACT_MAX_BYTES} "
                           "bytes (nothing was stored)", field="content")
        root = project(actor)
        stored, holder = self.store.put_artifact(root, name, actor.name, content, audit=(
            "artifact_shared", actor.name, {"caller": caller, "name": name, "size": len(content), "repo": root}))
        if holder is not None:
            raise ArtifactTaken(f"the artifact {name!r} was shared by {holder}: only it may replace it",
                                hint="share it under another name", field="name")
        _log(root, "artifact", id=stored.id, ts=stored.ts, session=actor.name, name=name, size=stored.size)
        return stored

    def artifact(self, root: str, name: str) -> Artifact:
        check_artifact_name(name)
        found = self.store.artifact(root, name)
        if found is None:
            raise ArtifactNotFound(f"no artifact named {name!r} in {root}", hint="list_artifacts lists them",
                                   field="name")
        return found

    def artifacts(self, root: str) -> list[Artifact]:
        return self.store.artifacts(root)

    # --- helpers ----------------------------------------------------------------------------------

    def _live(self, name: str, field: str) -> Session:
        """A session that has not ended (a paused one reads its messages when it resumes)."""
        try:
            return self.store.get_session(name)
        except SessionNotFound:
            raise SessionNotFound(f"no live session named {name!r}", field=field,
                                  hint="query_sessions lists the sessions of this repository") from None


def typed_text(message: Message) -> str:
    """What is typed into a ready recipient's pane: one line (a newline would submit it part way), the
    text itself when short, else a pointer to read_messages."""
    one_line = " ".join(message.text.split())
    to = "everyone" if message.to_session == BROADCAST else "you"
    if len(one_line) <= TYPED_MAX_CHARS:
        return f"[trails] message {message.id} from {message.from_session} to {to}: {one_line}"
    return (f"[trails] message {message.id} from {message.from_session} to {to} ({len(message.text)} characters): "
            "read it with the read_messages tool")


# --- paths and globs ------------------------------------------------------------------------------


def normalize_pattern(path: str, root: str, workdir: str | None = None) -> str:
    """A claimed path or glob as stored: relative to the project, `/`-separated, no `.` parts. An
    absolute one must lie in the project (or the actor's workdir, a worktree of it)."""
    text = path.strip()
    if not text or "\0" in text or "\\" in text or len(text) > 1000:
        raise InvalidClaim(f"not a path or glob of the repository: {path!r}", field="path")
    pure = PurePosixPath(text)
    if pure.is_absolute():
        for base in (workdir, root):
            if base and (pure == PurePosixPath(base) or PurePosixPath(base) in pure.parents):
                pure = pure.relative_to(base)
                break
        else:
            raise InvalidClaim(f"{path!r} is outside the repository {root}", field="path",
                               hint="claim a path relative to the repository's root")
    parts = [p for p in pure.parts if p not in (".", "")]
    if ".." in parts:
        raise InvalidClaim(f"{path!r} climbs out with '..': claim a path inside the repository", field="path")
    return "/".join(parts) or "**"


def overlaps(a: str, b: str) -> bool:
    """Whether some path could fall under both claims. A claim covers what it matches and, a directory,
    everything under it; two wildcard segments are compared by their literal starts and ends (a
    conservative answer: "maybe" counts as overlapping)."""
    return _overlap((*a.split("/"), "**"), (*b.split("/"), "**"))


@lru_cache(maxsize=4096)
def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        return all(s == "**" for s in a + b)
    if a[0] == "**":
        return _overlap(a[1:], b) or _overlap(a, b[1:])
    if b[0] == "**":
        return _overlap(a, b[1:]) or _overlap(a[1:], b)
    return _segments_meet(a[0], b[0]) and _overlap(a[1:], b[1:])


def _segments_meet(x: str, y: str) -> bool:
    x_glob, y_glob = bool(_GLOB_CHARS & set(x)), bool(_GLOB_CHARS & set(y))
    if not x_glob and not y_glob:
        return x == y
    if not x_glob:
        return fnmatch.fnmatchcase(x, y)
    if not y_glob:
        return fnmatch.fnmatchcase(y, x)
    head_x, head_y = _literal_head(x), _literal_head(y)
    tail_x, tail_y = _literal_head(x[::-1]), _literal_head(y[::-1])
    return (head_x.startswith(head_y) or head_y.startswith(head_x)) and \
        (tail_x.startswith(tail_y) or tail_y.startswith(tail_x))


def _literal_head(segment: str) -> str:
    for i, char in enumerate(segment):
        if char in _GLOB_CHARS or char == "]":
            return segment[:i]
    return segment


def check_artifact_name(name: str) -> None:
    if not _ARTIFACT_NAME.fullmatch(name):
        raise InvalidInput(f"not an artifact name: {name!r} (letters, digits, '.', '_' and '-', at most 100, "
                           "starting with a letter or digit)", field="name")


# --- the communication log ---------------------------------------------------------------------------


def log_path(root: str) -> Path:
    return Path(root, ".trails", LOG_NAME)


def _log(root: str, kind: str, **fields: Any) -> None:
    """One JSON line in the project's communication log (best effort: the database already has it)."""
    line = json.dumps({"kind": kind, **fields}, default=str, ensure_ascii=False) + "\n"
    with contextlib.suppress(OSError):
        path = log_path(root)
        path.parent.mkdir(exist_ok=True)
        _ignore(Path(root))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, line.encode())  # one write of a line opened O_APPEND: lines never interleave
        finally:
            os.close(fd)


def _ignore(root: Path) -> None:
    """Have git ignore the log through the repository's info/exclude (once)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        common = dot_git
    elif dot_git.is_file():  # a worktree or a submodule: the `gitdir:` it names, then that one's common dir
        text = dot_git.read_text().strip()
        if not text.startswith("gitdir:"):
            return
        git_dir = Path(root, text.removeprefix("gitdir:").strip())
        named = git_dir / "commondir"
        common = Path(git_dir, named.read_text().strip()) if named.is_file() else git_dir
    else:
        return  # not a git repository: nothing to keep it out of
    exclude = common / "info" / "exclude"
    try:
        text = exclude.read_text()
    except FileNotFoundError:
        text = ""
    if IGNORE_LINE in text.splitlines():
        return
    exclude.parent.mkdir(exist_ok=True)
    with open(exclude, "a") as handle:
        if text and not text.endswith("\n"):
            handle.write("\n")
        handle.write(f"# trails: agents' communication log (issue #12)\n{IGNORE_LINE}\n")
