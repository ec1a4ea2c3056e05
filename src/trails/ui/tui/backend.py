"""What the dashboard calls: this home's server, through the client, in the shapes its widgets read.

The dashboard holds no session logic; every method here is one request (trails.api.types). Sessions
come back as core.models.Session records and live updates as the server's event stream, so the app
and the stand-in engine of its tests (tests/tui/fake_engine.py) answer the same calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from trails.api import types as t
from trails.api.client import Client
from trails.core.models import Session


@dataclass
class DiffSummary:
    text: str
    insertions: int
    deletions: int
    files: int


def session_of(info: t.SessionInfo) -> Session:
    """A session as the dashboard keeps it: a remote host's is named by its address, HOST:NAME, with its
    host in `extra["host"]` (the dashboard greys it while the host is unreachable)."""
    fields = msgspec.structs.asdict(info)
    host = fields.pop("host", msgspec.UNSET)
    session = Session(**fields)
    if isinstance(host, str):
        session.name = f"{host}:{info.name}"
        session.extra = {**session.extra, "host": host}
    return session


class ClientBackend:
    def __init__(self, client: Client | None = None) -> None:
        self.client = client or Client()
        self.hosts: dict[str, bool] = {}  # each remote host: reachable at the last listing

    def close(self) -> None:
        return None

    # --- reads ---

    def list_sessions(self, include_ended: bool = False) -> list[Session]:
        """This machine's sessions and every host's (as the server last found them); an unreachable
        host's are not known now, so the dashboard keeps those it had."""
        listed = self.client.call(t.ListSessions(include_ended=include_ended, hosts=True))
        sessions = [session_of(s) for s in listed.sessions]
        hosts = listed.hosts if isinstance(listed.hosts, dict) else {}
        self.hosts = {name: found.reachable for name, found in hosts.items()}
        for found in hosts.values():
            sessions += [session_of(s) for s in found.sessions]
        return sessions

    def get_session(self, name: str) -> Session:
        return session_of(self.client.call(t.Get(name=name)))

    def output(self, name: str, lines: int | None = None) -> str:
        return self.client.call(t.Output(name=name, lines=lines)).output

    def diff(self, name: str, *, stat: bool = False) -> DiffSummary:
        result = self.client.call(t.Diff(name=name, stat=stat))
        return DiffSummary(result.diff, result.stat.insertions, result.stat.deletions, result.stat.files)

    def show(self, name: str) -> dict[str, Any]:
        shown: dict[str, Any] = msgspec.to_builtins(self.client.call(t.Show(name=name)))
        return shown

    def events(self, session: str | None = None, since: int | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        listed = self.client.call(t.Events(session=session, since=since, limit=limit))
        return [msgspec.to_builtins(e) for e in listed.events]

    def subscribe_events(self, since: int | None = None, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        for event in self.client.subscribe(since, timeout=timeout):
            yield msgspec.to_builtins(event)

    # --- actions ---

    def create_session(self, name: str, agent: str, *, cwd: str | os.PathLike[str] | None = None,
                       **options: Any) -> t.CreateResult:
        where = None if cwd is None else os.fspath(cwd)
        return self.client.call(t.Create(name=name, agent=agent, cwd=where, **options))

    def send(self, name: str, text: str) -> t.SendResult:
        return self.client.call(t.Send(name=name, text=text))

    def pause(self, name: str) -> t.PauseResult:
        return self.client.call(t.Pause(name=name))

    def resume(self, name: str) -> t.ResumeResult:
        return self.client.call(t.Resume(name=name))

    def set_auto_yes(self, name: str, on: bool) -> t.AutoYesResult:
        return self.client.call(t.AutoYes(name=name, on=on))

    def kill(self, name: str, *, force: bool = False, delete_branch: bool = False) -> t.KillResult:
        return self.client.call(t.Kill(name=name, force=force, delete_branch=delete_branch))

    def merge(self, name: str) -> t.MergeResult:
        return self.client.call(t.Merge(name=name))

    def upgrade_session(self, name: str, to: str, **options: Any) -> t.MoveResult:
        return self.client.call(t.Upgrade(name=name, to=to, **options))

    def export_session(self, name: str, to: str, *, force: bool = False) -> t.MoveResult:
        return self.client.call(t.Export(name=name, to=to, force=force))

    def attach(self, name: str) -> int:
        """Attach this terminal to the session's pane until the user detaches (the app suspends first)."""
        import subprocess

        return subprocess.call(self.attach_argv(name))

    def attach_argv(self, name: str) -> list[str]:
        """The command that attaches to the session: its tmux, or `ssh -t` to a remote host's (HOST:NAME)."""
        host, sep, there = name.partition(":")
        if not sep or host == "local":
            return self.client.call(t.AttachCommandRequest(name=there if sep else name)).argv
        from trails.api.remote import RemoteClient, attach_argv

        return attach_argv(host, RemoteClient(host).call(t.AttachCommandRequest(name=there)).argv)
