"""Claude Code (`claude`)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path

from trails.agents.base import AgentHooks, AgentMcp, AgentProfile, AgentState, HookReport, McpServer, PermissionAsk
from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest, Invocation, parse_json_object
from trails.core.models import Status


class ClaudeHeadless(HeadlessAdapter):
    """`claude -p PROMPT --output-format json`; `--resume ID` continues, `--fork-session` branches."""

    name = "claude"
    can_resume = True
    can_fork = True
    raw_suffix = "json"

    def invocation(self, base: list[str], req: HeadlessRequest) -> Invocation:
        argv = [*base, "-p", req.prompt, "--output-format", "json"]
        if req.resume_id:
            argv += ["--resume", req.resume_id, *(["--fork-session"] if req.fork else [])]
        if req.model:
            argv += ["--model", req.model]
        if req.max_turns:
            argv += ["--max-turns", str(req.max_turns)]
        if req.permission_mode:
            argv += ["--permission-mode", req.permission_mode]
        return Invocation(argv)

    def parse(self, stdout: str, stderr: str, returncode: int) -> HeadlessOutcome:
        data = parse_json_object(stdout)
        if data is None:
            return super().parse(stdout, stderr, returncode)
        is_error = bool(data.get("is_error")) or returncode != 0
        cost = data.get("total_cost_usd")
        return HeadlessOutcome(
            ok=not is_error, conversation_id=data.get("session_id"), result_text=data.get("result"),
            turns=data.get("num_turns"), cost_usd=float(cost) if isinstance(cost, int | float) else None,
            error=str(data.get("result") or data.get("subtype") or "error") if is_error else None, raw=data,
        )

    def transcript(self, outcome: HeadlessOutcome, env: dict[str, str], cwd: Path) -> Path | None:
        if not outcome.conversation_id:
            return None
        config = Path(env["CLAUDE_CONFIG_DIR"]) if env.get("CLAUDE_CONFIG_DIR") else Path.home() / ".claude"
        return next((config / "projects").glob(f"*/{outcome.conversation_id}.jsonl"), None)


def project_dir_name(cwd: str) -> str:
    """Claude keeps a folder's conversations under projects/<its path, every other character a dash>."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


class ClaudeState(AgentState):
    """Claude Code's state: $CLAUDE_CONFIG_DIR (default ~/.claude, with ~/.claude.json beside it)."""

    SEED_FILES = (".credentials.json", "settings.json")

    def host_dir(self, env: Mapping[str, str]) -> Path | None:
        configured = env.get("CLAUDE_CONFIG_DIR")
        return Path(configured) if configured else Path(env.get("HOME") or Path.home()) / ".claude"

    def container_dir(self, home: Path) -> Path | None:
        return home / ".claude"

    def container_env(self, inner_home: str) -> dict[str, str]:
        return {"CLAUDE_CONFIG_DIR": f"{inner_home}/.claude"}

    def seed_container_home(self, env: Mapping[str, str], home: Path, inner_home: str) -> dict[str, str]:
        src = self.host_dir(env)
        dst = home / ".claude"
        dst.mkdir(mode=0o700, exist_ok=True)
        if src is not None:
            # Onboarding done, the API key approved, the theme: without it a login screen appears.
            state = src / ".claude.json" if env.get("CLAUDE_CONFIG_DIR") else src.parent / ".claude.json"
            for path, name in ((state, ".claude.json"), *((src / f, f) for f in self.SEED_FILES)):
                if path.is_file():
                    shutil.copy2(path, dst / name)
        return self.container_env(inner_home)

    def current_conversation(self, state_dir: Path, cwd: str, *, since: float, known: str | None) -> str | None:
        """The newest transcript of `cwd`'s project written since `since` (a resume may continue
        under a new id); `known` while it is the only one, or when there is none."""
        candidates = []
        for path in (state_dir / "projects" / project_dir_name(cwd)).glob("*.jsonl"):
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            if mtime >= since:
                candidates.append((mtime, path.stem))
        stems = {stem for _, stem in candidates}
        if known in stems and len(stems) == 1:
            return known
        return max(candidates)[1] if candidates else known

    def has_conversation(self, state_dir: Path, conversation_id: str) -> bool:
        return next((state_dir / "projects").glob(f"*/{conversation_id}.jsonl"), None) is not None

    def carry_conversation(self, conversation_id: str, src_dir: Path, dst_dir: Path, dst_cwd: str) -> bool:
        target = dst_dir / "projects" / project_dir_name(dst_cwd)
        if (target / f"{conversation_id}.jsonl").exists():
            return False
        found = sorted((src_dir / "projects").glob(f"*/{conversation_id}.jsonl"), key=lambda p: p.stat().st_mtime)
        if not found:
            return False
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(found[-1], target / found[-1].name)
        return True


