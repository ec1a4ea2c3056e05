"""OpenAI Codex CLI (`codex`)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from trails.agents.base import AgentHooks, AgentMcp, AgentProfile, HookReport, McpServer
from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest, Invocation
from trails.core.models import Status


class CodexHeadless(HeadlessAdapter):
    """`codex exec --json PROMPT`; `codex exec resume ID` continues, `codex exec fork ID` branches."""

    name = "codex"
    can_resume = True
    can_fork = True
    raw_suffix = "jsonl"

    def invocation(self, base: list[str], req: HeadlessRequest) -> Invocation:
        argv = [*base, "exec"]
        if req.resume_id:
            argv += ["fork" if req.fork else "resume", req.resume_id]
        argv += ["--json", "--skip-git-repo-check"]
        if req.model:
            argv += ["--model", req.model]
        if req.permission_mode:  # codex's word for it is the sandbox policy
            argv += ["--sandbox", req.permission_mode]
        return Invocation([*argv, req.prompt])

    def parse(self, stdout: str, stderr: str, returncode: int) -> HeadlessOutcome:
        events = []
        for line in stdout.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
        thread = next((e.get("thread_id") for e in events if e.get("type") == "thread.started"), None)
        texts = [e["item"].get("text") for e in events
                 if e.get("type") == "item.completed" and isinstance(e.get("item"), dict)
                 and e["item"].get("type") == "agent_message"]
        turns = sum(1 for e in events if e.get("type") == "turn.completed")
        failed = [e for e in events if e.get("type") in ("turn.failed", "error")]
        ok = returncode == 0 and not failed
        error = None if ok else (json.dumps(failed[-1]) if failed else f"codex exited with status {returncode}")
        return HeadlessOutcome(ok=ok, conversation_id=thread, result_text=texts[-1] if texts else None,
                               turns=turns or None, error=error, raw=events)

class CodexHooks(AgentHooks):
    """Codex's `notify` program (`-c notify=[…]` for this process only; ~/.codex/config.toml is never
    written): run with a JSON argument when a turn completes. Only that: its screen tells the rest."""

    complete = False

    def wire(self, argv: list[str], reporter: list[str]) -> list[str]:
        if any(a.startswith("notify=") for a in argv[1:]):
            return argv  # the user's own notify program: Codex runs one
        return [argv[0], "-c", f"notify={json.dumps(reporter)}", *argv[1:]]

    def interpret(self, event: str, tool: str | None, tool_input: Mapping[str, object] | None,
                  detail: Mapping[str, str]) -> HookReport | None:
        if event == "agent-turn-complete":
            return HookReport(Status.READY, "turn finished")
        return None


class CodexMcp(AgentMcp):
    """`-c mcp_servers.trails.…` overrides (this process only; ~/.codex/config.toml is never written).
    Codex gives a stdio server only a few variables of its environment: `env_vars` names the
    credential's, so it reaches `trails mcp` from the environment and never appears in argv.
    `default_tools_approval_mode="approve"`: the trails tools run without asking. (Codex offers MCP
    tools to its model through its `tool_search`, once the server has listed them.)"""

    def wire(self, argv: list[str], server: McpServer, env: dict[str, str]) -> list[str]:
        key = f"mcp_servers.{server.NAME}"
        if any(a.startswith(f"{key}.") for a in argv[1:]):
            return argv  # the user's own server of that name: theirs stands
        table = ",".join(f"{name}={json.dumps(value)}" for name, value in server.env.items())
        overrides = [
            f"{key}.command={json.dumps(server.command[0])}",
            f"{key}.args={json.dumps(list(server.command[1:]))}",
            f"{key}.env={{{table}}}",
            f"{key}.env_vars={json.dumps([server.credential_env])}",
            f'{key}.default_tools_approval_mode="approve"',
        ]
        return [argv[0], *(arg for override in overrides for arg in ("-c", override)), *argv[1:]]


PROFILE = AgentProfile(
    name="codex",
    default_command=("codex",),
    executables=("codex",),
    prompt_as_argument=True,
    headless=CodexHeadless(),
    hooks=CodexHooks(),
    mcp=CodexMcp(),
)
