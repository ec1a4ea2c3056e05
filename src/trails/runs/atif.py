"""trajectory.json: a session in ATIF (the Agent Trajectory Interchange Format AgentLens writes, v1.6).

Built from Claude Code's transcript (one JSON object a line: user and assistant messages, an
assistant message split into one line per content block); for an agent without a transcript,
from the prompt and the agent's answer. Tool results go into the observation of the agent step
that made the call, as ATIF pairs them.

A subagent Claude Code ran (the `Agent` tool) has a transcript of its own beside the parent's
(`<session>/subagents/agent-<id>.jsonl`, with a `.meta.json` naming the tool call that started
it): it becomes `subagent_agent-<id>.json` next to trajectory.json, and the observation of that
tool call in trajectory.json refers to it (`subagent_trajectory_ref`, the file-ref form), as
AgentLens links a subagent's trajectory to its parent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trails.agents.headless import HeadlessOutcome
    from trails.runs.session import SessionJob

SCHEMA_VERSION = "ATIF-v1.6"


def write_trajectories(sdir: Path, *, job: SessionJob, outcome: HeadlessOutcome, transcript: Path | None) -> None:
    entries = _read_jsonl(transcript) if transcript is not None else []
    agent = {"name": "claude-code" if job.adapter.name == "claude" else (job.agent_name or job.adapter.name),
             "version": _version(entries), "model_name": job.model or _first_model(entries)}
    steps = _steps([e for e in entries if not e.get("isSidechain")]) if entries else []
    if steps and job.resumed_from:
        _mark_copied(steps, job.prompt)
    if not steps:  # no transcript to read: the prompt and the answer
        steps = [{"step_id": 1, "source": "user", "message": job.prompt},
                 {"step_id": 2, "source": "agent", "message": outcome.result_text or ""}]
    refs = []
    if job.capture_subagents and (sdir / "subagents").is_dir():
        for path in sorted((sdir / "subagents").glob("*.jsonl")):
            sub_entries = _read_jsonl(path)
            sub_steps = _steps(sub_entries)
            if not sub_steps:
                continue
            meta = _read_json(path.with_suffix(".meta.json"))
            name = f"subagent_{path.stem}.json"
            info = {k: v for k, v in (("agent_type", meta.get("agentType")), ("description", meta.get("description")),
                                       ("tool_call_id", meta.get("toolUseId"))) if v}
            sub_agent = {**agent, "model_name": meta.get("model") or _first_model(sub_entries) or agent["model_name"]}
            sub = _trajectory(sub_agent, sub_steps, path.stem, None,
                              extra={"parent_session_id": outcome.conversation_id, **info})
            (sdir / name).write_text(json.dumps(sub, indent=2) + "\n")
            ref = {"session_id": path.stem, "trajectory_path": name, **({"extra": info} if info else {})}
            refs.append(ref)
            if meta.get("toolUseId"):
                _link_subagent(steps, str(meta["toolUseId"]), ref)
    trajectory = _trajectory(agent, steps, outcome.conversation_id, outcome.cost_usd,
                             extra={"trails_session": job.label, **({"subagent_trajectories": refs} if refs else {})})
    (sdir / "trajectory.json").write_text(json.dumps(trajectory, indent=2) + "\n")


def _trajectory(agent: dict[str, Any], steps: list[dict[str, Any]], session_id: str | None, cost: float | None,
                *, extra: dict[str, Any]) -> dict[str, Any]:
    totals = {"total_prompt_tokens": 0, "total_completion_tokens": 0, "total_cached_tokens": 0}
    for step in steps:
        metrics = step.get("metrics") or {}
        totals["total_prompt_tokens"] += metrics.get("prompt_tokens") or 0
        totals["total_completion_tokens"] += metrics.get("completion_tokens") or 0
        totals["total_cached_tokens"] += metrics.get("cached_tokens") or 0
    final: dict[str, Any] = {**totals, "total_steps": len(steps)}
    if cost is not None:
        final["total_cost_usd"] = cost
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "agent": {k: v for k, v in agent.items() if v},
                           "steps": steps, "final_metrics": final, "extra": extra}
    if session_id:
        out["session_id"] = session_id
    return out


def _steps(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    by_call: dict[str, dict[str, Any]] = {}  # tool_use id -> the agent step that made the call
    current: dict[str, Any] | None = None  # the agent step the latest assistant lines belong to
    current_id: str | None = None
    for entry in entries:
        kind = entry.get("type")
        message = entry.get("message") or {}
        if kind == "assistant" and isinstance(message, dict):
            msg_id = message.get("id") or entry.get("uuid")
            if current is None or msg_id != current_id:
                current = {"step_id": 0, "source": "agent", "message": ""}
                if entry.get("timestamp"):
                    current["timestamp"] = entry["timestamp"]
                if message.get("model"):
                    current["model_name"] = message["model"]
                steps.append(current)
                current_id = msg_id
            _add_assistant_blocks(current, message, by_call)
            continue
        if kind != "user" or entry.get("isMeta") or not isinstance(message, dict):
            continue
        current, current_id = None, None
        content = message.get("content")
        texts: list[str] = []
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_result":
                    _add_observation(by_call, block)
                elif block.get("type") == "text" and block.get("text"):
                    texts.append(str(block["text"]))
        if texts:
            step: dict[str, Any] = {"step_id": 0, "source": "user", "message": "\n".join(texts)}
            if entry.get("timestamp"):
                step["timestamp"] = entry["timestamp"]
            steps.append(step)
    for i, step in enumerate(steps, start=1):
        step["step_id"] = i
    return steps


def _add_assistant_blocks(step: dict[str, Any], message: dict[str, Any], by_call: dict[str, dict[str, Any]]) -> None:
    for block in message.get("content") or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            step["message"] = (step["message"] + "\n" if step["message"] else "") + str(block["text"])
        elif kind == "thinking" and block.get("thinking"):
            step["reasoning_content"] = (step.get("reasoning_content", "") + str(block["thinking"]))
        elif kind == "tool_use":
            call_id = str(block.get("id"))
            call: dict[str, Any] = {"tool_call_id": call_id, "function_name": str(block.get("name")),
                    "arguments": block.get("input") if isinstance(block.get("input"), dict) else {}}
            step.setdefault("tool_calls", []).append(call)
            by_call[call_id] = step
    usage = message.get("usage")
    if isinstance(usage, dict):
        cached = int(usage.get("cache_read_input_tokens") or 0)
        prompt = int(usage.get("input_tokens") or 0) + cached + int(usage.get("cache_creation_input_tokens") or 0)
        # One message's lines repeat its usage: keep the last, which is the final count.
        step["metrics"] = {"prompt_tokens": prompt, "completion_tokens": int(usage.get("output_tokens") or 0),
                           "cached_tokens": cached}


def _add_observation(by_call: dict[str, dict[str, Any]], block: dict[str, Any]) -> None:
    call_id = str(block.get("tool_use_id"))
    step = by_call.get(call_id)
    if step is None:
        return
    content = block.get("content")
    if isinstance(content, list):
        content = "\n".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    result: dict[str, Any] = {"source_call_id": call_id, "content": "" if content is None else str(content)}
    if block.get("is_error"):
        result["extra"] = {"is_error": True}
    step.setdefault("observation", {"results": []})["results"].append(result)


def _link_subagent(steps: list[dict[str, Any]], call_id: str, ref: dict[str, Any]) -> None:
    """Refer to a subagent's trajectory from the observation of the tool call that started it."""
    for step in steps:
        if any(c["tool_call_id"] == call_id for c in step.get("tool_calls") or []):
            results = step.setdefault("observation", {"results": []})["results"]
            result = next((r for r in results if r.get("source_call_id") == call_id), None)
            if result is None:
                result = {"source_call_id": call_id}
                results.append(result)
            result.setdefault("subagent_trajectory_ref", []).append(
                {k: v for k, v in ref.items() if k in ("session_id", "trajectory_path", "extra")})
            return


def _mark_copied(steps: list[dict[str, Any]], prompt: str) -> None:
    """A resumed or forked conversation starts with the history it continues: mark it as copied context."""
    starts = [i for i, s in enumerate(steps) if s["source"] == "user" and s["message"].strip() == prompt.strip()]
    if starts:
        for step in steps[:starts[-1]]:
            step["is_copied_context"] = True


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _version(entries: list[dict[str, Any]]) -> str:
    return next((str(e["version"]) for e in entries if e.get("version")), "unknown")


def _first_model(entries: list[dict[str, Any]]) -> str | None:
    for e in entries:
        message = e.get("message")
        if e.get("type") == "assistant" and isinstance(message, dict) and message.get("model"):
            return str(message["model"])
    return None
