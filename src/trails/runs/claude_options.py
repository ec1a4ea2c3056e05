"""AgentLens's run options as Claude Code flags and environment (checked against the pinned CLI's --help)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from trails.core.errors import RunError

# Where each provider's Messages API lives when the run file gives no base_url.
PROVIDER_URLS = {"anthropic": "https://api.anthropic.com", "openrouter": "https://openrouter.ai/api"}


def claude_args(*, allowed_tools: list[str] | None, agents: list[Any] | None, max_budget_usd: float | None,
                load_project_settings: bool | None) -> list[str]:
    """Flags for the options that do not depend on where the session runs."""
    args: list[str] = []
    tools = list(allowed_tools or [])
    if agents and tools and "Agent" not in tools:
        tools.append("Agent")  # AgentLens adds the tool that delegates to a subagent
    if tools:
        args += ["--allowedTools", ",".join(tools)]
    if agents:
        spec = {}
        for a in agents:
            entry: dict[str, Any] = {"description": a.description, "prompt": a.prompt}
            if a.tools is not None:
                entry["tools"] = a.tools
            if a.model is not None:
                entry["model"] = a.model
            spec[a.name] = entry
        args += ["--agents", json.dumps(spec)]
    if max_budget_usd is not None:
        args += ["--max-budget-usd", f"{max_budget_usd:g}"]
    if load_project_settings is not None:
        # AgentLens loads the repo's CLAUDE.md and .claude/settings.json only when asked; the user's own
        # settings (an apiKeyHelper, say) still apply.
        args += ["--setting-sources", "user,project" if load_project_settings else "user"]
    return args


def work_dir_hint(cwd: Path, memory_file: str | None) -> str:
    """AgentLens's note appended to the system prompt: where the agent works and keeps notes."""
    memory = f"Use {cwd / memory_file} to keep notes across sessions.\n" if memory_file else ""
    return (f"\n\nYour working directory is {cwd}\n{memory}"
            "IMPORTANT: Always use absolute paths when reading or writing files.")


def system_prompt_args(system_prompt: str | None, *, hint: str | None) -> list[str]:
    """`--system-prompt` as the Claude Agent SDK passes a string system prompt (it replaces the default)."""
    if system_prompt is None and hint is None:
        return []
    text = (system_prompt or "").rstrip() + (hint or "") if system_prompt else (hint or "").lstrip()
    # The CLI records a conversation's first system prompt and replays it on resume; a per-session
    # prompt (and the hint naming this session's own directory) must be sent as given.
    return ["--system-prompt", text, "--system-prompt-snapshot", "off"]


def provider_env(provider: str | None, base_url: str | None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Claude Code needs for a provider (AgentLens's build_provider_env, Claude Code's variables)."""
    environ = dict(os.environ) if environ is None else environ
    env: dict[str, str] = {"CLAUDECODE": ""}  # a run started from inside Claude Code may launch it again
    if provider == "openrouter":
        key = environ.get("OPENROUTER_API_KEY")
        if not key:
            raise RunError("provider openrouter needs OPENROUTER_API_KEY in the environment")
        env.update(ANTHROPIC_BASE_URL=base_url or PROVIDER_URLS["openrouter"], ANTHROPIC_AUTH_TOKEN=key,
                   ANTHROPIC_API_KEY="")
    elif provider == "bedrock":
        env["CLAUDE_CODE_USE_BEDROCK"] = "1"
        if base_url:
            env["ANTHROPIC_BEDROCK_BASE_URL"] = base_url
    elif provider == "vertex":
        env["CLAUDE_CODE_USE_VERTEX"] = "1"
        if base_url:
            env["ANTHROPIC_VERTEX_BASE_URL"] = base_url
    elif base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    return env


def upstream_url(env: dict[str, str]) -> str:
    """Where the capture proxy forwards to: the base URL the agent would have used."""
    return env.get("ANTHROPIC_BASE_URL") or PROVIDER_URLS["anthropic"]
