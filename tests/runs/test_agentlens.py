"""AgentLens run files as they are: its keys with their documented meaning, trajectory.json in ATIF."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import Reply, ScriptedAnthropicServer, last_user_text, tool_results
from tests.fakes.atif import Trajectory
from tests.helpers import trails
from tests.runs.conftest import fake_agent_command
from tests.runs.test_claude_runs import claude, server  # noqa: F401  (fixtures)
from trails.core.errors import RunError, RunFileError
from trails.runs.claude_options import provider_env
from trails.runs.plan import load_plan

DATA = Path(__file__).resolve().parent.parent / "data" / "agentlens"
EXAMPLES = sorted(p.name for p in DATA.glob("*.yaml"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_agentlens_example_passes_dry_run_unchanged(name: str) -> None:
    res = trails("run", str(DATA / name), "--dry-run", "--json")
    assert res.code == 0, res.stderr
    plan = res.json["plan"]
    assert all(s["adapter"] == "claude" for s in plan["sessions"])  # no agent: Claude Code
    assert not (DATA / "runs").exists()


def test_agentlens_keys_become_claude_code_flags() -> None:
    plan = load_plan(DATA / "final_isolated_subagent.yaml")
    s = plan.sessions[0]
    args = s.claude_args
    assert args[args.index("--allowedTools") + 1] == "Read,Grep,Glob,Bash,Write,Edit,Agent"
    agents = json.loads(args[args.index("--agents") + 1])
    assert agents["code-reader"]["tools"] == ["Read", "Glob", "Grep"] and agents["code-reader"]["model"] == "sonnet"
    assert args[args.index("--max-budget-usd") + 1] == "1"
    assert args[args.index("--setting-sources") + 1] == "user"  # load_project_settings defaults to false
    assert (s.max_turns, s.permission_mode, s.model) == (10, "bypassPermissions", "claude-sonnet-4-20250514")
    assert plan.memory_file == "MEMORY.md" and plan.memory_seed == "# Project Notes\n"
    meta = plan.meta
    assert meta.tags == ["final-test", "isolated", "subagent"] and meta.revert_work_dir
    assert meta.hypothesis and meta.hypothesis.startswith("Final validation") and meta.capture_api_requests


@pytest.mark.parametrize(("extra", "line", "fragment"), [
    ("judge:\n  model: x\n  rubric: y\n", 3, "judge: an AgentLens key trails cannot honour"),
    ("tracked_files:\n  - path: MEMORY.md\n", 3, "tracked_files: an AgentLens key trails cannot honour"),
    ("engine: codex\n", 3, "engine: 'codex' cannot be honoured"),
    ("codex_multi_agent: true\n", 3, "codex_multi_agent: an AgentLens key trails cannot honour"),
    ("provider: azure\n", 3, "provider: Invalid enum value 'azure'"),
])
def test_keys_trails_cannot_honour_are_named_with_their_line(tmp_path: Path, extra: str, line: int,
                                                              fragment: str) -> None:
    (tmp_path / "wd").mkdir()
    path = tmp_path / "run.yaml"
    path.write_text(f"model: m\nwork_dir: wd\n{extra}sessions:\n  - session_index: 1\n    prompt: a\n")
    with pytest.raises(RunFileError) as info:
        load_plan(path)
    assert f"{path}:{line}:" in info.value.message and fragment in info.value.message, info.value.message


def test_claude_options_on_another_agent_are_refused(tmp_path: Path) -> None:
    (tmp_path / "wd").mkdir()
    path = tmp_path / "run.yaml"
    path.write_text(f"agent: {fake_agent_command()}\nwork_dir: wd\nmax_budget_usd: 2\n"
                    "sessions:\n  - session_index: 1\n    prompt: a\n")
    with pytest.raises(RunFileError) as info:
        load_plan(path)
    assert f"{path}:3:" in info.value.message and "max_budget_usd is a Claude Code option" in info.value.message


def test_each_provider_gets_the_environment_claude_code_reads() -> None:
    assert provider_env("anthropic", None, {}) == {"CLAUDECODE": ""}
    assert provider_env("anthropic", "http://127.0.0.1:9", {})["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    openrouter = provider_env("openrouter", None, {"OPENROUTER_API_KEY": "sk-or-x"})
    assert openrouter["ANTHROPIC_BASE_URL"] == "https://openrouter.ai/api"
    assert openrouter["ANTHROPIC_AUTH_TOKEN"] == "sk-or-x" and openrouter["ANTHROPIC_API_KEY"] == ""
    assert provider_env("bedrock", None, {})["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert provider_env("vertex", "https://v.example", {})["ANTHROPIC_VERTEX_BASE_URL"] == "https://v.example"
    with pytest.raises(RunError, match="OPENROUTER_API_KEY"):
        provider_env("openrouter", None, {})


def example(name: str, tmp_path: Path, claude_bin: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AgentLens example with its repos in tmp_path, run as AgentLens runs it: `claude` on PATH."""
    shutil.copytree(DATA / "repos", tmp_path / "repos")
    shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.setenv("PATH", f"{claude_bin.parent}:{__import__('os').environ['PATH']}")
    # AgentLens's default bypassPermissions: Claude Code refuses it as root unless told it is in a sandbox.
    monkeypatch.setenv("IS_SANDBOX", "1")
    return tmp_path / name


