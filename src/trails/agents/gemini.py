"""Google Gemini CLI (`gemini`)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from trails.agents.base import (
    AgentHome,
    AgentHooks,
    AgentMcp,
    AgentProfile,
    HookLaunch,
    HookReport,
    McpServer,
    PermissionAsk,
)
from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest, Invocation, parse_json_object
from trails.core.models import Status


class GeminiHeadless(HeadlessAdapter):
    """`gemini -p PROMPT -o json`; `--resume ID` continues. It has no way to branch a conversation."""

    name = "gemini"
    can_resume = True
    can_fork = False
    raw_suffix = "json"

    def invocation(self, base: list[str], req: HeadlessRequest) -> Invocation:
        argv = [*base, "-p", req.prompt, "-o", "json"]
        if req.resume_id:
            argv += ["--resume", req.resume_id]
        if req.model:
            argv += ["--model", req.model]
        if req.permission_mode:  # gemini's word for it is the approval mode
            argv += ["--approval-mode", req.permission_mode]
        return Invocation(argv)

    def parse(self, stdout: str, stderr: str, returncode: int) -> HeadlessOutcome:
        data = parse_json_object(stdout)
        if data is None:
            return super().parse(stdout, stderr, returncode)
        error = data.get("error")
        ok = returncode == 0 and not error
        return HeadlessOutcome(ok=ok, conversation_id=data.get("session_id") or data.get("sessionId"),
                               result_text=data.get("response"), error=None if ok else str(error or returncode),
                               raw=data)

HOME_ENV = "GEMINI_CLI_HOME"  # where Gemini finds its `.gemini` (default: HOME)


class GeminiMcp(AgentMcp):
    """On the host, a Gemini home of the launch's own (GEMINI_CLI_HOME, under the trails home): its
    `.gemini/settings.json` is the user's own with trails' server added, and every other entry of
    the user's ~/.gemini (credentials, trusted folders, history, extensions) is a link to theirs, so
    Gemini works as it does for them. In a container, the container's home (mounted as its HOME,
    kept across pause and resume): its `.gemini/settings.json` (the user's the first time, what
    Gemini keeps there after) gets trails' server, the relay, and the user's login is copied in
    beside it once (links to ~/.gemini would lead nowhere inside). Neither ~/.gemini nor the
    repository's `.gemini` is written. (Gemini's system settings files, the other place that takes
    servers, are read only when root owns them and every directory above them.)

    Gemini hands a stdio server no variable whose name says TOKEN, and expands `$VAR` in its `env`
    only from what is left: the credential is written into that settings file, which is owner-only,
    in an owner-only directory, and rewritten at each launch with its new credential. `trust`: the
    trails tools run without asking. (Trails' hooks, GeminiHooks, go into the same file after.)"""

    def wire(self, argv: list[str], server: McpServer, env: dict[str, str]) -> list[str]:
        own = _users_gemini(env)
        if server.agent_home is not None:
            inner = _own_home(own, server.agent_home)
            env[HOME_ENV] = server.agent_home.inside  # not a host path the user's may name
            # The last launch's hooks there name a dead token: this launch's (GeminiHooks) come next.
            _update_settings(inner, lambda settings: _with_server(_without_our_hooks(settings), server))
            return argv
        inner = _launch_home(own, server.private_dir / LAUNCH_HOME)
        env[HOME_ENV] = str(inner.parent)
        _update_settings(inner, lambda settings: _with_server(settings, server))
        return argv


class GeminiHooks(AgentHooks):
    """Gemini CLI's hooks (on unless the user's `hooksConfig.enabled` is false), in the same settings
    file of a home of the launch's own as its MCP server (GeminiMcp; made here when MCP is off), never
    ~/.gemini: each event's hooks there are the user's own and then trails' (`name` "trails"). Gemini
    runs the hooks of its settings only in a folder it trusts (with folder trust off, every folder).

    Gemini gives a hook its environment without the variables whose names say TOKEN (with its
    variable redaction on; on GitHub's runners without nearly all), so the session, token and socket
    go in the hook's own `env`, in that owner-only file. The reporter prints nothing, so no hook ever
    decides anything for Gemini. Its ToolPermission notification names no tool: the particulars of
    the confirmation it shows (a command exactly, a file) are the hook's input instead."""

    EVENTS = ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent", "SessionEnd")
    NAME = "trails"  # what Gemini shows while the hook runs ("Executing Hook: trails"), and how ours are known
    TIMEOUT_MS = 5000  # Gemini's limit per hook (milliseconds); the reporter gives up after one second

    def wire(self, argv: list[str], launch: HookLaunch, env: dict[str, str]) -> list[str] | None:
        # GeminiMcp ran first and pointed GEMINI_CLI_HOME at the home it made for this launch, unless
        # MCP is off for it: then the home is made here, from the user's own settings.
        if launch.agent_home is not None:
            inner = _own_home(_users_gemini(env), launch.agent_home)
            where = launch.agent_home.inside
        else:
            where = str(launch.private_dir / LAUNCH_HOME)
            inner = Path(where) / ".gemini"
            if env.get(HOME_ENV) != where or not (inner / "settings.json").is_file():
                inner = _launch_home(_users_gemini(env), Path(where))
        config = _read_object(inner / "settings.json").get("hooksConfig")
        if isinstance(config, dict) and config.get("enabled") is False:
            return None  # the user turned Gemini's hooks off, theirs too: they stay off; its screen tells
        env[HOME_ENV] = where
        _update_settings(inner, lambda settings: self.with_hooks(settings, launch))
        return argv

    def with_hooks(self, settings: dict[str, object], launch: HookLaunch) -> dict[str, object]:
        """`settings` with trails' hook last on each event (any of ours from an earlier launch gone)."""
        hook = {"type": "command", "name": self.NAME, "command": shlex.join(launch.reporter),
                "timeout": self.TIMEOUT_MS, "env": dict(launch.env)}
        hooks = _without_our_hooks(settings).get("hooks")
        hooks = dict(hooks) if isinstance(hooks, dict) else {}
        for event in self.EVENTS:
            theirs = hooks.get(event)
            hooks[event] = [*(theirs if isinstance(theirs, list) else []), {"hooks": [hook]}]
        return {**settings, "hooks": hooks}

    def interpret(self, event: str, tool: str | None, tool_input: Mapping[str, object] | None,
                  detail: Mapping[str, str]) -> HookReport | None:
        if event == "SessionStart":
            return HookReport(Status.READY, f"session started ({detail.get('source') or 'startup'})", settled=True)
        if event == "BeforeAgent":
            return HookReport(Status.RUNNING, "prompt submitted", settled=True)
        if event == "BeforeTool":
            return HookReport(Status.RUNNING, f"using {tool or 'a tool'}", settled=True)
        if event == "AfterTool":
            return HookReport(Status.RUNNING, f"{tool or 'a tool'} done", settled=True)
        if event == "Notification" and detail.get("notification_type") == "ToolPermission":
            ask = permission_ask(tool_input or {})
            return HookReport(Status.WAITING, f"asks to {ask.kind}: {_short(ask.text)}", ask=ask)
        if event == "AfterAgent":
            return HookReport(Status.READY, "turn finished", settled=True)
        if event == "SessionEnd":
            return HookReport(None, f"session ended ({detail.get('reason') or 'exit'})", settled=True, ended=True)
        return None


def permission_ask(details: Mapping[str, object]) -> PermissionAsk:
    """What Gemini asks permission for, from the confirmation its ToolPermission notification
    carries: an `exec` runs its command exactly; an `edit` writes (write_file: "Confirm Write") or
    changes (replace) its file, an absolute path; anything else is judged by its title and details."""
    def text_of(key: str) -> str | None:
        value = details.get(key)
        return value if isinstance(value, str) else None

    kind, title = text_of("type"), text_of("title") or "a tool"
    command = text_of("command")
    if kind == "exec" and command is not None:
        return PermissionAsk("command", command, command=command)
    if kind == "edit":
        target = text_of("filePath")
        return PermissionAsk("write" if title.startswith("Confirm Write") else "edit", f"{title} ({target})",
                             target=target)
    return PermissionAsk(kind or "tool", f"{title} {json.dumps(dict(details), default=str)[:4000]}")


def _short(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


LAUNCH_HOME = "gemini-home"  # in the launch's private directory: the Gemini home of a launch on the host
# Files Gemini may create in its home while it runs: linked even before they exist, so that what
# it writes (a first login) lands in the user's own ~/.gemini.
LINKED_FILES = ("oauth_creds.json", "google_accounts.json", "installation_id", "trustedFolders.json",
                "projects.json", "GEMINI.md")
# What a container's home gets of the user's ~/.gemini besides the settings: their login and
# memory (trusted folders and projects name host paths, meaningless inside).
SEED_FILES = ("oauth_creds.json", "google_accounts.json", "installation_id", "GEMINI.md")


def _users_gemini(env: Mapping[str, str]) -> Path:
    """The user's own `.gemini`, as the agent's environment names it (before trails points it elsewhere)."""
    return Path(env.get(HOME_ENV) or env.get("HOME") or Path.home()) / ".gemini"


def _launch_home(own: Path, home: Path) -> Path:
    """A new Gemini home of one launch's own at `home` (the last launch's goes: its credentials are
    dead), whose settings are the user's (in `own`) and every other entry a link to theirs; its `.gemini`."""
    shutil.rmtree(home, ignore_errors=True)
    inner = home / ".gemini"
    inner.mkdir(mode=0o700, parents=True)
    home.chmod(0o700)
    _write_owner_only(inner / "settings.json", json.dumps(_read_object(own / "settings.json"), indent=2))
    names = {p.name for p in own.iterdir()} if own.is_dir() else set()
    for name in sorted((names | set(LINKED_FILES)) - {"settings.json"}):
        (inner / name).symlink_to(own / name)
    return inner


def _own_home(own: Path, home: AgentHome) -> Path:
    """The `.gemini` of a home of the agent's own (a container's), given the user's settings and
    login (in `own`) the first time."""
    inner = home.host / ".gemini"
    first = not (inner / "settings.json").exists()
    inner.mkdir(mode=0o700, parents=True, exist_ok=True)
    inner.chmod(0o700)
    if first:
        _write_owner_only(inner / "settings.json", json.dumps(_read_object(own / "settings.json"), indent=2))
        for name in SEED_FILES:
            if (own / name).is_file():
                shutil.copy2(own / name, inner / name)
    return inner


def _update_settings(inner: Path, change: Callable[[dict[str, object]], dict[str, object]]) -> None:
    """Rewrite `inner`/settings.json (owner-only) as `change` makes it."""
    path = inner / "settings.json"
    _write_owner_only(path, json.dumps(change(_read_object(path)), indent=2))


def _without_our_hooks(settings: dict[str, object]) -> dict[str, object]:
    """`settings` without trails' hooks (GeminiHooks.NAME), which an earlier launch left in a home kept."""
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return settings

    def ours(definition: object) -> bool:
        inner = definition.get("hooks") if isinstance(definition, dict) else None
        return isinstance(inner, list) and bool(inner) and all(
            isinstance(h, dict) and h.get("name") == GeminiHooks.NAME for h in inner)

    kept = {event: [d for d in defs if not ours(d)] if isinstance(defs, list) else defs
            for event, defs in hooks.items()}
    return {**settings, "hooks": {event: defs for event, defs in kept.items() if defs != []}}


def _with_server(settings: dict[str, object], server: McpServer) -> dict[str, object]:
    """`settings` (Gemini's settings.json) with trails' server among its MCP servers."""
    servers = settings.get("mcpServers")
    servers = dict(servers) if isinstance(servers, dict) else {}
    server_env = {k: v for k, v in server.env.items() if k != "PYTHONPATH"}  # Gemini refuses to pass it
    servers[server.NAME] = {"command": server.command[0], "args": list(server.command[1:]),
                            "env": {**server_env, server.credential_env: server.credential}, "trust": True}
    return {**settings, "mcpServers": servers}


def _read_object(path: Path) -> dict[str, object]:
    """A JSON object file's content (missing, unreadable or not an object: empty)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_owner_only(path: Path, text: str) -> None:
    """Write `path` as a new owner-only file (in place of any older one), never readable by others."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    tmp.replace(path)


PROFILE = AgentProfile(
    name="gemini",
    default_command=("gemini",),
    executables=("gemini",),
    prompt_flag="--prompt-interactive",  # runs the prompt, then stays interactive
    resume_flag="--resume",
    headless=GeminiHeadless(),
    hooks=GeminiHooks(),
    mcp=GeminiMcp(),
)
