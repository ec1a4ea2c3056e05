"""The supervisor: one process per TRAILS_HOME watching every live session, cheaply.

How it stays cheap: tmux appends each pane's output to a log file (see core/outputlog.py), and one inotify
descriptor on the log directory wakes the supervisor only when some pane wrote something. New bytes go
into that session's terminal emulator; the screen is classified only then (and on a per-session quiet
timer for the "unchanged for a while = ready" rule). Process state (an agent that exited) comes from
one `tmux list-panes` for all sessions every couple of seconds. No process is spawned per session per
tick; with nothing written, the loop sleeps in select().

It runs in a thread of this home's trails server (trails.server.monitor), which hands its events to
subscribers and asks it to look now (`wake`) when another operation changed the state database.

Agents whose CLI has hooks (Claude Code: see agents/claude.py) also report what they do, through the
server's hook socket (`hook`). Their reports win over the screen: once a session's hooks have spoken,
its status comes from them alone (`status_source` hook), and auto-yes answers only the dialogs they
announced, judged on the tool and input the hook gave rather than on the screen's text. The screen
still says where the dialog is and which keys answer it, and covers agents without hooks (and a
hooked agent whose hooks stay silent: after HOOK_GRACE_SECONDS its screen is believed again).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import selectors
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.api.caller import Caller, Trust
from trails.core import events as core_events
from trails.core import hookwire, outputlog
from trails.core.models import Mode, Session, Status
from trails.monitor import detect as detect_mod
from trails.monitor import guards as guards_mod
from trails.monitor.policy import Policy, load_for, without_settings
from trails.monitor.screen import Screen

if TYPE_CHECKING:
    from trails.agents.base import PermissionAsk
    from trails.api.types import HookEvent

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
# A hooked agent whose hooks have said nothing this long after it was watched has its screen believed.
HOOK_GRACE_SECONDS = 20.0
PENDING_HOOK_SECONDS = 30.0  # a report for a session not watched yet (its create still finishing) waits this long
ENDING_CHECK_SECONDS = 0.25  # after a hook said the session ended: how soon to look at its pane again
FREEZE_SAMPLE_SECONDS = 1.0  # children that used no CPU over this long are not working


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
    # Hooks (see the module docstring): whether the agent was started with them, whether any spoke yet,
    # the permission the last one asked (until a later one settles it), and an end one announced.
    hooked: bool = False
    hook_seen: bool = False
    hook_ask: PermissionAsk | None = None
    ended_by_hook: str | None = None
    source: str | None = None
    watched_at: float = field(default_factory=time.monotonic)
    grace: float = HOOK_GRACE_SECONDS  # how long silent hooks hold the screen off (0: not at all)
    grace_over: bool = False
    # Idle freezing (core/freeze.py): since when it is ready, its pane's process, a sample of its
    # children's CPU time (to tell a working build from an idle one), whether it is frozen.
    ready_since: float | None = None
    pane_pid: int | None = None
    workers: dict[int, int] | None = None
    sampled_at: float = 0.0
    frozen: bool = False


def _ask_sig(ask: PermissionAsk) -> str:
    return hashlib.sha1(f"hook\0{ask.kind}\0{ask.text}\0{ask.target}".encode()).hexdigest()


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
        # Hook reports from the server's request threads, in the order they came (see `hook`).
        self._hook_lock = threading.Lock()
        self._hooks: collections.deque[tuple[HookEvent, str]] = collections.deque()
        self._pending_hooks: list[tuple[float, HookEvent, str]] = []
        from trails.monitor.notify import Notifier

        self.notifier = Notifier(self.tmux)
        self._roots: dict[str, str | None] = {}  # session name → its directory (whose notification settings)
        self._attached: set[str] = set()  # tmux sessions a client is attached to (never frozen)

    # --- events -------------------------------------------------------------------------------

    # The store writes every event with the change it tells of; the supervisor only tells the user's
    # desktop of a status change (monitor/notify.py).

    def _notice(self, session: str, status: Status, reason: str | None) -> None:
        self.notifier.notice(session, status.value, reason or "", self._roots.get(session))

    # --- control, from the server's other threads -------------------------------------------------

    def wake(self) -> None:
        """Look at the state database and the panes now (another operation changed something)."""
        self._next_rescan = 0.0
        self._next_panes = 0.0
        with contextlib.suppress(BlockingIOError):  # a wake-up is already pending
            os.write(self._wake_w, b"w")

    def hook(self, report: HookEvent, caller: str) -> None:
        """An agent's hook report (its token already checked), from another thread: handled in order."""
        with self._hook_lock:
            self._hooks.append((report, caller))
        self.wake()

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
                self._engine_source(watch, fresh)
                self._notice(fresh.name, fresh.status, fresh.status_reason)
                watch.status = fresh.status
            if fresh.auto_yes != watch.session.auto_yes:
                watch.recheck_at = time.monotonic()  # a waiting prompt may now be answered
                watch.refused_sig = None
            watch.session = fresh
            watch.hooked = watch.hooked and bool(fresh.extra.get("hooks"))
            if watch.frozen and not fresh.extra.get("frozen"):  # thawed by what reached it: idle afresh
                watch.frozen, watch.workers = False, None
                watch.ready_since = time.monotonic() if watch.status is Status.READY else None
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

    @staticmethod
    def _engine_source(watch: Watch, fresh: Session) -> str | None:
        """The source of a status trails itself set (an exit, a pause), as the engine recorded it: a
        hook when the agent's hook had announced that end (core/engine.py), else none."""
        watch.source = fresh.status_source
        return watch.source

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
        from trails.agents.registry import profile_of

        policy = self._policy(session)
        watch = Watch(session, policy, Screen(), session.status)
        profile = profile_of(session)
        watch.hooked = bool(session.extra.get(hookwire.HOOKED_KEY)) and profile.hooks is not None \
            and profile.hooks.complete
        if profile.hooks is not None and profile.hooks.silent_until_prompt:
            watch.grace = 0.0  # nothing to wait for: its screen tells until the first prompt
        self._roots[session.name] = session.repo_root or session.workdir
        watch.frozen = bool(session.extra.get("frozen"))
        watch.ready_since = time.monotonic() if session.status is Status.READY else None
        self.watches[session.tmux_session] = watch
        self._open_log(watch, replay=True)
        if session.status is Status.CREATING or (session.status is Status.RUNNING and watch.screen.version == 0):
            if session.extra.get(hookwire.ENDED_KEY):  # its agent starts again (a resume): that end is over
                self.store.update_extra(session.id, {hookwire.ENDED_KEY: None})
            self._set_status(watch, Status.LOADING, "the agent is starting")
        else:
            watch.source = session.status_source
            watch.ended_by_hook = session.extra.get(hookwire.ENDED_KEY)
        self._evaluate(watch, time.monotonic())

    def _unwatch(self, tname: str) -> None:
        watch = self.watches.pop(tname)
        watch.screen.close()
        if watch.log is not None:
            watch.log.close()
        fresh = None
        try:
            fresh = self.store.get_session(watch.session.name)
        except Exception:
            rows = self.store.list_sessions(include_ended=True)
            fresh = next((s for s in rows if s.id == watch.session.id), None)
        if fresh is not None and fresh.status is not watch.status:  # what ended it wrote the status event
            self._engine_source(watch, fresh)
            self._notice(fresh.name, fresh.status, fresh.status_reason)

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
        if watch.hooked and not watch.hook_seen and not watch.grace_over and \
                now - watch.watched_at >= watch.grace:
            watch.grace_over = True  # its hooks said nothing: what its screen shows now counts
            watch.recheck_at = now
        if watch.screen.version == watch.evaluated_version and (watch.recheck_at is None or now < watch.recheck_at):
            return
        watch.evaluated_version = watch.screen.version
        watch.recheck_at = None
        det = detect_mod.detect(watch.policy.patterns, watch.screen.lines(), watch.screen.width)
        watch.last_state = det.state
        if det.state != "prompt" and not (watch.hooked and watch.hook_seen):  # hooks say when a question is over
            watch.prompt_sig = watch.answered_sig = watch.refused_sig = None
            if watch.needs_user:
                watch.needs_user = False
                self._set_needs_user(watch, None)
        if det.state == "prompt":
            self._on_prompt(watch, det, now)
        elif not self._screen_decides(watch, now):
            return  # the agent's hooks tell its status
        elif det.state == "busy":
            self._set_status(watch, Status.RUNNING, "working")
        elif det.state == "ready":
            self._set_status(watch, Status.READY, "at its prompt")
        elif watch.status is not Status.LOADING and now - watch.last_output < watch.policy.quiet_seconds:
            self._set_status(watch, Status.RUNNING, "writing output")

    @staticmethod
    def _screen_decides(watch: Watch, now: float) -> bool:
        """Whether the screen may set this session's status: not once its agent's hooks have spoken
        (nor while they may yet, for its grace after the watch began: HOOK_GRACE_SECONDS, or none for
        an agent whose hooks stay silent until its first prompt)."""
        if not watch.hooked:
            return True
        return not watch.hook_seen and now - watch.watched_at >= watch.grace

    def _quiet_applies(self, watch: Watch) -> bool:
        # Agents with known screens leave loading by showing one; the quiet rule is for the rest.
        if watch.hooked and (watch.hook_seen or time.monotonic() - watch.watched_at < watch.grace):
            return False
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
        # Once an agent's hooks have spoken, only a dialog they announced is one: its question is the
        # hook's (tool and input exactly), the screen only says where to press.
        ask = watch.hook_ask if watch.hooked and not is_trust else None
        if watch.hooked and watch.hook_seen and not is_trust and ask is None:
            return
        wants_answer = watch.policy.answer_trust if is_trust else watch.session.auto_yes
        if (not is_trust or not wants_answer) and ask is None:
            self._set_status(watch, Status.WAITING, first_line)
        if not wants_answer:
            return
        refusal = None
        judged = "hook" if ask is not None else "screen"
        prompt_text, prompt_kind = (ask.text, ask.kind) if ask is not None else (det.text, det.kind)
        if ask is not None:
            sig = _ask_sig(ask)  # one question however often its dialog is redrawn
            refusal = self._judge_ask(watch, ask)
        elif watch.policy.broken is not None:
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
            self._refuse(watch, sig, prompt_kind, prompt_text, refusal, judged=judged, question=first_line)
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
            self.store.audit(action, watch.session.name, prompt_kind=prompt_kind, prompt=prompt_text,
                             response=response.option if response else None, keys=keys, judged=judged)

    def _judge_ask(self, watch: Watch, ask: PermissionAsk) -> guards_mod.Refusal | None:
        """The guards' verdict on what a hook says the agent asks to do (exactly: no screen reading)."""
        if watch.policy.broken is not None:
            return guards_mod.Refusal("settings error", f"the settings do not load: {watch.policy.broken}")
        root, seen_as = guards_mod.session_dirs(watch.session)
        commands = ((ask.command,) if ask.command else ()) if ask.kind == "command" else None
        return guards_mod.check(ask.text, kind=ask.kind, target=ask.target, workdir=root, seen_as=seen_as,
                                guards=watch.policy.guards, commands=commands, git_alias=guards_mod.git_aliases(root))

    def _refuse(self, watch: Watch, sig: str, kind: str | None, text: str, refusal: guards_mod.Refusal, *,
                judged: str, question: str) -> None:
        """Auto-yes will not answer this question: audited, an event, and the session needs its user (once)."""
        if watch.refused_sig == sig:
            return
        watch.refused_sig = sig
        # The row says so before the audit log does: whoever reads the refusal finds the session flagged.
        watch.needs_user = True
        self._set_needs_user(watch, refusal.reason)
        self.store.audit("auto_yes_refused", watch.session.name, prompt_kind=kind, prompt=text,
                         guard=refusal.guard, reason=refusal.reason, judged=judged)
        self._set_status(watch, Status.WAITING, f"needs you: {question} ({refusal.reason})", force=True,
                         source="hook" if judged == "hook" else "screen")

    def _set_status(self, watch: Watch, status: Status, reason: str, *, force: bool = False,
                    source: str = "screen") -> None:
        # The same status again keeps the credit of whoever set it, except that a hook's word counts over
        # the screen's (an agent whose hooks tell some changes only, Codex: its finished turn).
        credited = status is watch.status and source == "hook" and watch.source != "hook"
        if status is watch.status and not force and not credited:
            return
        # Only over a live status: ended or paused meanwhile, the next rescan drops it. The store writes
        # the status event (a credited or forced one too: its source or its need of a person is news).
        if not self.store.set_live_status(watch.session.id, status, reason, force=force or credited, source=source):
            self._next_rescan = 0.0
            return
        previous = watch.status
        watch.status, watch.source = status, source
        if previous is not status:
            watch.ready_since = time.monotonic() if status is Status.READY else None
            watch.workers = None
            self._notice(watch.session.name, status, reason)

    def _set_needs_user(self, watch: Watch, reason: str | None) -> None:
        self.store.set_needs_user(watch.session.id, reason)

    # --- hooks ----------------------------------------------------------------------------------

    def _take_hooks(self, now: float) -> None:
        with self._hook_lock:
            fresh = list(self._hooks)
            self._hooks.clear()
        if not fresh and not self._pending_hooks:
            return
        by_name = {w.session.name: w for w in self.watches.values()}
        if any(report.session not in by_name for report, _ in fresh):
            self._rescan()  # a session whose create just finished
            by_name = {w.session.name: w for w in self.watches.values()}
        queue = [*self._pending_hooks, *((now + PENDING_HOOK_SECONDS, r, c) for r, c in fresh)]
        self._pending_hooks = []
        for deadline, report, caller in queue:
            watch = by_name.get(report.session)
            if watch is not None:
                self._guarded(watch.session, self._on_hook, watch, report, now)
            elif now < deadline:
                self._pending_hooks.append((deadline, report, caller))

    def _on_hook(self, watch: Watch, report: HookEvent, now: float) -> None:
        from trails.agents.registry import profile_of

        hooks = profile_of(watch.session).hooks
        said = hooks.interpret(report.event, report.tool, report.input, report.detail) if hooks else None
        if said is None:
            return
        watch.hook_seen = True
        if said.settled:
            watch.hook_ask = None
            watch.prompt_sig = watch.answered_sig = watch.refused_sig = None
        if said.ask is not None:
            watch.hook_ask = said.ask
            watch.recheck_at = now  # its dialog may be on screen already: auto-yes looks again
        if said.ended:
            watch.ended_by_hook = said.reason
            # Recorded for the engine, which records the exit when the pane ends: that status is the hook's.
            self.store.update_extra(watch.session.id, {hookwire.ENDED_KEY: said.reason or "ended"})
            self._next_panes = min(self._next_panes, now + ENDING_CHECK_SECONDS)
        if said.status is not None:
            if watch.needs_user and said.status is not Status.WAITING:
                watch.needs_user = False
                self._set_needs_user(watch, None)
            self._set_status(watch, said.status, said.reason, source="hook")
        if said.ask is not None and watch.session.auto_yes:
            # A refusal needs no screen: the question is known exactly. (An approval does: keys are
            # pressed only on the dialog the screen shows.)
            refusal = self._judge_ask(watch, said.ask)
            if refusal is not None:
                self._refuse(watch, _ask_sig(said.ask), said.ask.kind, said.ask.text, refusal, judged="hook",
                             question=said.reason)

    # --- idle agents: frozen, then paused ---------------------------------------------------------

    def _idle_steps(self, watch: Watch) -> list[tuple[str, float]]:
        """What idleness does to this session next, (step, after seconds ready), soonest first: freeze
        (core/freeze.py) unless frozen, pause (core/lifecycle.py). Empty: not a candidate now."""
        if watch.status is not Status.READY or watch.ready_since is None or watch.session.mode is Mode.CONTAINER \
                or watch.pane_pid is None:
            return []
        steps = []
        if watch.policy.idle_freeze_after and not watch.frozen:
            steps.append(("freeze", watch.policy.idle_freeze_after))
        if watch.policy.idle_pause_after:
            steps.append(("pause", watch.policy.idle_pause_after))
        return sorted(steps, key=lambda step: step[1])

    def _freeze_due(self, watch: Watch) -> float | None:
        """When this session is next to be looked at for idleness (None: it is not a candidate)."""
        steps = self._idle_steps(watch)
        if not steps:
            return None
        if watch.workers is not None:
            return watch.sampled_at + FREEZE_SAMPLE_SECONDS
        assert watch.ready_since is not None
        return watch.ready_since + steps[0][1]

    def _freeze_check(self, watch: Watch, now: float) -> None:
        due = self._freeze_due(watch)
        if due is None or now < due or watch.pane_pid is None:
            return
        # Every way out below moves `due` on: the loop's timeout is taken from it.
        from trails.core import freeze
        from trails.core.locks import file_lock

        assert watch.ready_since is not None
        idle = now - watch.ready_since
        due_steps = [(step, after) for step, after in self._idle_steps(watch) if idle >= after]
        if not due_steps:
            watch.workers = None  # sampled early: the step is later
            return
        step, after = due_steps[-1]  # pause when both are due: freezing first would only be undone
        if watch.session.tmux_session in self._attached:
            watch.ready_since, watch.workers = now, None  # someone is looking at it: idle from when they leave
            return
        if watch.workers is None:  # first look: what its children have used so far
            watch.workers, watch.sampled_at = freeze.workers(watch.pane_pid), now
            return
        if freeze.working(watch.pane_pid, watch.workers):
            watch.ready_since, watch.workers = now, None  # a build or a test run: not idle
            return
        fresh = self.store.session_by_id(watch.session.id)
        frozen = step == "freeze" and fresh is not None and fresh.extra.get(freeze.FROZEN_KEY)
        if fresh is None or fresh.status is not Status.READY or frozen:
            watch.ready_since, watch.workers = now, None  # changed meanwhile: the next rescan tells how
            return
        if time.time() - float(fresh.extra.get(freeze.THAWED_KEY) or 0) < after:
            watch.ready_since, watch.workers = now, None  # just thawed by a send or an attach
            return
        if step == "pause":
            watch.workers = None
            self._idle_pause(watch, fresh, after)
            return
        with file_lock(f"send:{fresh.name}", wait=False) as held:  # a send under way is not idleness
            if not held:
                watch.ready_since, watch.workers = now, None
                return
            info = freeze.freeze(fresh, watch.pane_pid)
            self.store.update_extra(fresh.id, {freeze.FROZEN_KEY: info})
        watch.frozen, watch.workers = True, None
        self.store.audit("session_frozen", fresh.name, idle_seconds=after, how=info["how"])
        self._set_status(watch, Status.READY, f"ready (frozen after {after:g}s idle)", force=True,
                         source=watch.source or "screen")

    def _idle_pause(self, watch: Watch, fresh: Session, after: float) -> None:
        """Pause a session idle this long as `trails pause` does (work saved, conversation kept); the
        next send resumes it first (core/engine.py). Under the send lock: a send under way is not idleness."""
        from trails.core import lifecycle
        from trails.core.locks import file_lock

        with file_lock(f"send:{fresh.name}", wait=False) as held:
            if not held:
                watch.ready_since = time.monotonic()
                return
            caller = Caller(trust=Trust.USER, cwd=fresh.workdir)  # the owner's own setting asked for it
            self.store.update_extra(fresh.id, {lifecycle.IDLE_PAUSED_KEY: after})
            try:
                self.engine.pause(fresh.name, caller=caller)
            except Exception:
                self.store.update_extra(fresh.id, {lifecycle.IDLE_PAUSED_KEY: None})
                raise
        self._next_rescan = 0.0  # paused: no longer watched

    # --- panes ----------------------------------------------------------------------------------

    def _check_panes(self) -> None:
        if not self.watches:
            return
        seen: dict[str, list[str]] = {}
        for row in self.tmux.pane_fields("session_name", "pane_width", "pane_height", "pane_pipe", "pane_dead",
                                         "pane_pid"):
            seen.setdefault(row[0], row)
        if any(w.policy.idle_freeze_after for w in self.watches.values()):
            self._attached = {row[0] for row in self.tmux.client_fields("client_session")}
        any_dead = False
        for tname, watch in self.watches.items():
            info = seen.get(tname)
            if info is None or info[4] == "1":
                any_dead = True
                continue
            if info[1].isdigit() and info[2].isdigit():
                watch.screen.resize(int(info[1]), int(info[2]))
            watch.pane_pid = int(info[5]) if info[5].isdigit() else None
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
        self.notifier.start()
        try:
            while self.running:
                self._tick(self._timeout())
        finally:
            self.store.append_event(core_events.SupervisorState(state="stopping", pid=os.getpid()))
            self.notifier.stop()
            self.sel.close()
            if self._inotify is not None:
                self._inotify.close()
            for watch in self.watches.values():
                if watch.log is not None:
                    watch.log.close()

    def _timeout(self) -> float:
        now = time.monotonic()
        deadline = min(self._next_rescan, self._next_panes)
        if self._pending_hooks:
            deadline = min(deadline, now + RESCAN_SECONDS)
        for watch in self.watches.values():
            if watch.recheck_at is not None:
                deadline = min(deadline, watch.recheck_at)
            due = self._freeze_due(watch)
            if due is not None:
                deadline = min(deadline, due)
            if watch.hooked and not watch.hook_seen and not watch.grace_over:
                deadline = min(deadline, watch.watched_at + watch.grace)
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
        self._take_hooks(now)
        if now >= self._next_panes:
            ending = any(w.ended_by_hook for w in self.watches.values())
            self._next_panes = now + (ENDING_CHECK_SECONDS if ending else PANES_SECONDS)
            self._check_panes()
        for watch in list(self.watches.values()):
            self._guarded(watch.session, self._evaluate, watch, now)
            self._guarded(watch.session, self._quiet_check, watch, now)
            self._guarded(watch.session, self._freeze_check, watch, now)

    def _maybe_exit(self, now: float) -> None:
        if not self.home.exists():
            self.running = False
            return
        if self.watches:
            self._idle_since = now
        elif self.idle_exit and now - self._idle_since > self.idle_exit:
            self.running = False