def test_agentlens_chained_example_runs_end_to_end_with_claude_code(
        tmp_path: Path, claude: Path, server: ScriptedAnthropicServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_file = example("chained.yaml", tmp_path, claude, monkeypatch)
    memory = tmp_path / "repos" / "test_repo" / "MEMORY.md"
    notes = memory.with_name("structure.md")
    server.script.on(lambda b: last_user_text(b).startswith("Explore the project structure"),
                     Reply.tool_use("Write", {"file_path": str(notes), "content": "main.py\n"}), times=1)
    res = trails("run", str(run_file), "--out", str(tmp_path / "out"), "--json")
    assert res.code == 0, res.stderr
    out = tmp_path / "out"
    state = json.loads((out / "run.json").read_text())
    assert state["status"] == "completed" and state["tags"] == ["test", "chained", "full-context"]
    assert memory.read_text() == "# Project Notes\n"  # seeded from memory_seed
    assert notes.read_text() == "main.py\n"  # the agent's write, kept in the work dir at the end
    r1 = json.loads((out / "session_01" / "result.json").read_text())
    assert {"status": "A", "path": "structure.md"} in r1["files_changed"]
    first = next(b for b in server.requests if last_user_text(b).startswith("Explore the project structure"))
    system = json.dumps(first.get("system"))
    assert "You are exploring a Python codebase across multiple sessions." in system
    assert f"Your working directory is {tmp_path / 'repos' / 'test_repo'}" in system
    for label in ("session_01", "session_02", "session_03"):
        sdir = out / label
        trajectory = Trajectory.model_validate(json.loads((sdir / "trajectory.json").read_text()))
        assert trajectory.session_id == json.loads((sdir / "result.json").read_text())["conversation_id"]
        captures = [json.loads(line) for line in (sdir / "api_captures.jsonl").read_text().splitlines()]
        assert any(c["path"].startswith("/v1/messages") and c["status"] == 200 for c in captures)
        assert "sk-ant-" not in (sdir / "api_captures.jsonl").read_text()  # credentials are redacted
    t1 = Trajectory.model_validate(json.loads((out / "session_01" / "trajectory.json").read_text()))
    calls = [c for s in t1.steps for c in (s.tool_calls or [])]
    assert [c.function_name for c in calls] == ["Write"] and calls[0].arguments["file_path"] == str(notes)
    observed = [s for s in t1.steps if s.observation]
    assert observed and observed[0].observation.results[0].source_call_id == calls[0].tool_call_id
    t3 = Trajectory.model_validate(json.loads((out / "session_03" / "trajectory.json").read_text()))
    assert t3.steps[0].is_copied_context  # the chained history it continues
    assert t3.final_metrics is not None and t3.final_metrics.total_steps == len(t3.steps)


def test_a_subagent_the_session_starts_gets_its_trajectory_linked_from_the_tool_call(
        tmp_path: Path, claude: Path, server: ScriptedAnthropicServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_file = example("final_isolated_subagent.yaml", tmp_path, claude, monkeypatch)
    main_py = tmp_path / "repos" / "test_repo" / "main.py"
    first = "Use the code-reader to read main.py and summarize what functions are defined."
    task = "Read main.py and list its functions."
    # The real CLI's Agent tool: the session delegates, the subagent (its own requests) reads a file and answers.
    server.script.on(lambda b: last_user_text(b).startswith(first) and not tool_results(b),
                     Reply.tool_use("Agent", {"description": "read main.py", "prompt": task,
                                              "subagent_type": "code-reader"}), times=1)
    server.script.on(lambda b: last_user_text(b) == task and not tool_results(b),
                     Reply.tool_use("Read", {"file_path": str(main_py)}), times=1)
    server.script.on(lambda b: last_user_text(b) == task and bool(tool_results(b)),
                     Reply.text("main.py defines main()"), times=1)
    res = trails("run", str(run_file), "--out", str(tmp_path / "out"), "--json", timeout=300)
    assert res.code == 0, res.stderr
    sdir = tmp_path / "out" / "session_01"
    trajectory = Trajectory.model_validate(json.loads((sdir / "trajectory.json").read_text()))
    calls = [(s, c) for s in trajectory.steps for c in (s.tool_calls or []) if c.function_name == "Agent"]
    assert len(calls) == 1 and calls[0][1].arguments["subagent_type"] == "code-reader"
    step, call = calls[0]
    assert step.observation is not None
    result = next(r for r in step.observation.results if r.source_call_id == call.tool_call_id)
    assert result.subagent_trajectory_ref is not None and len(result.subagent_trajectory_ref) == 1
    ref = result.subagent_trajectory_ref[0]
    assert ref.trajectory_path and ref.trajectory_path.startswith("subagent_agent-")
    assert ref.extra == {"agent_type": "code-reader", "description": "read main.py", "tool_call_id": call.tool_call_id}
    sub = Trajectory.model_validate(json.loads((sdir / ref.trajectory_path).read_text()))
    assert sub.session_id == ref.session_id and sub.extra and sub.extra["parent_session_id"] == trajectory.session_id
    assert [s.message for s in sub.steps if s.source == "user"] == [task]
    reads = [(s, c) for s in sub.steps for c in (s.tool_calls or []) if c.function_name == "Read"]
    assert len(reads) == 1 and reads[0][1].arguments["file_path"] == str(main_py)
    assert reads[0][0].observation is not None and "def main" in str(reads[0][0].observation.results[0].content)
    assert sub.steps[-1].source == "agent" and sub.steps[-1].message == "main.py defines main()"
    assert trajectory.extra and trajectory.extra["subagent_trajectories"] == [
        {"session_id": ref.session_id, "trajectory_path": ref.trajectory_path, "extra": ref.extra}]
    # The subagent's own transcript is kept beside the session's, as Claude Code wrote it.
    assert (sdir / "subagents" / f"{ref.session_id}.jsonl").exists()