class ClaudeHooks(AgentHooks):
    """Claude Code's hooks, in a `--settings` JSON given on its command line: settings of that one
    process, merged over the user's own (whose ~/.claude/settings.json trails never writes). The
    reporter prints nothing, so no hook ever decides anything for Claude: it only tells trails."""

    EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure",
              "PermissionRequest", "PermissionDenied", "Notification", "Stop", "StopFailure", "SessionEnd")
    TIMEOUT_SECONDS = 5  # Claude's own limit per hook; the reporter gives up after one

    def wire(self, argv: list[str], reporter: list[str]) -> list[str]:
        if "--settings" in argv[1:]:
            return argv  # the user's own --settings: one is all Claude takes; its screen tells then
        hook = {"type": "command", "command": shlex.join(reporter), "timeout": self.TIMEOUT_SECONDS}
        settings = {"hooks": {event: [{"matcher": "*", "hooks": [hook]}] for event in self.EVENTS}}
        return [argv[0], "--settings", json.dumps(settings, separators=(",", ":")), *argv[1:]]

    def interpret(self, event: str, tool: str | None, tool_input: Mapping[str, object] | None,
                  detail: Mapping[str, str]) -> HookReport | None:
        if event == "SessionStart":
            return HookReport(Status.READY, f"session started ({detail.get('source') or 'startup'})", settled=True)
        if event == "UserPromptSubmit":
            return HookReport(Status.RUNNING, "prompt submitted", settled=True)
        if event == "PreToolUse":
            return HookReport(Status.RUNNING, f"using {tool or 'a tool'}", settled=True)
        if event in ("PostToolUse", "PostToolUseFailure", "PermissionDenied"):
            outcome = "done" if event == "PostToolUse" else "did not run"
            return HookReport(Status.RUNNING, f"{tool or 'a tool'} {outcome}", settled=True)
        if event == "PermissionRequest":
            ask = permission_ask(tool or "?", tool_input or {})
            return HookReport(Status.WAITING, f"asks to {ask.kind}: {_short(ask.text)}", ask=ask)
        if event == "Notification":
            kind = detail.get("notification_type") or ""
            if kind == "idle_prompt":
                return HookReport(Status.READY, "waiting for your input")
            if kind == "permission_prompt":
                return HookReport(Status.WAITING, detail.get("message") or "asks for permission")
            return None
        if event in ("Stop", "StopFailure"):
            why = "turn finished" if event == "Stop" else f"turn failed: {detail.get('error') or 'API error'}"
            return HookReport(Status.READY, why, settled=True)
        if event == "SessionEnd":
            return HookReport(None, f"session ended ({detail.get('reason') or 'exit'})", settled=True, ended=True)
        return None


class ClaudeMcp(AgentMcp):
    """`--mcp-config` with the server inline (JSON: nothing secret in it; Claude starts stdio servers
    in its own environment, which holds the credential) and `--allowedTools mcp__trails`, the rule
    that allows every tool of that server, so they need no permission prompt. Both in their `=`
    form: they take several values, and a following prompt must not be taken for one."""

    def wire(self, argv: list[str], server: McpServer, env: dict[str, str]) -> list[str]:
        entry = {"type": "stdio", "command": server.command[0], "args": list(server.command[1:]),
                 "env": dict(server.env)}
        config = json.dumps({"mcpServers": {server.NAME: entry}}, separators=(",", ":"))
        # A user's own --mcp-config and --allowedTools stay: Claude adds ours to them, and a deny rule
        # of theirs (--disallowedTools mcp__trails) still wins over this allow.
        return [argv[0], f"--mcp-config={config}", f"--allowedTools=mcp__{server.NAME}", *argv[1:]]


def permission_ask(tool: str, tool_input: Mapping[str, object]) -> PermissionAsk:
    """A tool call Claude asks permission for, as the guards judge it: Bash runs its command, Write
    creates and Edit changes its file; any other tool is judged by its name and input as text."""
    def text_of(key: str) -> str | None:
        value = tool_input.get(key)
        return value if isinstance(value, str) else None

    if tool == "Bash":
        command = text_of("command")
        return PermissionAsk("command", command or "", command=command)
    if tool == "Write":
        return PermissionAsk("write", f"Write {text_of('file_path')}", target=text_of("file_path"))
    if tool in ("Edit", "MultiEdit", "NotebookEdit"):
        target = text_of("file_path") or text_of("notebook_path")
        return PermissionAsk("edit", f"{tool} {target}", target=target)
    return PermissionAsk(tool, f"{tool} {json.dumps(dict(tool_input), default=str)[:4000]}")


def _short(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


PROFILE = AgentProfile(
    name="claude",
    default_command=("claude",),
    executables=("claude", "claude-code"),
    prompt_as_argument=True,  # `claude "PROMPT"` starts interactive with that first message
    resume_flag="--resume",
    continue_flag="--continue",
    session_id_flag="--session-id",
    resume_aliases=("-r",),
    continue_aliases=("-c",),
    headless=ClaudeHeadless(),
    state=ClaudeState(),
    hooks=ClaudeHooks(),
    mcp=ClaudeMcp(),
)
