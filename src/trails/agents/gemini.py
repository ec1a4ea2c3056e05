"""Google Gemini CLI (`gemini`)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from trails.agents.base import AgentHome, AgentMcp, AgentProfile, McpServer
from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest, Invocation, parse_json_object


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
    trails tools run without asking."""

    HOME_ENV = "GEMINI_CLI_HOME"
    # Files Gemini may create in its home while it runs: linked even before they exist, so that what
    # it writes (a first login) lands in the user's own ~/.gemini.
    LINKED_FILES = ("oauth_creds.json", "google_accounts.json", "installation_id", "trustedFolders.json",
                    "projects.json", "GEMINI.md")
    # What a container's home gets of the user's ~/.gemini besides the settings: their login and
    # memory (trusted folders and projects name host paths, meaningless inside).
    SEED_FILES = ("oauth_creds.json", "google_accounts.json", "installation_id", "GEMINI.md")

    def wire(self, argv: list[str], server: McpServer, env: dict[str, str]) -> list[str]:
        own = Path(env.get(self.HOME_ENV) or env.get("HOME") or Path.home()) / ".gemini"
        if server.agent_home is not None:
            self._wire_own_home(own, server, server.agent_home)
            env[self.HOME_ENV] = server.agent_home.inside  # not a host path the user's may name
            return argv
        home = server.private_dir / "gemini-home"
        shutil.rmtree(home, ignore_errors=True)  # the last launch's (its credential is dead)
        inner = home / ".gemini"
        inner.mkdir(mode=0o700, parents=True)
        home.chmod(0o700)
        _write_owner_only(inner / "settings.json", _with_server(_read_object(own / "settings.json"), server))
        names = {p.name for p in own.iterdir()} if own.is_dir() else set()
        for name in sorted((names | set(self.LINKED_FILES)) - {"settings.json"}):
            (inner / name).symlink_to(own / name)
        env[self.HOME_ENV] = str(home)
        return argv

    def _wire_own_home(self, own: Path, server: McpServer, home: AgentHome) -> None:
        """Trails' server in the settings of a home of the agent's own (a container's), and the
        user's login copied in the first time."""
        inner = home.host / ".gemini"
        first = not (inner / "settings.json").exists()
        inner.mkdir(mode=0o700, parents=True, exist_ok=True)
        inner.chmod(0o700)
        settings = _read_object((own if first else inner) / "settings.json")
        _write_owner_only(inner / "settings.json", _with_server(settings, server))
        for name in self.SEED_FILES if first else ():
            if (own / name).is_file():
                shutil.copy2(own / name, inner / name)


def _with_server(settings: dict[str, object], server: McpServer) -> str:
    """`settings` (Gemini's settings.json) with trails' server among its MCP servers, as JSON."""
    servers = settings.get("mcpServers")
    servers = dict(servers) if isinstance(servers, dict) else {}
    server_env = {k: v for k, v in server.env.items() if k != "PYTHONPATH"}  # Gemini refuses to pass it
    servers[server.NAME] = {"command": server.command[0], "args": list(server.command[1:]),
                            "env": {**server_env, server.credential_env: server.credential}, "trust": True}
    return json.dumps({**settings, "mcpServers": servers}, indent=2)


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
    mcp=GeminiMcp(),
)
