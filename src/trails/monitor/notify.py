"""Notifications: a session started waiting, failed, or finished — told where the user will see it.

Three channels, each chosen in the settings' `notifications` (defaults: waiting, error and completed;
desktop and terminal on, no webhook):

- desktop: `notify-send` where it is installed (a desktop session shows it; elsewhere it fails quietly);
- terminal: every client attached to trails' tmux server gets an OSC 9 notification (terminals that
  show them: iTerm2, WezTerm, Windows Terminal, kitty, …), a bell, and a tmux message line;
- webhook: `notifications.webhook`, a URL that receives a small JSON body whose `text` is what a
  Slack incoming webhook shows. Only from the user's own settings (core/repo_settings.py): a cloned
  repository cannot send news of your sessions elsewhere.

Notices are sent from a thread of their own, so a slow webhook never holds up the supervisor. They are
coalesced: what arrives within BATCH_SECONDS goes out as one notification (ten agents that finish
together are one message), and a session's same status is told again only after `coalesce_seconds`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.infra.tmux import Tmux

BATCH_SECONDS = 2.5  # over the supervisor's pane check (2 s): agents that exit together are one notice
DEFAULT_EVENTS = ("waiting", "error", "completed")
DEFAULT_COALESCE_SECONDS = 60.0
SEND_TIMEOUT = 5.0


@dataclass(frozen=True)
class Notice:
    session: str
    status: str
    reason: str
    root: str | None  # the session's repository or directory: whose settings apply
    at: float = field(default_factory=time.time)

    def line(self) -> str:
        return f"{self.session} {'is ' if self.status == 'waiting' else ''}{self.status}" + \
            (f" ({self.reason})" if self.reason else "")


@dataclass(frozen=True)
class Channels:
    events: tuple[str, ...] = DEFAULT_EVENTS
    desktop: bool = True
    terminal: bool = True
    webhook: str | None = None
    coalesce_seconds: float = DEFAULT_COALESCE_SECONDS


def channels_for(root: str | None) -> Channels:
    """The notification settings that apply to a session in `root` (the repository's over the user's,
    key by key; a repository's webhook never counts: see core/repo_settings.py)."""
    from trails.core import config as config_mod
    from trails.infra import git as gitinfra

    repo = gitinfra.find_toplevel(root) if root and Path(root).is_dir() else None
    config = config_mod.load(repo)
    layers = [s.notifications for s in (config.user, config.project) if s.notifications is not None]
    values: dict[str, Any] = {}
    for layer in layers:
        for key in ("events", "desktop", "terminal", "webhook", "coalesce_seconds"):
            value = getattr(layer, key)
            if value is not None:
                values[key] = tuple(value) if key == "events" else value
    return Channels(**values)


class Notifier:
    """Takes notices from the supervisor (`notice`) and sends them, coalesced, from its own thread."""

    def __init__(self, tmux: Tmux) -> None:
        self.tmux = tmux
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self._told: dict[tuple[str, str], float] = {}  # (session, status) → when it was last told
        self._thread: threading.Thread | None = None

    def notice(self, session: str, status: str, reason: str, root: str | None) -> None:
        if status in ("waiting", "error", "completed"):
            self._queue.put(Notice(session, status, reason or "", root))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trails-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(2 * SEND_TIMEOUT)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, deadline = [first], time.monotonic() + BATCH_SECONDS
            stopping = False
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                self.send(batch)
            except Exception as exc:  # a notification that fails is no reason to stop telling the rest
                print(f"trails-server: notification failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            if stopping:
                return

    def send(self, batch: list[Notice]) -> None:
        """Send one batch: the latest notice per session, each as its settings choose, once per window."""
        latest: dict[str, Notice] = {}
        for item in batch:
            latest.pop(item.session, None)
            latest[item.session] = item
        roots: dict[str | None, Channels] = {}
        desktop, terminal, hooks = [], [], dict[str, list[Notice]]()
        for item in latest.values():
            if item.root not in roots:
                try:
                    roots[item.root] = channels_for(item.root)
                except Exception:  # settings that do not load: the defaults, without a webhook
                    roots[item.root] = Channels()
            ch = roots[item.root]
            if item.status not in ch.events:
                continue
            told = self._told.get((item.session, item.status))
            if told is not None and item.at - told < ch.coalesce_seconds:
                continue
            self._told[(item.session, item.status)] = item.at
            if ch.desktop:
                desktop.append(item)
            if ch.terminal:
                terminal.append(item)
            if ch.webhook:
                hooks.setdefault(ch.webhook, []).append(item)
        if desktop:
            self._desktop(desktop)
        if terminal:
            self._terminal(terminal)
        for url, items in hooks.items():
            self._webhook(url, items)

    @staticmethod
    def text(items: list[Notice]) -> str:
        return "trails: " + "; ".join(item.line() for item in items)

    def _desktop(self, items: list[Notice]) -> None:
        program = shutil.which("notify-send")
        if program is None:
            return
        summary = f"trails: {items[0].session} {items[0].status}" if len(items) == 1 else \
            f"trails: {len(items)} sessions need a look"
        body = "\n".join(item.line() for item in items)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([program, "--app-name=trails", summary, body], capture_output=True,
                           timeout=SEND_TIMEOUT, check=False, stdin=subprocess.DEVNULL)

    def _terminal(self, items: list[Notice]) -> None:
        """OSC 9 and a bell to every attached client's terminal, and a line in tmux itself."""
        text = self.text(items).replace("\x1b", "").replace("\x07", "")
        for row in self.tmux.client_fields("client_tty"):
            tty = row[0]
            if not tty.startswith("/dev/"):
                continue
            with contextlib.suppress(OSError):
                fd = os.open(tty, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
                try:
                    os.write(fd, f"\x1b]9;{text}\x07\a".encode())
                finally:
                    os.close(fd)
            self.tmux.display_message(tty, text)

    @staticmethod
    def _webhook(url: str, items: list[Notice]) -> None:
        body = json.dumps({"text": Notifier.text(items), "notices": [
            {"session": i.session, "status": i.status, "reason": i.reason, "at": i.at} for i in items]}).encode()
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "trails"})
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
            response.read(1024)
