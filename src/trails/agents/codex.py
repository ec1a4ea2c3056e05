"""OpenAI Codex CLI (`codex`)."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping

from trails.agents.base import AgentHooks, AgentMcp, AgentProfile, HookReport, McpServer, PermissionAsk
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
    """Codex's own hooks (its `hooks` feature, on by default), given in one `-c hooks={…}` override:
    the session-flags layer of this one process, so ~/.codex and the repository's .codex are never
    written. Codex runs a hook that is not managed only once its hash is trusted, so the override also
    carries the trust of each of ours (`hooks.state`, keyed and hashed as Codex does); the user's and
    the repository's own hooks keep needing their own trust (no --dangerously-bypass-hook-trust).
    The reporter prints nothing, so no hook ever decides anything for Codex: it only tells trails.
    Codex's TUI runs SessionStart only with the first turn, so before the first prompt its screen tells
    (ready at its prompt); from there on its hooks tell every change."""

    silent_until_prompt = True

    EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse", "Stop",
              "SessionEnd")
    # Codex clamps SessionEnd's to 3 s and hashes the clamped value: one limit for all keeps the hashes
    # simple. The reporter gives up after one.
    TIMEOUT_SECONDS = 3
    KEY_SOURCE = "/<session-flags>/config.toml"  # what Codex names the source of `-c` hooks in their keys

    def wire(self, argv: list[str], reporter: list[str]) -> list[str]:
        if any(a == "hooks" or a.startswith(("hooks.", "hooks=")) for a in argv[1:]):
            return argv  # the user's own hooks on the command line: theirs stand; its screen tells
        return [argv[0], "-c", self.override(shlex.join(reporter)), *argv[1:]]

    def override(self, command: str) -> str:
        """`hooks={…}` (TOML): each event runs `command`, and is trusted."""
        handler = f"{{type=\"command\",command={_toml_str(command)},timeout={self.TIMEOUT_SECONDS}}}"
        events = ",".join(f"{event}=[{{hooks=[{handler}]}}]" for event in self.EVENTS)
        state = ",".join(f"{_toml_str(self.key(event))}={{trusted_hash={_toml_str(self.trusted_hash(event, command))}}}"
                         for event in self.EVENTS)
        return f"hooks={{{events},state={{{state}}}}}"

    def key(self, event: str) -> str:
        """Codex's key for the one handler of `event` here: source, event, group and handler index."""
        return f"{self.KEY_SOURCE}:{_snake(event)}:0:0"

    def trusted_hash(self, event: str, command: str) -> str:
        """Codex's hash of a hook (its `version_for_toml` of the normalized handler, no matcher):
        SHA-256 of the compact JSON with sorted keys."""
        identity = {"event_name": _snake(event), "hooks": [
            {"type": "command", "command": command, "timeout": self.TIMEOUT_SECONDS, "async": False}]}
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def interpret(self, event: str, tool: str | None, tool_input: Mapping[str, object] | None,
                  detail: Mapping[str, str]) -> HookReport | None:
        if event == "SessionStart":  # comes with the first prompt, whose UserPromptSubmit follows: no change
            return HookReport(None, f"session started ({detail.get('source') or 'startup'})", settled=True)
        if event == "UserPromptSubmit":
            return HookReport(Status.RUNNING, "prompt submitted", settled=True)
        if event == "PreToolUse":
            return HookReport(Status.RUNNING, f"using {tool or 'a tool'}", settled=True)
        if event == "PostToolUse":
            return HookReport(Status.RUNNING, f"{tool or 'a tool'} done", settled=True)
        if event == "PermissionRequest":
            ask = permission_ask(tool or "?", tool_input or {})
            return HookReport(Status.WAITING, f"asks to {ask.kind}: {_short(ask.text)}", ask=ask)
        if event == "Stop":
            return HookReport(Status.READY, "turn finished", settled=True)
        if event == "SessionEnd":
            return HookReport(None, f"session ended ({detail.get('reason') or 'exit'})", settled=True, ended=True)
        return None


def permission_ask(tool: str, tool_input: Mapping[str, object]) -> PermissionAsk:
    """A tool call Codex asks permission for, as the guards judge it: Bash (what Codex calls its shell
    and exec tools there) runs its command; apply_patch changes the files its patch names."""
    command = tool_input.get("command")
    if isinstance(command, list):
        command = shlex.join(str(part) for part in command)
    if tool == "Bash" and isinstance(command, str):
        return PermissionAsk("command", command, command=command)
    if tool == "apply_patch" and isinstance(command, str):
        files = re.findall(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", command, re.MULTILINE)
        target = files[0].strip() if len(files) == 1 else None
        return PermissionAsk("edit", f"apply_patch {', '.join(files) or '?'}", target=target)
    return PermissionAsk(tool, f"{tool} {json.dumps(dict(tool_input), default=str)[:4000]}")


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string (no surrogates)


def _snake(event: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


def _short(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


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
