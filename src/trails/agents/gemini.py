"""Google Gemini CLI (`gemini`)."""

from __future__ import annotations

from trails.agents.base import AgentProfile
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

PROFILE = AgentProfile(
    name="gemini",
    default_command=("gemini",),
    executables=("gemini",),
    prompt_flag="--prompt-interactive",  # runs the prompt, then stays interactive
    resume_flag="--resume",
    headless=GeminiHeadless(),
)
