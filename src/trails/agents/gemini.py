"""Google Gemini CLI (`gemini`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from trails.agents.base import AgentMcp, AgentProfile, McpServer
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
    """A settings file of the launch's own, named by GEMINI_CLI_SYSTEM_DEFAULTS_PATH: Gemini's
    lowest-precedence settings, so the user's and the workspace's own still apply over it (their
    `mcpServers` are merged with it, not replaced). The file copies the defaults it stands in for.

    Gemini hands a stdio server neither variables whose names say TOKEN nor PYTHONPATH, and expands
    `$VAR` in its `env` only from what is left: the credential is written into this file, which is
    owner-only, under the home, and this launch's alone. `trust`: its tools run without asking."""

    DEFAULTS_ENV = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH"
    DEFAULTS_PATH = Path("/etc/gemini-cli/system-defaults.json")
    FILE = "gemini-settings.json"

    def wire(self, argv: list[str], server: McpServer, env: dict[str, str]) -> list[str]:
        settings = self._defaults(env, server)
        servers = settings.get("mcpServers")
        servers = dict(servers) if isinstance(servers, dict) else {}
        server_env = {k: v for k, v in server.env.items() if k != "PYTHONPATH"}
        servers[server.NAME] = {"command": server.command[0], "args": list(server.command[1:]),
                                "env": {**server_env, server.credential_env: server.credential}, "trust": True}
        settings["mcpServers"] = servers
        path = server.private_dir / self.FILE
        _write_owner_only(path, json.dumps(settings, indent=2))
        env[self.DEFAULTS_ENV] = str(path)
        return argv

    def _defaults(self, env: dict[str, str], server: McpServer) -> dict[str, object]:
        """The system defaults this launch would have read (an unreadable or odd file: none; one
        trails wrote, for a session this one was started from: none)."""
        path = Path(env[self.DEFAULTS_ENV]) if env.get(self.DEFAULTS_ENV) else self.DEFAULTS_PATH
        if path.parent.parent == server.private_dir.parent:
            return {}
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
