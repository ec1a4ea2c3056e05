"""The engine: the one place that owns sessions. Front ends (CLI, TUI, web, MCP) only call this."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.api.caller import Caller, Trust
from trails.core import paths
from trails.core.errors import InvalidInput, SessionStateError, TmuxError, TrailsError
from trails.core.models import LIVE_STATUSES, Mode, Session, Status
from trails.core.names import tmux_name, validate_session_name
from trails.core.store import Store
from trails.infra.tmux import PaneInfo, Tmux, read_exit_file, release_gate

if TYPE_CHECKING:
    from trails.core.config import EffectiveConfig
    from trails.core.merge import MergeResult
    from trails.core.moves import MoveResult
    from trails.core.pr import PrResult
    from trails.core.rebase import RebaseResult
    from trails.core.workstate import SavedWork
    from trails.infra.git import Git, Worktrees
    from trails.isolation.base import HostContext, IsolationProvider

# Server options trails relies on: keep a pane after its agent exits (exit status and last screen
# stay readable) and a long scrollback.
TMUX_CONF = "set -g remain-on-exit on\nset -g history-limit 50000\nset -g status off\n"
_INHERITED_ENV_DROP = ("TMUX", "TMUX_PANE")
# Text longer than this (UTF-8 bytes) is pasted through a tmux buffer rather than typed: one
# send-keys must fit in a tmux message (~16 KB); shorter text is typed, as agents are used to.
PASTE_OVER = 8 * 1024
# A send that resumes a session paused for idleness types once its agent's screen has shown something and
# then not changed for RESUME_SETTLED_FOR seconds (an agent drops keys typed while it starts up).
RESUME_SETTLE_TIMEOUT = 30.0
RESUME_SETTLED_FOR = 0.5
# An Enter that changed nothing on the screen within SUBMIT_SEEN seconds is pressed again, up to
# SUBMIT_RETRIES times: an agent busy redrawing (Claude Code while it starts its MCP servers) now and
# then drops the key and the text stays in its input box. A submitted line always changes the screen
# (the box empties, the line echoes), and an extra Enter on an empty input line does nothing.
SUBMIT_SEEN = 1.0
SUBMIT_RETRIES = 4  # a loaded machine can keep an agent from drawing for seconds


@dataclass
class CreateResult:
    session: Session
    decision: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session.to_dict(), "mode_decision": self.decision, "notes": self.notes}


@dataclass
class KillResult:
    session: Session
    notes: list[str]
    saved_refs: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session.to_dict(), "notes": self.notes, "saved_refs": self.saved_refs}


@dataclass
class DiffResult:
    session: str
    base_commit: str
    text: str
    insertions: int
    deletions: int
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session, "base_commit": self.base_commit, "diff": self.text,
            "stat": {"insertions": self.insertions, "deletions": self.deletions, "files": self.files},
        }


def _last_lines(screen: str, count: int) -> list[str]:
    """The screen's last non-blank lines, without tmux's own "Pane is dead" banner."""
    lines = [ln.rstrip() for ln in screen.splitlines() if not ln.startswith("Pane is dead (")]
    while lines and not lines[-1]:
        lines.pop()
    return lines[-count:]


def _refuse_weakening(caller: Caller, *, network: str | None = None, privileged: bool = False,
                      mounts: Iterable[str] = (), auto_yes: bool = False) -> None:
    """Refuse, for a caller that may not weaken isolation, each option asked for that would (before
    anything is made). Every front end gets the same refusal because it is made here."""
    if network is not None and network != "none":
        caller.refuse_weakening("network", f"a container network ({network!r})")
    if privileged:
        caller.refuse_weakening("privileged", "a privileged container")
    if list(mounts):
        caller.refuse_weakening("mounts", "mounting host paths into a container")
    if auto_yes:
        caller.refuse_weakening("auto_yes", "answering the agent's permission prompts automatically (auto-yes)")


def _refuse_coordinator_without_mcp(no_mcp: bool, config: EffectiveConfig, env: Mapping[str, str]) -> None:
    """A coordinator's agent runs its workers through trails' MCP server: refuse to make one whose
    agent would not get it (before anything is made), rather than a coordinator with no tools."""
    from trails.core import mcpwire

    if no_mcp:
        why, hint = "no MCP (--no-mcp) was asked for", "ask for one of the two: coordinator or no MCP"
    elif not config.mcp:
        where = config.user_path if config.user.mcp is False else config.project_path
        why, hint = f'the settings turn it off ("mcp": false in {where})', 'remove "mcp": false to make a coordinator'
    elif mcpwire.turned_off(env):
        why, hint = f"{mcpwire.SWITCH_ENV}=off in your environment turns it off", \
            f"unset {mcpwire.SWITCH_ENV} to make a coordinator"
    else:
        return
    raise InvalidInput(f"a coordinator needs trails' MCP server (its agent runs its workers through it), "
                       f"and {why}: nothing was done", hint=hint, field="coordinator")


class Engine:
    """Sessions, their isolation providers, state and audit, for one TRAILS_HOME."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = paths.use_home(home)  # the process's one TRAILS_HOME, resolved here once
        self.store = Store(paths.state_db())
        from trails.core import outputlog

        try:
            conf, conf_text = self.home / "tmux.conf", TMUX_CONF + outputlog.tmux_conf_lines(self.home)
            if not conf.exists() or conf.read_text() != conf_text:
                paths.write_private(conf, conf_text)
        except OSError as exc:
            raise paths.unusable(exc) from None
        self.tmux = Tmux(paths.tmux_socket(), config=conf)

    def close(self) -> None:
        self.store.close()

    # --- helpers shared by the operations -------------------------------------------------------

    def _host(self) -> HostContext:
        from trails.isolation.base import HostContext

        return HostContext(tmux=self.tmux, home=self.home)

    def provider(self, mode: Mode) -> IsolationProvider:
        from trails.isolation import provider_for

        return provider_for(mode, self._host())

    def mode_unavailable(self, mode: Mode, cwd: Path, repo_root: Path | None) -> str | None:
        """Why `mode` cannot run for cwd, or None when it can."""
        if mode is Mode.CONTAINER:
            try:
                provider = self.provider(mode)
            except ModuleNotFoundError:
                return "container support is not installed"
        else:
            provider = self.provider(mode)
        reason: str | None = provider.unavailable_reason(cwd, repo_root)
        return reason

    @staticmethod
    def _session_env(caller_env: Mapping[str, str], extra: Mapping[str, str], name: str) -> dict[str, str]:
        # The tmux server keeps the environment of whoever started it; hand each session the
        # caller's own environment so it behaves as if started from the user's shell.
        env = {k: v for k, v in caller_env.items() if k not in _INHERITED_ENV_DROP}
        env.update(extra)
        env["TRAILS_SESSION"] = name
        return env

    # --- create -----------------------------------------------------------------------------------

    def create_session(
        self,
        name: str,
        agent: str,
        *,
        mode: str | None = None,
        prompt: str | None = None,
        branch: str | None = None,
        base: str | None = None,
        scope: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        carry_changes: bool = False,
        force: bool = False,
        cwd: Path | None = None,
        auto_yes: bool = False,
        image: str | None = None,
        network: str | None = None,
        privileged: bool = False,
        mounts: Iterable[str] = (),
        cpus: float | None = None,
        memory: str | None = None,
        pids_limit: int | None = None,
        progress: Callable[[str], None] | None = None,
        no_hooks: bool = False,
        no_mcp: bool = False,
        coordinator: bool = False,
        caller: Caller,
    ) -> CreateResult:
        """Create a session: choose its mode, prepare its place, start its agent in tmux. `cwd` is
        relative to the caller's (default: the caller's own). `no_mcp`: its agent is never given
        trails' MCP server (nor is it when the settings or TRAILS_MCP=off say so). `coordinator`: its
        agent may run the orchestration tools (only the user may make one); a session an agent
        creates names it as `parent`."""
        from trails.core import agent_spec as spec_mod
        from trails.core import config as config_mod
        from trails.core import faults, inputs, recovery
        from trails.core import limits as limits_mod
        from trails.core.locks import file_lock
        from trails.core.modes import applicable_rules, floor, select_mode
        from trails.infra import git as gitinfra
        from trails.isolation.base import CreateRequest

        caller.refuse_read_only("creating a session")
        mounts = list(mounts)
        _refuse_weakening(caller, network=network, privileged=privileged, mounts=mounts, auto_yes=auto_yes)
        if coordinator:
            caller.refuse_weakening("coordinator", "making a coordinator (a session whose agent runs others)")
        validate_session_name(name)
        env = dict(env or {})
        inputs.check_env(env)
        cwd = Path(caller.cwd, cwd or ".").resolve()
        if not cwd.is_dir():
            raise InvalidInput(f"{cwd} is not a directory")
        if branch is not None and not branch:
            raise InvalidInput("--branch is empty")
        if branch:
            inputs.check_branch(branch)
        if base is not None:
            inputs.check_base(base)
        repo_root = gitinfra.find_toplevel(cwd)
        scope = list(scope)
        if scope and repo_root is None:
            raise InvalidInput("--scope needs a git repository: rules match paths git tracks")
        scope = inputs.scope_paths(scope, repo_root) if repo_root else scope
        # The main checkout's status is the slowest read a create needs: it runs while we decide the rest.
        main_status = gitinfra.Git(repo_root).start_status() if repo_root else None
        config = config_mod.load(repo_root)
        if coordinator:
            _refuse_coordinator_without_mcp(no_mcp, config, caller.env)
        agent_spec = spec_mod.resolve(agent, config)

        def tracked() -> list[str]:
            from trails.infra.git import Git

            return Git(repo_root).ls_files() if repo_root else []

        rules = applicable_rules(config.project_rules, scope, tracked)
        decision = select_mode(
            flag=mode, agent=agent_spec.name, config=config, rules=rules, env=caller.env,
            unavailable=lambda m: self.mode_unavailable(m, cwd, repo_root),
        )
        self._refuse_less_isolated(caller, decision.mode, settings_floor=floor(agent_spec.name, config))
        if decision.mode is Mode.DIRECT and (branch or base or carry_changes):
            raise InvalidInput("--branch, --base and --carry-changes need worktree or container mode")
        limits = limits_mod.resolve(config, cpus=cpus, memory=memory, pids_limit=pids_limit,
                                    container=decision.mode is Mode.CONTAINER)
        if decision.mode is not Mode.CONTAINER and (image or network or privileged or mounts):
            decision.notes.append("--image/--network/--privileged/--mount apply to container mode only; "
                                  f"this session is {decision.mode}")
        argv = list(agent_spec.argv)
        if agent_spec.profile.name == "command" or decision.mode is not Mode.CONTAINER:
            self._check_executable(argv[0])
        from trails.core import auto_yes as auto_yes_mod
        from trails.core import lifecycle, mcpwire, outputlog

        conversation_id, argv = lifecycle.with_conversation_id(agent_spec.profile, argv)
        auto_yes_by_default, ignored_auto_yes = auto_yes_mod.for_new_session(config)
        auto_yes = auto_yes or auto_yes_by_default
        typed_prompt = None
        if prompt:
            with_prompt = agent_spec.profile.with_prompt(argv, prompt)
            if with_prompt is None:
                typed_prompt = prompt
            else:
                argv = with_prompt

        session = Session(
            id=0, name=name, agent=agent_spec.spec, command=argv, mode=decision.mode,
            status=Status.CREATING, workdir=str(cwd), repo_root=str(repo_root) if repo_root else None,
            worktree_path=None, branch=None, base_commit=None, tmux_session=tmux_name(name),
            env=env, auto_yes=auto_yes, limits=limits.to_dict(), conversation_id=conversation_id,
            coordinator=coordinator, parent=caller.session if caller.trust is Trust.AGENT else None,
            extra={"scope": scope, "agent_profile": agent_spec.name, "base_argv": list(agent_spec.argv),
                   **({"prompt": prompt} if prompt else {}),
                   **({mcpwire.OFF_KEY: False} if no_mcp or not config.mcp or mcpwire.turned_off(caller.env)
                      else {})},
        )
        # The session's lock is held until its row is complete: a row still `creating` whose lock is
        # free is what a create that died leaves, and the next read cleans it (core/recovery.py).
        with file_lock(f"session:{name}"):
            # Claiming the name first makes parallel creates of one name race on a UNIQUE index.
            self._claim(session)
            faults.point("create", "claimed")
            provider = self.provider(decision.mode)

            def will_make(made: dict[str, Any]) -> None:  # what a crash from here on leaves, to be cleaned
                self.store.update_session(session.id, extra={**session.extra, recovery.CREATING: made})
                faults.point("create", "noted")

            request = CreateRequest(
                name=name, cwd=cwd, repo_root=repo_root, config=config, branch=branch, base=base,
                carry_changes=carry_changes, force=force, image=image,
                options={"agent": agent_spec.name, "network": network, "privileged": privileged,
                         "mounts": mounts, "progress": progress},
                env=caller.env,
                main_status=main_status, argv=argv, limits=session.limits, will_make=will_make,
            )
            try:
                placement = provider.prepare(request)
            except BaseException:
                self.store.delete_session(session.id)
                raise
            faults.point("create", "prepared")
            session.workdir = str(placement.workdir)
            session.worktree_path = str(placement.worktree_path) if placement.worktree_path else None
            session.branch = placement.branch
            session.base_commit = placement.base_commit
            session.extra.update(placement.extra)
            # What the repository's settings asked for and did not get (the decision's notes say its own).
            repo_ignored = [*config.ignored, *decision.ignored, *limits.ignored]
            found = placement.extra.get("ignored_settings")  # a provider's own (container settings)
            ignored: list[Any] = list(found) if isinstance(found, list) else []
            if repo_ignored:
                ignored += [item.to_dict() for item in repo_ignored]
                placement.notes += [item.note() for item in [*config.ignored, *limits.ignored]]
            if ignored_auto_yes:
                ignored += ignored_auto_yes
                placement.notes.append(
                    f"{config.project_path}: ignored {', '.join(ignored_auto_yes)} (settings that make auto-yes "
                    "approve more are honoured only from your own settings or flags)"
                )
            if ignored:
                placement.extra["ignored_settings"] = ignored
            gated = placement.before_agent is not None
            launched = False
            try:
                if placement.worktree_path is not None and repo_root is not None:
                    # Worktree set-up (core/worktree_setup.py): a failing post_create ends the create here.
                    from trails.core import worktree_setup

                    placement.notes += worktree_setup.after_create(
                        self.home, name=name, tmux_session=session.tmux_session, repo_root=repo_root,
                        worktree=Path(placement.worktree_path), branch=placement.branch, config=config,
                        no_hooks=no_hooks, progress=progress, env=caller.env)
                faults.point("create", "set_up")
                outputlog.start_new(self.home, session.tmux_session)
                try:
                    placement.notes += self.launch_agent(provider, session, argv, caller.env, gated=gated)
                except TmuxError as exc:
                    if "duplicate session" not in exc.message:
                        raise
                    # A pane trails no longer tracks (its state was lost) holds the name: replace it.
                    self.tmux.kill_session(session.tmux_session)
                    placement.notes += self.launch_agent(provider, session, argv, caller.env, gated=gated)
                launched = True
                faults.point("create", "launched")
                if placement.before_agent is not None:
                    placement.before_agent()
                    session.extra.update(placement.extra)  # what it recorded
                    provider.started(session)
                    if not release_gate(self._host().gate_file(session)):
                        raise TmuxError(f"the agent's terminal for {name!r} did not start",
                                        hint=f"see `trails output {name}`")
                faults.point("create", "started")
            except BaseException:
                if launched:
                    self.tmux.kill_session(session.tmux_session)
                provider.discard(placement)
                self.store.delete_session(session.id)
                raise
            # With a supervisor watching, the agent is "loading" until its screen says otherwise.
            session.status = self.starting_status()
            who = caller.label
            audits: list[tuple[str, str | None, dict[str, Any]]] = [
                ("mode_selected", name, {**decision.to_dict(), "agent": agent_spec.spec, "caller": who}),
                ("session_created", name, {"mode": decision.mode.value, "workdir": session.workdir,
                                           "branch": session.branch, "status": session.status.value,
                                           "notes": placement.notes, "caller": who,
                                           **({"coordinator": True} if coordinator else {}),
                                           **({"parent": session.parent} if session.parent else {})}),
            ]
            if placement.extra.get("ignored_settings"):  # after `created`: its event is about a known session
                audits.append(("settings_ignored", name, {"settings": placement.extra["ignored_settings"],
                                                          "caller": who}))
            self.store.update_session(
                session.id, status=session.status, workdir=session.workdir,
                worktree_path=session.worktree_path, branch=session.branch, base_commit=session.base_commit,
                container_id=session.container_id, limits=session.limits, extra=session.extra, audits=audits,
            )
            faults.point("create", "recorded")
        self.nudge_supervisor()
        if typed_prompt:
            self._type_first_prompt(session, typed_prompt, caller)
        return CreateResult(session, decision.to_dict(), [*decision.notes, *placement.notes])

    def _claim(self, session: Session) -> None:
        """Insert the new row (the caller holds the name's lock). A row of this name still `creating`
        is then one whose creator died: it is cleaned away first."""
        from trails.core import errors, recovery

        try:
            self.store.insert_session(session)
        except errors.SessionExists:
            try:
                existing = self.store.get_session(session.name)
            except errors.SessionNotFound:  # ended meanwhile
                existing = None
            if existing is not None and existing.status is not Status.CREATING:
                raise
            if existing is not None:
                recovery.discard_create(self, existing)
            self.store.insert_session(session)

    def launch_agent(self, provider: IsolationProvider, session: Session, argv: list[str],
                     caller_env: Mapping[str, str], *, gated: bool = False) -> list[str]:
        """Start the agent through its provider, in the caller's environment (with the session's own
        on top); outside containers, inside its resource limits first."""
        notes: list[str] = []
        env = self._session_env(caller_env, session.env, session.name)
        argv = self._wire_hooks(provider, session, argv, env, caller_env)
        argv = self._wire_mcp(provider, session, argv, env, caller_env)
        if session.mode is not Mode.CONTAINER and any(k in session.limits for k in ("cpus", "memory", "pids_limit")):
            from trails.core import limits as limits_mod

            plan = limits_mod.host_limits(session.tmux_session, limits_mod.Limits.from_dict(session.limits))
            argv = [*plan.prefix, *argv]
            session.limits = {**session.limits, "applied": plan.applied, "cgroups": plan.cgroups}
            notes += plan.notes
        provider.launch(session, argv, env, gated=gated)
        return notes

    def _wire_hooks(self, provider: IsolationProvider, session: Session, argv: list[str], env: dict[str, str],
                    caller_env: Mapping[str, str]) -> list[str]:
        """For an agent whose CLI has hooks, argv that has them report to this home's server, with a
        new token for this launch in `env` (its digest in the row before the agent can report)."""
        from trails.agents.registry import profile_of
        from trails.core import hookwire

        profile = profile_of(session)
        had = any([session.extra.pop(key, None) for key in (hookwire.HOOKED_KEY, hookwire.TOKEN_KEY)])
        env.pop("TRAILS_HOOK_TOKEN", None)  # a session started from inside another gets none of its own
        env.pop("TRAILS_HOOK_SOCKET", None)
        wired = argv
        if profile.hooks is not None and caller_env.get("TRAILS_HOOKS", "").strip().lower() not in ("off", "0", "no"):
            reporter, socket = provider.hook_endpoint(session)
            wired = profile.hooks.wire(argv, reporter)
        if wired == argv:
            if had:  # the last launch's token names no agent any more
                self.store.update_extra(session.id, {hookwire.TOKEN_KEY: None, hookwire.HOOKED_KEY: None})
            return argv
        assert profile.hooks is not None
        token, digest = hookwire.new_token()
        env["TRAILS_HOOK_TOKEN"], env["TRAILS_HOOK_SOCKET"] = token, socket
        session.extra[hookwire.TOKEN_KEY], session.extra[hookwire.HOOKED_KEY] = digest, profile.name
        # Only these keys: the row's others (what a create has made so far, for its recovery) stay.
        self.store.update_extra(session.id, {hookwire.TOKEN_KEY: digest, hookwire.HOOKED_KEY: profile.name})
        return wired

    def _wire_mcp(self, provider: IsolationProvider, session: Session, argv: list[str], env: dict[str, str],
                  caller_env: Mapping[str, str]) -> list[str]:
        """A new credential for this launch's agent (core.mcpwire), its digest in the row before the
        agent can use it, and argv (or env) configuring the agent to start `trails mcp` with it (in a
        container, the relay to it: the provider's mcp_endpoint); none of that when MCP is off for the
        session or this launch."""
        from trails.agents.base import McpServer
        from trails.agents.registry import profile_of
        from trails.core import mcpwire

        env.pop(mcpwire.TOKEN_ENV, None)  # a session started from inside another gets none of that one's
        if session.extra.get(mcpwire.OFF_KEY) is False or mcpwire.turned_off(caller_env):
            if session.extra.pop(mcpwire.TOKEN_KEY, None) is not None:
                self.store.update_extra(session.id, {mcpwire.TOKEN_KEY: None})
            mcpwire.remove_session_dir(self.home, session.name)
            return argv
        credential, digest = mcpwire.new_credential()
        env[mcpwire.TOKEN_ENV] = credential
        session.extra[mcpwire.TOKEN_KEY] = digest
        self.store.update_extra(session.id, {mcpwire.TOKEN_KEY: digest})
        profile = profile_of(session)
        if profile.mcp is None or (session.mode is Mode.CONTAINER and not profile.mcp.in_container):
            mcpwire.remove_session_dir(self.home, session.name)  # what a launch on the host had (upgrade)
            return argv
        command, server_env = provider.mcp_endpoint(session)
        server = McpServer(command=command, env=server_env,
                           credential_env=mcpwire.TOKEN_ENV, credential=credential,
                           private_dir=mcpwire.session_dir(self.home, session.name),
                           agent_home=provider.own_agent_home(session))
        return profile.mcp.wire(argv, server, env)

    def starting_status(self) -> Status:
        """What an agent just started is: "loading" while the server's supervisor watches (until its
        screen says otherwise), else "running"."""
        from trails.core import watch

        return Status.LOADING if watch.watching(self.home) else Status.RUNNING

    def nudge_supervisor(self) -> None:
        """Have the server's supervisor look at the state database now (it would within a second anyway)."""
        from trails.core import watch

        watch.nudge(self.home)

    def release_limits(self, session: Session) -> None:
        if session.limits.get("cgroups"):
            from trails.core import limits as limits_mod

            limits_mod.release_host(session.limits["cgroups"])

    def _refuse_less_isolated(self, caller: Caller, mode: Mode, *, settings_floor: Mode = Mode.DIRECT) -> None:
        """An agent may start sessions only as isolated as its own (a container's agent may not start
        one on the host) and as the user's own settings give the agent (`settings_floor`: a flag or
        TRAILS_MODE in the agent's environment does not lower it); one whose own session is unknown,
        only containers."""
        if caller.trust is not Trust.AGENT:
            return
        from trails.core.errors import SessionNotFound

        try:
            floor = self.store.get_session(caller.session).mode if caller.session else Mode.CONTAINER
        except SessionNotFound:
            floor = Mode.CONTAINER
        floor = max(floor, settings_floor, key=lambda m: m.isolation_rank)
        if mode.isolation_rank < floor.isolation_rank:
            caller.refuse_weakening("mode", f"a {mode.value} session (less isolated than {floor.value})")

    @staticmethod
    def _check_executable(program: str) -> None:
        import shutil

        if shutil.which(program) is None:
            raise InvalidInput(f"agent command {program!r} was not found on PATH")

    def _type_first_prompt(self, session: Session, prompt: str, caller: Caller, timeout: float = 10.0) -> None:
        # The agent must be drawing its screen before it can take input: wait for output first.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.tmux.capture(session.tmux_session).strip():
                break
            time.sleep(0.05)
        from trails.core.locks import file_lock

        with file_lock(f"send:{session.name}"):  # as Engine.send: a send meanwhile must not interleave
            self._type_and_submit(session, prompt)
        self.store.audit("prompt_sent", session.name, text=prompt, caller=caller.label)

    # --- read -------------------------------------------------------------------------------------

    def list_sessions(self, *, include_ended: bool = False, caller: Caller) -> list[Session]:
        """Sessions as they really are: state reconciled with tmux in one call."""
        sessions = self.store.list_sessions(include_ended=include_ended)
        if any(s.status in LIVE_STATUSES or self._needs_look(s) for s in sessions):
            panes = self.tmux.list_panes()
            sessions = [s for s in sessions if self._reconcile(s, panes)]
        return sessions

    def get_session(self, name: str, *, caller: Caller) -> Session:
        return self._get(name)

    def _get(self, name: str) -> Session:
        session = self.store.get_session(name)
        if (session.status in LIVE_STATUSES or self._needs_look(session)) \
                and not self._reconcile(session, self.tmux.list_panes()):
            return self.store.get_session(name)  # a create that died was undone: SessionNotFound
        return session

    def settled(self, name: str) -> Session:
        """The session's row for an operation that holds its lock, with what a dead operation left
        finished or undone first (core/recovery.py)."""
        session = self.store.get_session(name)
        panes = self.tmux.list_panes() if session.status in LIVE_STATUSES else {}
        if not self._settle(session, panes):
            return self.store.get_session(name)  # it was a create that died: SessionNotFound
        return session

    @staticmethod
    def _needs_look(session: Session) -> bool:
        from trails.core import recovery

        return session.ended_at is None and recovery.pending(session)

    def _reconcile(self, session: Session, panes: dict[str, PaneInfo]) -> bool:
        """Bring the row in line with what is really there. False when it turned out not to exist
        (a create whose process died, undone here)."""
        if not (self._needs_look(session) or self._agent_looks_gone(session, panes) or self._worktree_lost(session)):
            return True
        from trails.core.locks import file_lock

        # A create, pause, resume, move or kill holds the session's lock while it works (and stops
        # agents on purpose): then that operation decides, not this read.
        with file_lock(f"session:{session.name}", wait=False) as held:
            fresh = self.store.session_by_id(session.id) if held else None
            if fresh is None:
                return not held
            if fresh.updated_at != session.updated_at:  # changed since it was read: decide on what is now
                vars(session).update(vars(fresh))
                panes = self.tmux.list_panes()
            return self._settle(session, panes)

    def _settle(self, session: Session, panes: dict[str, PaneInfo]) -> bool:
        """_reconcile's work, for a caller holding the session's lock."""
        from trails.core import recovery

        if session.ended_at is not None:
            return True
        if session.status is Status.CREATING:  # its creator died: what it made goes, and the row
            recovery.discard_create(self, session)
            return False
        if recovery.MOVING in session.extra:  # a move died: undone, or recorded (core/moves.py)
            from trails.core import moves

            moves.recover(self, session)
        if recovery.RESUMING in session.extra:  # a resume died: recorded, or undone (core/lifecycle.py)
            from trails.core import lifecycle

            lifecycle.recover_resume(self, session)
            panes = self.tmux.list_panes() if session.status in LIVE_STATUSES else panes
        if self._agent_looks_gone(session, panes):
            self._reconcile_ended(session, panes.get(session.tmux_session))
        elif self._worktree_lost(session):
            self._reconcile_lost_worktree(session)
        return True

    @staticmethod
    def _worktree_lost(session: Session) -> bool:
        from trails.core import recovery

        return session.status in LIVE_STATUSES and recovery.worktree_gone(session) is not None

    def _reconcile_lost_worktree(self, session: Session) -> None:
        """The worktree of a live session was removed under it: nothing can be saved from it any more;
        the agent is stopped (its place is gone) and the session is an error that `resume` restarts."""
        from trails.core import recovery

        why = recovery.worktree_gone(session)
        reason = f"{why}; `trails resume {session.name}` re-creates it from branch {session.branch} " \
                 "and restarts the agent on its conversation"
        screen = self.tmux.capture(session.tmux_session, history=200)
        if screen:
            session.last_output = "\n".join(_last_lines(screen, 20))
        from trails.core import freeze

        freeze.thaw(self.store, session)
        self.provider(session.mode).stop(session)
        self.release_limits(session)
        if self.store.update_session(session.id, status=Status.ERROR, status_reason=reason, extra=session.extra,
                                     last_output=session.last_output,
                                     only_if_status=session.status,
                                     audits=[("status_reconciled", session.name,
                                              {"status": Status.ERROR.value, "reason": reason})]):
            session.status, session.status_reason = Status.ERROR, reason

    @staticmethod
    def _agent_looks_gone(session: Session, panes: dict[str, PaneInfo]) -> bool:
        if session.status not in LIVE_STATUSES or session.status is Status.CREATING:
            return False
        pane = panes.get(session.tmux_session)
        return pane is None or pane.dead

    def _reconcile_ended(self, session: Session, pane: PaneInfo | None) -> None:
        from trails.core import recovery

        code = read_exit_file(self._host().exit_file(session))
        if pane is not None and code is None:
            code = pane.dead_status
        teardown = recovery.Teardown.of(session)  # stopped on purpose by a pause or kill that died
        if pane is not None and code is None and pane.dead_signal is None and teardown is None:
            return  # the pty closed but the exit status is not known yet: decide on the next read
        if teardown is not None:
            status, reason = Status.ERROR, teardown.describe()
        elif pane is None:
            status, reason = Status.ERROR, "its tmux session is gone (killed outside trails, or the server died)"
        elif code == 0:
            status, reason = Status.COMPLETED, "the agent exited with status 0"
        elif code is None:
            status, reason = Status.ERROR, f"the agent was killed by signal {pane.dead_signal}"
        else:
            status, reason = Status.ERROR, f"the agent exited with status {code}"
        if pane is not None:
            screen = self.tmux.capture(session.tmux_session, history=200)
            session.last_output = "\n".join(_last_lines(screen, 20))
        if session.mode is Mode.CONTAINER:
            try:
                tidied = self.provider(session.mode).reconciled(session)
            except Exception as exc:  # the engine may be down too; the status must still be told
                tidied = f"its container could not be checked ({type(exc).__name__})"
            reason += f"; {tidied}" if tidied else ""
        # An exit the agent's own hook had announced (monitor/supervisor.py) is the hook's word.
        from trails.core import hookwire

        announced = (self.store.session_by_id(session.id) or session).extra.get(hookwire.ENDED_KEY)
        source = "hook" if status is Status.COMPLETED and announced else None
        # Only over the status this was decided on: the supervisor may have moved it meanwhile.
        if self.store.update_session(session.id, status=status, status_reason=reason, extra=session.extra,
                                     last_output=session.last_output, only_if_status=session.status,
                                     status_source=source,
                                     audits=[("status_reconciled", session.name,
                                              {"status": status.value, "reason": reason})]):
            session.status, session.status_reason = status, reason
        elif (fresh := self.store.session_by_id(session.id)) is not None:
            session.status, session.status_reason = fresh.status, fresh.status_reason

    def show(self, name: str, *, caller: Caller) -> dict[str, Any]:
        """One session in detail; when none of that name is live, the last one that ended (where its
        work went is in its checkpoints and status)."""
        from trails.core.errors import SessionNotFound

        try:
            session = self._get(name)
        except SessionNotFound:
            ended = [s for s in self.store.list_sessions(include_ended=True) if s.name == name and s.ended_at]
            if not ended:
                raise
            session = max(ended, key=lambda s: (s.ended_at or 0, s.id))
        # Show what there is even if the branch cannot follow; diff, merge and kill say why.
        with contextlib.suppress(TrailsError):
            self.provider(session.mode).catch_up(session)
        data = {
            "session": session.to_dict(),
            "checkpoints": [c.to_dict() for c in self.store.checkpoints(session)],
            "audit": [a.to_dict() for a in self.store.audit_entries(name, limit=20)],
        }
        if session.worktree_path and Path(session.worktree_path).is_dir():
            from trails.core import config as config_mod
            from trails.core import limits as limits_mod

            try:
                config = config_mod.load(Path(session.repo_root) if session.repo_root else None)
            except TrailsError:
                config = config_mod.EffectiveConfig()
            data["disk"] = limits_mod.disk_report(Path(session.worktree_path), config)
        return data

    def orphans(self, *, caller: Caller) -> list[dict[str, Any]]:
        """What trails made that no session accounts for (after settling what dead operations left)."""
        from trails.core import orphans

        return [o.to_dict() for o in orphans.find(self, caller=caller)]

    def repair_orphans(self, *, caller: Caller) -> dict[str, Any]:
        """Remove every orphan, saving first what it holds (refs under refs/trails/orphans/)."""
        from trails.core import orphans

        caller.refuse_read_only("removing orphans")
        caller.refuse_weakening("repair", "removing what no session accounts for")
        return orphans.repair(self, caller=caller)

    def audit_log(self, session: str | None = None, limit: int | None = None, *,
                  caller: Caller) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.store.audit_entries(session, limit)]

    # --- trusted repositories ---------------------------------------------------------------------

    def trust_repository(self, path: Path, *, revoke: bool = False, caller: Caller) -> dict[str, Any]:
        """Trust the repository at `path` (relative to the caller's cwd; as its settings are now) to run
        the agents and hooks it defines; or, with revoke, stop trusting it."""
        from trails.core import config as config_mod
        from trails.core import trust
        from trails.infra import git as gitinfra

        caller.refuse_read_only("changing which repositories are trusted")
        if not revoke:  # its hooks and agent commands then run on the host, outside any isolation
            caller.refuse_weakening("path", "trusting a repository")
        path = Path(caller.cwd, path)
        root = gitinfra.find_toplevel(path) if path.is_dir() else None
        if root is None:
            raise InvalidInput(f"{path} is not inside a git repository: there is no repository to trust")
        if revoke:
            was = trust.revoke(root)
            self.store.audit("repository_untrusted", None, root=str(root), was_trusted=was, caller=caller.label)
            return {"root": str(root), "trusted": False, "was_trusted": was}
        config = config_mod.load(root)  # a settings file that does not load is not trusted
        agents = {name: prof.command for name, prof in config.project.agents.items() if prof.command}
        record = trust.trust(root)
        self.store.audit("repository_trusted", None, root=record.root, digest=record.digest, agents=agents,
                         caller=caller.label)
        return {**record.to_dict(), "trusted": True, "agents": agents,
                "ignored": [item.to_dict() for item in config.ignored]}

    def trusted_repositories(self, *, caller: Caller) -> list[dict[str, Any]]:
        """Every repository you trusted, and whether that trust still holds (its files unchanged)."""
        from trails.core import trust

        out = []
        for record in trust.records():
            root = Path(record.root)
            state = trust.state(root) if root.is_dir() else "missing"
            out.append({**record.to_dict(), "state": state})
        return out

    # --- interact ---------------------------------------------------------------------------------

    def _live(self, name: str) -> Session:
        session = self._get(name)
        if session.status not in LIVE_STATUSES:
            why = f": {session.status_reason}" if session.status_reason else ""
            raise SessionStateError(f"session {name!r} is {session.status.value}{why}")
        return session

    def send(self, name: str, text: str, *, echo_timeout: float = 2.0, caller: Caller) -> None:
        """Type text into the agent, then press Enter once the agent shows it typed.

        Enter sent in the same breath as the text can reach the agent in one read, which agents such
        as Claude Code take for a paste: the newline lands in the input box and nothing is submitted.
        """
        from trails.core.locks import file_lock

        caller.refuse_read_only("sending to a session")
        # One send at a time per session, or parallel sends interleave their keys into one line. Not
        # the session:NAME lock that pause, resume and kill hold: a send need not wait out a pause.
        with file_lock(f"send:{name}"):
            session = self._resumed_if_idle(name, caller) or self._live(name)
            self._type_and_submit(session, text, echo_timeout)
        self.store.audit("sent", name, text=text, caller=caller.label)

    def _resumed_if_idle(self, name: str, caller: Caller) -> Session | None:
        """A session paused for idleness (`idle_pause_after`) is resumed by the next send, which then
        waits for its agent's screen to settle before typing; None for any other session."""
        from trails.core import lifecycle

        session = self._get(name)
        if session.status is not Status.PAUSED or not session.extra.get(lifecycle.IDLE_PAUSED_KEY):
            return None
        self.resume(name, caller=caller)
        session = self._live(name)
        previous, settled_at = None, time.monotonic()
        deadline = time.monotonic() + RESUME_SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            screen = self.tmux.capture(session.tmux_session)
            if screen != previous:
                previous, settled_at = screen, time.monotonic()
            elif screen.strip() and time.monotonic() - settled_at >= RESUME_SETTLED_FOR:
                break
            time.sleep(0.1)
        return session

    def _type_and_submit(self, session: Session, text: str, echo_timeout: float = 2.0) -> None:
        from trails.core import freeze

        freeze.thaw(self.store, session)  # an idle agent frozen (core/freeze.py) wakes before its first key
        # Enter goes once the typed text shows and the screen has stopped changing: agents drop or
        # misread keys that arrive with a paste or while they redraw (Claude Code does both).
        pasted = len(text.encode()) > PASTE_OVER
        if pasted:
            # Too long to type in one tmux command; an agent may show a paste as a placeholder
            # ("[Pasted text …]") rather than its text, so a changed screen counts as shown.
            before = self.tmux.capture(session.tmux_session)
            self.tmux.paste_text(session.tmux_session, text)
        else:
            self.tmux.send_text(session.tmux_session, text, enter=False)
        tail = "".join(text.split())[-16:]
        deadline = time.monotonic() + echo_timeout
        previous, settled = None, None
        while time.monotonic() < deadline:
            screen = self.tmux.capture(session.tmux_session)
            shown = not tail or tail in "".join(screen.split()) or (pasted and screen != before)
            if shown and screen == previous:
                settled = screen
                break
            previous = screen
            time.sleep(0.1)
        self.tmux.send_text(session.tmux_session, "", enter=True)
        if not tail or settled is None:
            return  # nothing typed, or an agent that does not show what it is typed: one Enter, unchecked
        for _ in range(SUBMIT_RETRIES):
            if self._screen_changes(session, settled, SUBMIT_SEEN):
                return
            self.tmux.send_text(session.tmux_session, "", enter=True)

    def _screen_changes(self, session: Session, before: str, within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.tmux.capture(session.tmux_session) != before:
                return True
            time.sleep(0.05)
        return False

    def output(self, name: str, lines: int | None = None, *, caller: Caller) -> str:
        session = self._get(name)
        if not self.tmux.has_session(session.tmux_session):
            from trails.core import outputlog

            logged = outputlog.read_text(self.home, session.tmux_session, lines)
            return logged if logged is not None else (session.last_output or "")
        screen = self.tmux.capture(session.tmux_session, history=50000)
        return "\n".join(_last_lines(screen, lines or 1_000_000))

    def attach_command(self, name: str, *, caller: Caller) -> list[str]:
        """The command that attaches a terminal to the session's pane (front ends run it in theirs)."""
        from trails.core import freeze

        caller.refuse_read_only("attaching to a session")
        session = self._live(name)
        freeze.thaw(self.store, session)
        return self.tmux.attach_argv(session.tmux_session)

    def diff(self, name: str, *, stat: bool = False, caller: Caller) -> DiffResult:
        """The session's changes against its base commit, uncommitted and untracked files included."""
        session = self._get(name)
        git, tree = self._diff_tree(session)
        assert session.base_commit is not None
        text = git.diff(session.base_commit, tree, stat=stat)
        ins, dels, files = git.numstat(session.base_commit, tree)
        return DiffResult(name, session.base_commit, text, ins, dels, files)

    def diff_stats(self, sessions: Iterable[Session], *, caller: Caller) -> dict[int, tuple[int, int, int]]:
        """`diff`'s counts (insertions, deletions, files) of sessions just listed (by id; not read again),
        each repository's worktree records read once for all; one that cannot be diffed is left out."""
        from trails.infra.git import Worktrees

        records: dict[str, Worktrees] = {}
        found: dict[int, tuple[int, int, int]] = {}
        for session in sessions:
            with contextlib.suppress(TrailsError):
                root = session.repo_root
                if session.worktree_path and root and root not in records:
                    records[root] = Worktrees(root)
                git, tree = self._diff_tree(session, records.get(root) if root else None)
                assert session.base_commit is not None
                found[session.id] = git.numstat(session.base_commit, tree)
        return found

    def _diff_tree(self, session: Session, records: Worktrees | None = None) -> tuple[Git, str]:
        """git for the session's place and the tree of its work as it is now (what `diff` compares)."""
        from trails.infra.git import Git
        from trails.isolation.worktree import worktree_git

        if not session.base_commit or not session.repo_root:
            raise InvalidInput(f"session {session.name!r} is not in a git repository: there is nothing to diff "
                               "against")
        place = session.worktree_path or session.workdir
        if not Path(place).is_dir():
            raise SessionStateError(f"session {session.name!r} has no working directory on disk ({place})")
        self.provider(session.mode).catch_up(session)
        git = worktree_git(session, records) or Git(place)  # a worktree through the git dir trails knows for it
        return git, git.snapshot_tree()

    def merge(self, name: str, *, strategy: str | None = None, message: str | None = None,
              cleanup: bool = False, caller: Caller) -> MergeResult:
        """Merge the session's branch into the main checkout's branch (no-ff, squash or rebase; default
        from settings); conflicts change nothing. `cleanup` then ends the session and removes its branch."""
        from trails.core.merge import merge_session

        caller.refuse_read_only("merging a session")
        return merge_session(self, name, strategy=strategy, message=message, cleanup=cleanup, caller=caller)

    def rebase(self, name: str, *, onto: str | None = None, to_agent: bool = False,
               caller: Caller) -> RebaseResult:
        """Rebase the session's branch onto `onto` (default: its base branch's tip) in its worktree;
        a conflict is aborted and flagged on the session (and, with to_agent, handed to the agent)."""
        from trails.core.rebase import rebase_session

        caller.refuse_read_only("rebasing a session")
        return rebase_session(self, name, onto=onto, to_agent=to_agent, caller=caller)

    def open_pr(self, name: str, *, draft: bool = False, title: str | None = None, body: str | None = None,
                base: str | None = None, caller: Caller) -> PrResult:
        """Push the session's branch and open a pull request with gh/glab (else print the compare URL)."""
        from trails.core import pr

        caller.refuse_read_only("opening a pull request")
        return pr.open_pr(self, name, draft=draft, title=title, body=body, base=base, caller=caller)

    def pr_checks(self, name: str, *, fix: bool = False, caller: Caller) -> dict[str, Any]:
        """The session's pull request state and checks, asked for now; `fix` sends failing ones to the agent."""
        from trails.core import pr

        if fix:
            caller.refuse_read_only("sending failing checks to the agent")
        return pr.checks(self, name, fix=fix, caller=caller)

    def refresh_pull_requests(self, sessions: list[Session], *, caller: Caller) -> None:
        """Refresh the stored state of the sessions' pull requests not checked for a while."""
        if any(s.pr for s in sessions):
            from trails.core import pr

            pr.refresh_stale(self, sessions, env=caller.env)

    # --- moves between modes ----------------------------------------------------------------------

    def upgrade_session(self, name: str, to: str, *, image: str | None = None, network: str | None = None,
                        cpus: float | None = None, memory: str | None = None, pids_limit: int | None = None,
                        branch: str | None = None, force: bool = False,
                        progress: Callable[[str], None] | None = None, caller: Caller) -> MoveResult:
        """Move a session to a more isolated mode, carrying all its work; the agent restarts there."""
        from trails.core import moves
        from trails.core.models import parse_mode

        caller.refuse_read_only("moving a session")
        _refuse_weakening(caller, network=network)

        options: dict[str, Any] = {k: v for k, v in {"image": image, "network": network, "cpus": cpus, "memory": memory,
                                     "pids_limit": pids_limit, "branch": branch}.items() if v is not None}
        options.update(progress=progress, force=force)
        return moves.move(self, name, parse_mode(to), downgrade=False, force=force, options=options, caller=caller)

    def export_session(self, name: str, to: str, *, force: bool = False, caller: Caller) -> MoveResult:
        """Move a session to a less isolated mode (needs force: isolation is lost), keeping all its work."""
        from trails.core import moves
        from trails.core.models import parse_mode

        caller.refuse_read_only("moving a session")
        caller.refuse_weakening("to", "moving a session to a less isolated mode")
        return moves.move(self, name, parse_mode(to), downgrade=True, force=force, options={"force": force},
                          caller=caller)

    # --- end --------------------------------------------------------------------------------------

    def kill(self, name: str, *, force: bool = False, delete_branch: bool = False,
             no_hooks: bool = False, caller: Caller) -> KillResult:
        """Stop the agent and remove its place; uncommitted work is saved first (needs --force)."""
        from trails.core.locks import file_lock

        caller.refuse_read_only("ending a session")
        with file_lock(f"session:{name}"):
            return self._kill(name, force=force, delete_branch=delete_branch, no_hooks=no_hooks, caller=caller)

    def _kill(self, name: str, *, force: bool, delete_branch: bool, no_hooks: bool = False,
              caller: Caller) -> KillResult:
        from trails.core import faults, recovery

        session = self.settled(name)
        provider = self.provider(session.mode)
        provider.check_release(session, force=force, delete_branch=delete_branch)
        from trails.core import freeze

        freeze.thaw(self.store, session)  # a stopped process would keep tmux's hang-up pending
        provider.stop(session)
        self.release_limits(session)
        faults.point("kill", "stopped")
        teardown = recovery.Teardown.of(session)
        stamp = teardown.stamp if teardown else recovery.stamp()  # the same refs when finishing one
        # Before anything is removed; not again when finishing an interrupted teardown.
        hook_notes = self._pre_remove(session, no_hooks, caller.env) if teardown is None else []

        def record(saved: SavedWork | None) -> None:
            recovery.begin_teardown(self, session, "kill", stamp, saved, note="saved when the session was killed")

        try:
            released = provider.release(session, force=force, delete_branch=delete_branch, stamp=stamp,
                                        record=record, env=caller.env)
        except TrailsError as exc:
            self.store.update_session(session.id, status=Status.ERROR, status_reason=f"kill failed: {exc.message}",
                                      extra=session.extra)
            raise
        faults.point("kill", "released")
        from trails.core import mcpwire

        mcpwire.remove_session_dir(self.home, name)  # a launch's MCP settings (a dead credential now)
        recorded = {c.ref for c in self.store.checkpoints(session)}  # the worktree's, noted before its removal
        for ref in released.saved_refs:
            if ref in recorded:
                continue
            from trails.infra.git import Git

            commit = Git(session.repo_root or session.workdir).out("rev-parse", ref)
            self.store.add_checkpoint(session, "kill", ref, commit, "saved when the session was killed")
        now = time.time()
        reason = "killed" + (f"; saved to {', '.join(released.saved_refs)}" if released.saved_refs else "")
        session.extra.pop(recovery.TEARDOWN, None)
        self.store.update_session(session.id, status=Status.KILLED, status_reason=reason, ended_at=now,
                                  extra=session.extra)
        session.status, session.status_reason, session.ended_at = Status.KILLED, reason, now
        notes = [*hook_notes, *released.notes]
        self.store.audit("session_killed", name, force=force, delete_branch=delete_branch,
                         saved_refs=released.saved_refs, notes=notes, caller=caller.label)
        faults.point("kill", "recorded")
        return KillResult(session, notes, released.saved_refs)

    def _pre_remove(self, session: Session, no_hooks: bool, env: Mapping[str, str]) -> list[str]:
        """The pre_remove hook (core/worktree_setup.py), in a worktree about to be removed."""
        if not session.worktree_path or not session.repo_root:
            return []
        from trails.core import worktree_setup

        try:
            return worktree_setup.before_remove(
                self.home, name=session.name, tmux_session=session.tmux_session, repo_root=Path(session.repo_root),
                worktree=Path(session.worktree_path), branch=session.branch, no_hooks=no_hooks, env=env)
        except TrailsError as exc:  # e.g. settings that no longer load: the removal goes on
            return [f"pre_remove not run: {exc.message}"]

    # --- live sessions (pause/resume, auto-yes: core/lifecycle.py; the supervisor: trails.server) ---------

    def set_auto_yes(self, name: str, on: bool, *, caller: Caller) -> Session:
        """Switch automatic answers (within the guards) on or off for one session."""
        from trails.core import lifecycle

        caller.refuse_read_only("changing auto-yes")
        if on:
            caller.refuse_weakening("auto_yes", "answering the agent's permission prompts automatically (auto-yes)")
        return lifecycle.set_auto_yes(self, name, on, caller=caller)

    def pause(self, name: str, *, caller: Caller) -> dict[str, Any]:
        """Save the session's work and conversation, stop its agent, free its worktree (branch kept)."""
        from trails.core import lifecycle
        from trails.core.locks import file_lock

        caller.refuse_read_only("pausing a session")
        with file_lock(f"session:{name}"):
            return lifecycle.pause(self, name, caller=caller)

    def resume(self, name: str, *, caller: Caller) -> dict[str, Any]:
        """Re-create a paused session's worktree and work, and continue its agent's conversation."""
        from trails.core import lifecycle
        from trails.core.locks import file_lock

        caller.refuse_read_only("resuming a session")
        with file_lock(f"session:{name}"):
            return lifecycle.resume(self, name, caller=caller)
