"""The dashboard app: lays out the widgets, keeps the server's view of sessions, routes keys to it.

Every action is a request to this home's trails server (trails.ui.tui.backend, over the client), made
on one background thread so the screen never waits on it; errors come back as notifications. Live
status arrives as the server's events through `trails.ui.tui.events`; the app never asks tmux or git
anything itself.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import ContentSwitcher, Footer, Header, Input, Static, TabbedContent, TabPane

from trails.core.errors import TrailsError, UncommittedWork
from trails.core.models import LIVE_STATUSES, Mode, Session, Status
from trails.ui.tui import view
from trails.ui.tui.choice import ChoiceScreen
from trails.ui.tui.confirm import ConfirmScreen
from trails.ui.tui.details import Details
from trails.ui.tui.diff_view import DiffView
from trails.ui.tui.events import EventFeed, Feed, latest_event_id
from trails.ui.tui.help import HelpScreen
from trails.ui.tui.new_session import NewSession, NewSessionScreen
from trails.ui.tui.preview import Preview
from trails.ui.tui.prompt import PromptScreen
from trails.ui.tui.session_grid import SessionCard, SessionGrid
from trails.ui.tui.session_table import SessionList

FeedFactory = Callable[[Any, Callable[[dict[str, Any]], object], Callable[[str], object]], Feed]


PREVIEW_REFRESH_SECONDS = 1.0

class EngineEvent(Message):
    """An engine event (see trails.core.events) arrived from the feed thread."""

    def __init__(self, event: dict[str, Any]) -> None:
        super().__init__()
        self.event = event


class FeedProblem(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


def default_feed(engine: Any, callback: Callable[[dict[str, Any]], object], on_error: Callable[[str], object]) -> Feed:
    return EventFeed(engine, callback, since=latest_event_id(engine), on_error=on_error)


class TrailsApp(App[None]):
    TITLE = "trails"
    CSS = """
    #main { height: 1fr; }
    #left { width: 62%; }
    #right { width: 38%; border-left: vkey $panel-lighten-2; }
    #filterbar { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    #filter { display: none; }
    #filter.-active { display: block; }
    #views { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "new"),
        Binding("a,enter", "attach", "attach", key_display="a/enter"),
        Binding("s", "send", "send"),
        Binding("p", "pause", "pause"),
        Binding("r", "resume", "resume"),
        Binding("k", "kill", "kill"),
        Binding("y", "auto_yes", "auto-yes", tooltip="toggle auto-yes"),
        Binding("u", "upgrade", "upgrade", show=False, tooltip="upgrade the mode (direct → worktree → container)"),
        Binding("e", "export", "export", show=False, tooltip="export to a less isolated mode (asks twice)"),
        Binding("M", "merge", "merge", tooltip="merge the session's branch into its base branch"),
        Binding("space", "mark", "mark", tooltip="mark / unmark for batch actions"),
        Binding("asterisk", "mark_all", "mark all", show=False, key_display="*",
                tooltip="mark all shown sessions (again: unmark all)"),
        Binding("g", "toggle_view", "grid/list", show=False, tooltip="switch between list and grid"),
        Binding("slash", "filter", "filter", show=False, key_display="/", tooltip="filter by text"),
        Binding("f", "cycle_status", "status filter", show=False,
                tooltip="status filter: all → attention → live → paused → ended"),
        Binding("m", "cycle_mode", "mode filter", show=False,
                tooltip="mode filter: all → direct → worktree → container"),
        Binding("o", "cycle_sort", "sort", show=False, tooltip="sort: name → status → age → mode"),
        Binding("1", "tab('preview')", "preview", show=False, tooltip="preview tab"),
        Binding("2", "tab('diff')", "diff", show=False, tooltip="diff tab"),
        Binding("3", "tab('details')", "details", show=False, tooltip="details tab"),
        Binding("ctrl+r", "reload", "reload", show=False, tooltip="reload sessions and the open tab"),
        Binding("escape", "clear", "clear", show=False, tooltip="clear marks and filters"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, engine: Any = None, *, clock: Callable[[], float] | None = None,
                 feed: FeedFactory | None = default_feed, stats: bool = True) -> None:
        super().__init__()
        self._owns_engine = engine is None
        if engine is None:
            from trails.ui.tui.backend import ClientBackend

            engine = ClientBackend()
        self.engine = engine
        self.clock = clock or time.time
        self._fixed_clock = clock is not None
        self._feed_factory = feed
        self._feed: Feed | None = None
        self._want_stats = stats
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trails-engine")
        self.sessions: dict[str, Session] = {}
        self.stats: dict[str, view.DiffStats] = {}
        self.marked: set[str] = set()
        self.selected: str | None = None
        self.sort = "name"
        self.status_filter = "all"
        self.mode_filter = "all"
        self.filter_text = ""
        self.grid = False
        self.loaded = asyncio.Event()
        self._summary = ""
        self.tab_loaded: tuple[str | None, str] | None = None  # (session, tab) last drawn, for tests
        # Called with a session name once a status event for it is on screen (benchmarks, tests).
        self.repaint_listener: Callable[[str], None] | None = None

    # --- layout -----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Input(placeholder="filter: name, agent, branch, status (enter to keep, esc to clear)",
                            id="filter")
                yield Static("", id="filterbar")
                with ContentSwitcher(initial="table", id="views"):
                    yield SessionList(id="table")
                    with VerticalScroll(id="grid"):
                        yield SessionGrid(id="cards")
            with TabbedContent(initial="preview", id="right"):
                with TabPane("Preview", id="preview"):
                    yield Preview(id="preview-pane")
                with TabPane("Diff", id="diff"):
                    yield DiffView(id="diff-pane")
                with TabPane("Details", id="details"):
                    yield Details(id="details-pane")
        yield Footer()

    async def on_mount(self) -> None:
        # Dialogs stack screens on top; widgets of the dashboard are always looked up on its own screen.
        self.main = self.screen
        self.main.query_one(SessionList).focus()
        if self._feed_factory is not None:
            # Subscribed before the first listing: a change made meanwhile arrives as an event after
            # it (the other way round, a session that turns ready in between would stay loading here).
            self._feed = await self.call(self._feed_factory, self.engine,
                                         lambda e: self.post_message(EngineEvent(e)),
                                         lambda text: self.post_message(FeedProblem(text)))
            self._feed.start()
        await self.reload_sessions()
        self.loaded.set()
        if not self._fixed_clock:
            self.set_interval(60, self.refresh_view)  # ages only; nothing is asked of the engine
            # The preview follows the selected live agent's screen; statuses come from events only.
            self.set_interval(PREVIEW_REFRESH_SECONDS, self._follow_preview)

    async def on_unmount(self) -> None:
        if self._feed is not None:
            self._feed.stop()
        # Queued calls are dropped; one already running finishes before the engine it uses is closed.
        self._pool.shutdown(wait=self._owns_engine, cancel_futures=True)
        if self._owns_engine:
            self.engine.close()

    # --- the engine, off the UI thread ------------------------------------------------------------

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A request to the server, off the event loop (the client says who asks: this user, here)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    async def attempt(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """Run an engine call; on failure say why in a notification. (ok, result)."""
        try:
            return True, await self.call(fn, *args, **kwargs)
        except TrailsError as exc:
            self.notify(exc.message + (f"\n{exc.hint}" if exc.hint else ""), title=what, severity="error",
                        markup=False)
        except Exception as exc:
            self.notify(f"{type(exc).__name__}: {exc}", title=f"{what} failed unexpectedly", severity="error",
                        markup=False)
        return False, None

    # --- state → screen ---------------------------------------------------------------------------

    async def reload_sessions(self) -> None:
        ok, sessions = await self.attempt("list sessions", self.engine.list_sessions)
        if not ok:
            return
        fresh = {s.name: s for s in sessions}
        # A host that could not be asked keeps the sessions it had here, greyed (never dropped).
        hosts: dict[str, bool] = dict(getattr(self.engine, "hosts", {}))
        for name, old in self.sessions.items():
            host = old.extra.get("host")
            if isinstance(host, str) and hosts.get(host) is False and name not in fresh:
                fresh[name] = old
        for session in fresh.values():
            host = session.extra.get("host")
            if isinstance(host, str):
                session.extra["host_unreachable"] = hosts.get(host) is False
        self.sessions = fresh
        self.marked &= set(self.sessions)
        self.refresh_view()
        if self._want_stats:
            self.load_stats(list(self.sessions))

    def shown_sessions(self) -> list[Session]:
        shown = [s for s in self.sessions.values()
                 if view.matches(s, text=self.filter_text, status=self.status_filter, mode=self.mode_filter)]
        return view.ordered(shown, self.sort)

    def refresh_view(self) -> None:
        sessions = self.shown_sessions()
        names = [s.name for s in sessions]
        if self.selected not in names:
            self.select(names[0] if names else None)
        now = self.clock()
        self.main.query_one(SessionList).show(sessions, self.stats, self.marked, now, self.selected)
        if self.grid:
            self.main.query_one(SessionGrid).show(sessions, self.stats, self.marked, now, self.selected)
        self._describe(len(sessions))

    def _show_grid(self) -> None:
        grid = self.main.query_one(SessionGrid)
        grid.show(self.shown_sessions(), self.stats, self.marked, self.clock(), self.selected)

    def _describe(self, shown: int) -> None:
        attention = sum(1 for s in self.sessions.values() if view.needs_attention(s))
        sub_title = f"{len(self.sessions)} sessions" + (f" · {attention} need you" if attention else "")
        if sub_title != self.sub_title:
            self.sub_title = sub_title
        parts = [f"{shown} shown", f"sort: {self.sort}", f"status: {self.status_filter}", f"mode: {self.mode_filter}"]
        if self.filter_text:
            parts.append(f"text: {self.filter_text!r}")
        if self.marked:
            parts.append(f"{len(self.marked)} marked")
        summary = " · ".join(parts)
        if summary != self._summary:  # an unchanged bar must not cost a layout pass per event
            self._summary = summary
            self.main.query_one("#filterbar", Static).update(summary)

    def repaint_session(self, name: str) -> None:
        """One session changed: touch its row only, unless it moved in or out of the filter or the order."""
        session = self.sessions.get(name)
        order = [s.name for s in self.shown_sessions()]
        table = self.main.query_one(SessionList)
        if session is None or order != table._order:
            self.refresh_view()
        else:
            table.update(session, self.stats.get(name), name in self.marked, self.clock())
            if self.grid:
                self._show_grid()
            self._describe(len(order))
        if self.repaint_listener is not None:
            listener = self.repaint_listener
            self.call_after_refresh(listener, name)

    def select(self, name: str | None) -> None:
        if name == self.selected:
            return
        self.selected = name
        if name is not None:
            self.main.query_one(SessionList).select(name)
        if self.grid:
            self.main.query_one(SessionGrid).highlight(name)
        self.load_tab()

    @on(SessionList.Highlighted)
    def _row_highlighted(self, event: SessionList.Highlighted) -> None:
        if event.name != self.selected and self.is_running:
            self.select(event.name)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self) -> None:
        self.load_tab()

    def _follow_preview(self) -> None:
        session = self.sessions.get(self.selected) if self.selected else None
        if session is None or session.status not in LIVE_STATUSES:
            return
        if self.main.query_one(TabbedContent).active == "preview" and self.screen is self.main:
            self.load_tab()

    # --- the tabs: loaded for the selected session, only the one on screen -----------------------

    @work(exclusive=True, group="tab", exit_on_error=False)
    async def load_tab(self) -> None:
        await asyncio.sleep(0.05)  # let fast cursor movement settle before asking the engine
        name, tab = self.selected, self.main.query_one(TabbedContent).active
        if name is None:
            note = "no sessions yet: press n to create one" if not self.sessions else "no session selected"
            self.main.query_one(Preview).show(None, note)
            self.main.query_one(DiffView).show(None, note=note)
            self.main.query_one(Details).show(None, note)
            return
        try:
            if tab == "preview":
                text = await self.call(self.engine.output, name, 400)
                self.main.query_one(Preview).show(text)
            elif tab == "diff":
                result = await self.call(self.engine.diff, name)
                self.stats[name] = view.DiffStats(result.insertions, result.deletions, result.files)
                stat = f"{result.files} files changed, +{result.insertions} −{result.deletions}"
                self.main.query_one(DiffView).show(result.text, stat)
                self.repaint_session(name)
            else:
                self.main.query_one(Details).show(await self.call(self.engine.show, name))
        except TrailsError as exc:
            if tab == "preview":
                self.main.query_one(Preview).show(None, exc.message)
            elif tab == "diff":
                self.main.query_one(DiffView).show(None, note=exc.message)
            else:
                self.main.query_one(Details).show(None, exc.message)
        self.tab_loaded = (name, tab)

    @work(group="stats", exit_on_error=False)
    async def load_stats(self, names: list[str]) -> None:
        for name in names:
            session = self.sessions.get(name)
            if session is None or not session.repo_root or session.status is Status.KILLED:
                continue
            try:
                result = await self.call(self.engine.diff, name, stat=True)
            except Exception:
                continue  # no working directory (paused, ended): the column just shows "-"
            self.stats[name] = view.DiffStats(result.insertions, result.deletions, result.files)
            self.repaint_session(name)

    # --- live events ----------------------------------------------------------------------------

    @on(EngineEvent)
    async def _engine_event(self, message: EngineEvent) -> None:
        try:
            await self.apply_event(message.event)
        except Exception as exc:  # a malformed or unexpected event must not take the dashboard down
            self.notify(f"{type(exc).__name__}: {exc}", title="could not apply an event", severity="warning",
                        markup=False)

    async def apply_event(self, event: dict[str, Any]) -> None:
        """Bring one session's row up to date from an engine event (no engine call for a status change)."""
        name, kind, data = event.get("session"), event.get("kind"), event.get("data") or {}
        host = event.get("host")
        if kind == "host" and isinstance(host, str):
            await self.host_state(host, bool(data.get("reachable")))
            return
        if not name:
            return
        if isinstance(host, str):
            name = f"{host}:{name}"  # a remote host's session is kept under its address
        session = self.sessions.get(name)
        if session is None:
            await self.reload_sessions()
            return
        if kind == "status" and data.get("status") == Status.KILLED.value:
            await self.reload_sessions()  # ended elsewhere: it leaves the list, as in `trails ls`
            return
        if kind == "status" and data.get("status"):
            session.status = Status(data["status"])
            session.status_reason = data.get("reason")
            session.needs_user = (session.status_reason or "needs you") if data.get("needs_user") else None
            session.status_source = data.get("status_source")
            self.repaint_session(name)
            if self._want_stats and session.status in (Status.READY, Status.WAITING, Status.COMPLETED):
                self.load_stats([name])
        elif kind in ("paused", "resumed"):
            await self.refresh_session(name)
        if name == self.selected:
            self.load_tab()

    async def host_state(self, host: str, reachable: bool) -> None:
        """A host's link changed: its sessions grey while it is unreachable; back, they are listed afresh."""
        for session in self.sessions.values():
            if session.extra.get("host") == host:
                session.extra["host_unreachable"] = not reachable
        self.refresh_view()
        if reachable:
            await self.reload_sessions()

    @on(FeedProblem)
    def _feed_problem(self, message: FeedProblem) -> None:
        self.notify(message.text, title="live updates", severity="warning", markup=False)

    async def refresh_session(self, name: str) -> None:
        try:
            session = await self.call(self.engine.get_session, name)
        except TrailsError:
            await self.reload_sessions()
            return
        self.sessions[name] = session
        self.repaint_session(name)

    # --- targets --------------------------------------------------------------------------------

    def targets(self) -> list[str]:
        """The marked sessions (in screen order), or else the highlighted one."""
        shown = [s.name for s in self.shown_sessions()]
        if self.marked:
            return [n for n in shown if n in self.marked] or sorted(self.marked)
        return [self.selected] if self.selected else []

    def _one(self) -> str | None:
        if self.selected is None:
            self.notify("no session selected", severity="warning")
        return self.selected

    def _batch(self, verb: str, names: list[str]) -> None:
        if not names:
            self.notify(f"nothing to {verb}: no session selected", severity="warning")

    # --- actions --------------------------------------------------------------------------------

    def action_new(self) -> None:
        async def submit(request: NewSession) -> TrailsError | None:
            try:
                result = await self.call(self.engine.create_session, request.name, request.agent,
                                         **request.kwargs())
            except TrailsError as exc:
                return exc
            except Exception as exc:
                return TrailsError(f"{type(exc).__name__}: {exc}")
            for line in result.notes:
                self.notify(line, title=f"new {request.name}", markup=False)
            return None

        async def created(name: str | None) -> None:
            if name:
                self.notify(f"created {name}", markup=False)
                await self.reload_sessions()
                self.select(name)

        self.push_screen(NewSessionScreen(submit), created)

    async def action_attach(self) -> None:
        name = self._one()
        if name is None:
            return
        ok, _ = await self.attempt(f"attach {name}", self.engine.get_session, name)
        if not ok:
            return
        try:
            with self.suspend():
                self.engine.attach(name)
        except SuspendNotSupported:
            self.notify("attach needs a real terminal (this one cannot be suspended)", severity="error")
        except TrailsError as exc:
            self.notify(exc.message, title=f"attach {name}", severity="error", markup=False)
        await self.refresh_session(name)

    @work(exit_on_error=False)
    async def action_send(self) -> None:
        names = self.targets()
        if not names:
            return self._batch("send to", names)
        who = names[0] if len(names) == 1 else f"{len(names)} sessions"
        text = await self.push_screen_wait(PromptScreen(f"Send to {who}", "text typed into the agent, then Enter"))
        if text:
            done = [n for n in names if (await self.attempt(f"send to {n}", self.engine.send, n, text))[0]]
            if done:
                self.notify(f"sent to {', '.join(done)}", markup=False)

    async def _each(self, verb: str, fn: Callable[..., Any], names: list[str], *args: Any) -> list[str]:
        done = []
        for name in names:
            ok, _ = await self.attempt(f"{verb} {name}", fn, name, *args)
            if ok:
                done.append(name)
            await self.refresh_session(name)
        if done:
            self.notify(f"{verb}: {', '.join(done)}", markup=False)
        return done

    @work(exit_on_error=False)
    async def action_pause(self) -> None:
        names = self.targets()
        await self._each("paused", self.engine.pause, names) if names else self._batch("pause", names)

    @work(exit_on_error=False)
    async def action_resume(self) -> None:
        names = self.targets()
        await self._each("resumed", self.engine.resume, names) if names else self._batch("resume", names)

    @work(exit_on_error=False)
    async def action_auto_yes(self) -> None:
        names = self.targets()
        if not names:
            return self._batch("toggle auto-yes on", names)
        on_ = not self.sessions[names[0]].auto_yes
        await self._each(f"auto-yes {'on' if on_ else 'off'}", self.engine.set_auto_yes, names, on_)

    @work(exit_on_error=False)
    async def action_kill(self) -> None:
        names = self.targets()
        if not names:
            return self._batch("kill", names)
        who = names[0] if len(names) == 1 else f"{len(names)} sessions: {', '.join(names)}"
        if not await self.push_screen_wait(ConfirmScreen(
                f"Kill {who}?", "The agent stops and its worktree is removed; the branch is kept.",
                yes="Kill", danger=True)):
            return
        blocked: list[str] = []
        killed: list[str] = []
        for name in names:
            try:
                await self.call(self.engine.kill, name)
                killed.append(name)
            except UncommittedWork:
                blocked.append(name)
            except TrailsError as exc:
                self.notify(exc.message, title=f"kill {name}", severity="error", markup=False)
        if blocked:
            force: bool = await self.push_screen_wait(ConfirmScreen(
                f"{', '.join(blocked)}: uncommitted work", "Save it to refs/trails/saved/<name>/… and kill anyway "
                "(--force)? Nothing is deleted: the saved ref keeps every file.", yes="Save and kill", danger=True))
            if force:
                killed += await self._each_quiet("kill --force", blocked)
        if killed:
            self.notify(f"killed: {', '.join(killed)}", markup=False)
            self.marked -= set(killed)
        await self.reload_sessions()

    async def _each_quiet(self, verb: str, names: list[str]) -> list[str]:
        return [n for n in names if (await self.attempt(f"{verb} {n}", self.engine.kill, n, force=True))[0]]

    @work(exit_on_error=False)
    async def action_upgrade(self) -> None:
        name = self._one()
        if name is None:
            return
        current = self.sessions[name].mode
        options = [(m.value, m.value) for m in Mode if m.isolation_rank > current.isolation_rank]
        if not options:
            self.notify(f"{name} is already in the most isolated mode ({current.value})", severity="warning")
            return
        to = await self.push_screen_wait(ChoiceScreen(f"Upgrade {name} from {current.value} to…", options))
        if to and (await self.attempt(f"upgrade {name}", self.engine.upgrade_session, name, to))[0]:
            self.notify(f"{name} is now in {to} mode", markup=False)
        await self.refresh_session(name)

    @work(exit_on_error=False)
    async def action_export(self) -> None:
        name = self._one()
        if name is None:
            return
        current = self.sessions[name].mode
        options = [(m.value, m.value) for m in Mode if m.isolation_rank < current.isolation_rank]
        if not options:
            self.notify(f"{name} is in direct mode: there is nothing less isolated", severity="warning")
            return
        to = await self.push_screen_wait(ChoiceScreen(f"Export {name} from {current.value} to…", options))
        if not to or not await self.push_screen_wait(ConfirmScreen(
                f"Downgrade {name} to {to}?", f"It loses the isolation of {current.value} mode. Its work is kept.",
                yes="Downgrade (--force)", danger=True)):
            return
        if (await self.attempt(f"export {name}", self.engine.export_session, name, to, force=True))[0]:
            self.notify(f"{name} is now in {to} mode", markup=False)
        await self.refresh_session(name)

    @work(exit_on_error=False)
    async def action_merge(self) -> None:
        name = self._one()
        if name is None:
            return
        branch = self.sessions[name].branch
        if not branch:
            self.notify(f"{name} has no branch of its own: nothing to merge", severity="warning")
            return
        if not await self.push_screen_wait(ConfirmScreen(
                f"Merge {branch} into the main checkout's branch?",
                "Merged in the main checkout with the merge_strategy setting (no-ff unless set). "
                "A conflict changes nothing and lists the files.")):
            return
        ok, result = await self.attempt(f"merge {name}", self.engine.merge, name)
        if ok:
            head = f" ({result.commit[:10]})" if result.commit else ""
            self.notify("\n".join([f"merged {result.branch} into {result.into}{head}", *result.notes]),
                        markup=False)

    def action_mark(self) -> None:
        if self.selected is None:
            return
        self.marked ^= {self.selected}
        self.repaint_session(self.selected)

    def action_mark_all(self) -> None:
        shown = {s.name for s in self.shown_sessions()}
        self.marked = set() if shown and shown <= self.marked else shown
        self.refresh_view()

    def action_clear(self) -> None:
        self.marked.clear()
        self.filter_text, self.status_filter, self.mode_filter = "", "all", "all"
        filter_input = self.main.query_one("#filter", Input)
        filter_input.value = ""
        filter_input.remove_class("-active")
        self.main.query_one(SessionList).focus()
        self.refresh_view()

    def action_toggle_view(self) -> None:
        self.grid = not self.grid
        self.main.query_one(ContentSwitcher).current = "grid" if self.grid else "table"
        if self.grid:
            self._show_grid()
        else:
            self.main.query_one(SessionList).focus()

    def action_filter(self) -> None:
        filter_input = self.main.query_one("#filter", Input)
        filter_input.add_class("-active")
        filter_input.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.refresh_view()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.main.query_one(SessionList).focus()

    def action_cycle_status(self) -> None:
        self.status_filter = view.cycle(view.STATUS_FILTERS, self.status_filter)
        self.refresh_view()

    def action_cycle_mode(self) -> None:
        self.mode_filter = view.cycle(view.MODE_FILTERS, self.mode_filter)
        self.refresh_view()

    def action_cycle_sort(self) -> None:
        self.sort = view.cycle(view.SORTS, self.sort)
        self.refresh_view()

    def action_tab(self, tab: str) -> None:
        self.main.query_one(TabbedContent).active = tab

    async def action_reload(self) -> None:
        await self.reload_sessions()
        self.load_tab()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    # Grid navigation: arrows move the selection through the cards.
    def on_key(self, event: Any) -> None:
        if not self.grid or event.key not in ("left", "right", "up", "down") or isinstance(self.focused, Input):
            return
        names = [s.name for s in self.shown_sessions()]
        if not names:
            return
        step = {"left": -1, "right": 1, "up": -3, "down": 3}[event.key]
        index = names.index(self.selected) if self.selected in names else 0
        self.select(names[max(0, min(len(names) - 1, index + step))])
        event.stop()

    def on_click(self, event: Any) -> None:
        card = event.widget
        if isinstance(card, SessionCard) and card.name:
            self.select(card.name)


def run() -> int:
    """Open the dashboard on this terminal; returns the exit status."""
    TrailsApp().run()
    return 0
