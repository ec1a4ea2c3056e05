"""The supervisor: one process per TRAILS_HOME watching every live session, cheaply.

How it stays cheap: tmux appends each pane's output to a log file (see core/outputlog.py), and one inotify
descriptor on the log directory wakes the supervisor only when some pane wrote something. New bytes go
into that session's terminal emulator; the screen is classified only then (and on a per-session quiet
timer for the "unchanged for a while = ready" rule). Process state (an agent that exited) comes from
one `tmux list-panes` for all sessions every couple of seconds. No process is spawned per session per
tick; with nothing written, the loop sleeps in select().

It runs in a thread of this home's trails server (trails.server.monitor), which hands its events to
subscribers and asks it to look now (`wake`) when another operation changed the state database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import selectors
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trails.api.caller import Caller, Trust
from trails.core import events as core_events
from trails.core import outputlog
from trails.core.models import Session, Status
from trails.monitor import detect as detect_mod
from trails.monitor import guards as guards_mod
from trails.monitor.policy import Policy, load_for, without_settings
from trails.monitor.screen import Screen

RESCAN_SECONDS = 1.0  # new/removed sessions, auto-yes switches (one SQLite read, no process)
PANES_SECONDS = 2.0  # exited agents, pane sizes, logs to start (one tmux call)
KEY_RETRY_SECONDS = 0.6  # a sent answer that changed nothing is tried again after this
# Keys go to a dialog only once its screen has been still this long: it is fully drawn (Claude Code
# drops keys sent while it draws), and after a key (e.g. Down) the agent has finished reacting, so the
# next key is decided on where the cursor really is. A dialog that never stops redrawing is answered
# anyway once it has been shown for BUSY_DIALOG_SECONDS.
SETTLE_SECONDS = 0.3
BUSY_DIALOG_SECONDS = 3.0
PARTIAL_SCREEN_SECONDS = 1.5  # a dialog without the expected option this long is not half-drawn
REPLAY_LIMIT = 1024 * 1024  # logs up to this size are replayed into the emulator on pick-up
# Not "creating": the engine is still writing that row; it nudges the supervisor when done.
_WATCHED = {Status.LOADING, Status.RUNNING, Status.READY, Status.WAITING}


@dataclass
class Watch:
    """What the supervisor knows about one live session."""

    session: Session
    policy: Policy
    screen: Screen
    status: Status
    log: Any = None  # open binary handle on the log, positioned after what was fed
    inode: int | None = None
    last_output: float = field(default_factory=time.monotonic)
    evaluated_version: int = -1
    last_state: str | None = None
    prompt_sig: str | None = None
    prompt_since: float = 0.0
    keys_sent_at: float = 0.0
    keys_version: int = -1
    answered_sig: str | None = None
    refused_sig: str | None = None
    needs_user: bool = False
    recheck_at: float | None = None


class Supervisor:
    def __init__(self, home: Path) -> None:
        from trails.core.engine import Engine

        self.home = home
        self.engine = Engine(home)
        self.store = self.engine.store
        self.tmux = self.engine.tmux
        self.watches: dict[str, Watch] = {}  # by tmux session name (= log file stem)
        self.sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.running = False
        self._stopping = False
        self.idle_exit = float(os.environ.get("TRAILS_SUPERVISOR_IDLE_EXIT", "0") or 0)
        self._next_rescan = 0.0
        self._next_panes = 0.0
        self._idle_since = time.monotonic()
        self._inotify: Any = None
        self._failures: dict[tuple[str, str], str] = {}  # (tmux session, step) → its error, reported once

    # --- events -------------------------------------------------------------------------------


    # --- control, from the server's other threads -------------------------------------------------

    def wake(self) -> None:
        """Look at the state database and the panes now (another operation changed something)."""
        self._next_rescan = 0.0
        self._next_panes = 0.0
        with contextlib.suppress(BlockingIOError):  # a wake-up is already pending
            os.write(self._wake_w, b"w")

    def stop(self) -> None:
        self._stopping = True
        self.running = False
        self.wake()

    def close(self) -> None:
        """After run() has returned: let go of the wake-up pipe and the state database."""
        os.close(self._wake_r)
        os.close(self._wake_w)
        self.engine.close()

    def _woken(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass

    # --- sessions -----------------------------------------------------------------------------

    def _rescan(self) -> None:
        """Start watching new live sessions, stop watching ended ones, note changes made elsewhere."""
        current = {s.tmux_session: s for s in self.store.list_sessions() if s.status in _WATCHED}
        for tname, watch in list(self.watches.items()):
            fresh = current.get(tname)
            if fresh is None or fresh.id != watch.session.id:
                self._unwatch(tname)
                continue
            if fresh.status is not watch.status:  # changed by the engine (exit, kill, resume, …): it wrote the event
                watch.status = fresh.status
            if fresh.auto_yes != watch.session.auto_yes:
                watch.recheck_at = time.monotonic()  # a waiting prompt may now be answered
                watch.refused_sig = None
            watch.session = fresh
            if watch.policy.broken is not None:  # fixed settings take effect without a restart
                watch.policy = self._policy(fresh, watch.policy.broken)
                if watch.policy.broken is None:
                    watch.recheck_at, watch.refused_sig = time.monotonic(), None
        for key in [k for k in self._failures if k[0] not in current]:
            del self._failures[key]
        for tname, session in current.items():
            if tname not in self.watches:
                self._guarded(session, self._watch, session)

    def _guarded(self, session: Session, step: Callable[..., None], *args: Any) -> None:
        """Run one step for one session. An error in it is reported once and stops only that step for
        that session, never the supervisor, which watches every session of the home."""
        key = (session.tmux_session, step.__name__)
        try:
            step(*args)
        except Exception as exc:
            message = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            if self._failures.get(key) == message:
                return
            self._failures[key] = message
            traceback.print_exc(file=sys.stderr)
            with contextlib.suppress(Exception):
                self.store.audit("monitor_error", session.name, step=step.__name__, error=message)
        else:
            if self._failures:
                self._failures.pop(key, None)

    def _policy(self, session: Session, broken_before: str | None = None) -> Policy:
        from trails.agents.registry import profile_of

        agent = profile_of(session).name
        try:
            # The settings the session was created with: its repository's main checkout, as trails recorded
            # it, never a worktree's own copy (an agent edits that one, and could drop guards with it).
            return load_for(agent, session.repo_root or session.workdir)
        except Exception as exc:  # a settings file that does not load: watch without it, answer nothing
            why = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            if why != broken_before:
                with contextlib.suppress(Exception):
                    self.store.audit("settings_error", session.name, error=why)
            return without_settings(agent, why)

    def _watch(self, session: Session) -> None:
        policy = self._policy(session)
        watch = Watch(session, policy, Screen(), session.status)
        self.watches[session.tmux_session] = watch
        self._open_log(watch, replay=True)
        if session.status is Status.CREATING or (session.status is Status.RUNNING and watch.screen.version == 0):
            self._set_status(watch, Status.LOADING, "the agent is starting")
        self._evaluate(watch, time.monotonic())

    def _unwatch(self, tname: str) -> None:
        # What ended it (kill, pause, an exit reconciled) wrote its status event with the change.
        watch = self.watches.pop(tname)
        if watch.log is not None:
            watch.log.close()

    def _open_log(self, watch: Watch, *, replay: bool) -> None:
        path = outputlog.log_path(self.home, watch.session.tmux_session)
        if not path.exists():
            return
        handle = path.open("rb")
        watch.inode = os.fstat(handle.fileno()).st_ino
        size = os.fstat(handle.fileno()).st_size
        if replay and size > REPLAY_LIMIT:
            # A long history: start from what tmux shows now instead of replaying megabytes.
            handle.seek(0, os.SEEK_END)
            try:
                shown = self.tmux.capture(watch.session.tmux_session, ansi=True)
            except Exception:
                shown = ""
            watch.screen.feed(shown.replace("\n", "\r\n").encode())
        elif replay:
            watch.screen.feed(handle.read())
        watch.log = handle

    def _read_log(self, watch: Watch, now: float) -> None:
        if watch.log is None:
            self._open_log(watch, replay=True)
            if watch.log is None:
                return
            watch.last_output = now
            return
        data = watch.log.read()
        if data:
            watch.screen.feed(data)
            watch.last_output = now
        try:
            st = os.stat(outputlog.log_path(self.home, watch.session.tmux_session))
            rotated = st.st_ino != watch.inode
        except FileNotFoundError:
            rotated = False
        if rotated:
            watch.log.close()
            watch.log = None
            self._open_log(watch, replay=True)

    # --- classification and answers ---------------------------------------------------------------

    def _evaluate(self, watch: Watch, now: float) -> None:
        if watch.screen.version == watch.evaluated_version and (watch.recheck_at is None or now < watch.recheck_at):
            return
        watch.evaluated_version = watch.screen.version
        watch.recheck_at = None
        det = detect_mod.detect(watch.policy.patterns, watch.screen.lines(), watch.screen.width)
        watch.last_state = det.state
        if det.state != "prompt":
            watch.prompt_sig = watch.answered_sig = watch.refused_sig = None
            if watch.needs_user:
                watch.needs_user = False
                self._set_needs_user(watch, None)
        if det.state == "prompt":
            self._on_prompt(watch, det, now)
        elif det.state == "busy":
            self._set_status(watch, Status.RUNNING, "working")
        elif det.state == "ready":
            self._set_status(watch, Status.READY, "at its prompt")
        elif watch.status is not Status.LOADING and now - watch.last_output < watch.policy.quiet_seconds:
            self._set_status(watch, Status.RUNNING, "writing output")

    def _quiet_applies(self, watch: Watch) -> bool:
        # Agents with known screens leave loading by showing one; the quiet rule is for the rest.
        if watch.last_state is not None or watch.screen.version == 0:
            return False
        return watch.status is Status.RUNNING or (watch.status is Status.LOADING and not watch.policy.patterns.ready)

    def _quiet_check(self, watch: Watch, now: float) -> None:
        if self._quiet_applies(watch) and now - watch.last_output >= watch.policy.quiet_seconds:
            self._set_status(watch, Status.READY, f"screen unchanged for {watch.policy.quiet_seconds:g}s")

    def _on_prompt(self, watch: Watch, det: detect_mod.Detection, now: float) -> None:
        sig = hashlib.sha1(f"{det.kind}\0{det.text}".encode()).hexdigest()
        if sig != watch.prompt_sig:
            watch.prompt_sig, watch.prompt_since = sig, now
        first_line = next((ln.strip() for ln in det.text.splitlines() if "?" in ln), det.kind or "prompt")
        is_trust = det.kind == "trust"
        wants_answer = watch.policy.answer_trust if is_trust else watch.session.auto_yes
        if not is_trust or not wants_answer:
            self._set_status(watch, Status.WAITING, first_line)
        if not wants_answer:
            return
        refusal = None
        if watch.policy.broken is not None:
            refusal = guards_mod.Refusal("settings error", f"the settings do not load: {watch.policy.broken}")
        elif not is_trust:
            root, seen_as = guards_mod.session_dirs(watch.session)
            refusal = guards_mod.check(det.text, kind=det.kind, target=det.target, workdir=root, seen_as=seen_as,
                                       guards=watch.policy.guards, commands=det.commands,
                                       git_alias=guards_mod.git_aliases(root))
        response = watch.policy.response(det.kind, det.response)
        keys: list[str] | None = None
        if refusal is None and response is not None:
            keys = list(response.keys) if response.keys else (
                detect_mod.keys_for_option(det.text, response.option) if response.option else None)
            if keys is None:
                if now - watch.prompt_since < PARTIAL_SCREEN_SECONDS:
                    watch.recheck_at = now + 0.2  # the dialog may still be drawing
                    return
                refusal = guards_mod.Refusal("no answer", f"no option matching {response.option!r} on screen")
        elif refusal is None:
            refusal = guards_mod.Refusal("no answer", f"no auto-yes response configured for {det.kind!r} prompts")
        if refusal is not None:
            if watch.refused_sig != sig:
                watch.refused_sig = sig
                self.store.audit("auto_yes_refused", watch.session.name, prompt_kind=det.kind, prompt=det.text,
                                 guard=refusal.guard, reason=refusal.reason)
                watch.needs_user = True
                self._set_needs_user(watch, refusal.reason)  # first: the status event below says so
                self._set_status(watch, Status.WAITING, f"needs you: {first_line} ({refusal.reason})", force=True)
            return
        assert keys is not None
        if now - watch.last_output < SETTLE_SECONDS and now - watch.prompt_since < BUSY_DIALOG_SECONDS:
            watch.recheck_at = watch.last_output + SETTLE_SECONDS
            return
        if watch.keys_version == watch.screen.version and now - watch.keys_sent_at < KEY_RETRY_SECONDS:
            watch.recheck_at = watch.keys_sent_at + KEY_RETRY_SECONDS
            return
        self.tmux.send_keys(watch.session.tmux_session, *keys)
        watch.keys_sent_at, watch.keys_version = now, watch.screen.version
        watch.recheck_at = now + KEY_RETRY_SECONDS
        if keys[-1] == "Enter" and watch.answered_sig != sig:
            watch.answered_sig = sig
            action = "trust_answered" if is_trust else "auto_yes_answered"
            self.store.audit(action, watch.session.name, prompt_kind=det.kind, prompt=det.text,
                             response=response.option if response else None, keys=keys)

    def _set_status(self, watch: Watch, status: Status, reason: str, *, force: bool = False) -> None:
        if status is watch.status and not force:
            return
        # Only over a live status: ended or paused meanwhile, the next rescan drops it.
        if not self.store.set_live_status(watch.session.id, status, reason, force=force):
            self._next_rescan = 0.0
            return
        watch.status = status

    def _set_needs_user(self, watch: Watch, reason: str | None) -> None:
        self.store.set_needs_user(watch.session.id, reason)

    # --- panes ----------------------------------------------------------------------------------

    def _check_panes(self) -> None:
        if not self.watches:
            return
        seen: dict[str, list[str]] = {}
        for row in self.tmux.pane_fields("session_name", "pane_width", "pane_height", "pane_pipe", "pane_dead"):
            seen.setdefault(row[0], row)
        any_dead = False
        for tname, watch in self.watches.items():
            info = seen.get(tname)
            if info is None or info[4] == "1":
                any_dead = True
                continue
            if info[1].isdigit() and info[2].isdigit():
                watch.screen.resize(int(info[1]), int(info[2]))
            if info[3] != "1":
                self.tmux.pipe_pane(tname, outputlog.pipe_command(self.home, tname))
        if any_dead:
            # Reconciles exited agents into completed/error: the supervisor reads as the home's owner.
            self.engine.list_sessions(caller=Caller(trust=Trust.USER, cwd=str(self.home)))
            self._next_rescan = 0.0

    def _install_hook(self) -> None:
        command = outputlog.hook_command(self.home)
        if command and self.tmux.socket.exists():
            self.tmux.set_global_hook("session-created", command)

    # --- loop -----------------------------------------------------------------------------------

    def run(self) -> None:
        from trails.monitor.inotify import Inotify

        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        log_dir = outputlog.output_dir(self.home)
        try:
            self._inotify = Inotify()
            self._inotify.watch(str(log_dir))
            self.sel.register(self._inotify.fd, selectors.EVENT_READ, "inotify")
        except OSError:
            self._inotify = None  # no inotify: poll the logs on the rescan timer instead
        self._install_hook()
        self.running = not self._stopping
        self._next_rescan = self._next_panes = 0.0
        self.store.append_event(core_events.SupervisorState(state="started", pid=os.getpid()))
        try:
            while self.running:
                self._tick(self._timeout())
        finally:
            self.store.append_event(core_events.SupervisorState(state="stopping", pid=os.getpid()))
            self.sel.close()
            if self._inotify is not None:
                self._inotify.close()
            for watch in self.watches.values():
                if watch.log is not None:
                    watch.log.close()

    def _timeout(self) -> float:
        now = time.monotonic()
        deadline = min(self._next_rescan, self._next_panes)
        for watch in self.watches.values():
            if watch.recheck_at is not None:
                deadline = min(deadline, watch.recheck_at)
            if self._quiet_applies(watch):
                deadline = min(deadline, watch.last_output + watch.policy.quiet_seconds)
        if self._inotify is None and self.watches:
            deadline = min(deadline, now + 0.1)
        return max(0.0, deadline - now)

    def _tick(self, timeout: float) -> None:
        changed: set[str] = set()
        for key, _mask in self.sel.select(timeout):
            if key.data == "inotify":
                changed |= self._inotify.read()
            elif key.data == "wake":
                self._woken()
        now = time.monotonic()
        if self._inotify is None:
            changed = {f"{t}.log" for t in self.watches}
        for name in changed:
            tname = name.removesuffix(".log")
            if tname in self.watches:
                self._read_log(self.watches[tname], now)
            elif name.endswith(".log"):
                self._next_rescan = 0.0  # a session we do not know yet
        if now >= self._next_rescan:
            self._next_rescan = now + RESCAN_SECONDS
            self._rescan()
            self._maybe_exit(now)
        if now >= self._next_panes:
            self._next_panes = now + PANES_SECONDS
            self._check_panes()
        for watch in list(self.watches.values()):
            self._guarded(watch.session, self._evaluate, watch, now)
            self._guarded(watch.session, self._quiet_check, watch, now)

    def _maybe_exit(self, now: float) -> None:
        if not self.home.exists():
            self.running = False
            return
        if self.watches:
            self._idle_since = now
        elif self.idle_exit and now - self._idle_since > self.idle_exit:
            self.running = False

