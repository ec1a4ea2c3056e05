"""Claude Code (`claude`)."""

from __future__ import annotations

from pathlib import Path

from trails.agents.base import AgentProfile
from trails.agents.headless import HeadlessAdapter, HeadlessOutcome, HeadlessRequest, Invocation, parse_json_object


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


PROFILE = AgentProfile(
    name="claude",
    default_command=("claude",),
    executables=("claude", "claude-code"),
    prompt_as_argument=True,  # `claude "PROMPT"` starts interactive with that first message
    resume_flag="--resume",
    continue_flag="--continue",
    session_id_flag="--session-id",
    headless=ClaudeHeadless(),
)
