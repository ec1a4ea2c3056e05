"""Property-based tests of run files: any YAML, files near the schema with every field wrong in
turn, duplicate and missing session indexes, fork_from loops, counts of 0 and 10,000, prompt files
outside the directory or endless, alias bombs. Each is a plan that keeps the rules, or refused with
run_file_invalid naming the file and line, quickly; nothing is made on refusal; no traceback."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tests.fuzzing import FAST, SLOW, cli_refused, from_schema, nasty_text, no_traceback, refused
from tests.helpers import trails
from tests.runs.conftest import fake_agent_command
from trails.core.errors import RunFileError
from trails.runs import yamlload
from trails.runs.plan import MAX_COUNT, MAX_RUNS, RunPlan, load_plan
from trails.runs.spec import RunFile, SessionEntry


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """A run file's directory: a work dir, prompt files good and bad, and ways out."""
    here = tmp_path / "study"
    (here / "wd").mkdir(parents=True)
    (here / "p.md").write_text("the prompt {{prompt}}\n")
    (here / "latin1.md").write_bytes(b"caf\xe9\n")
    (here / "big.md").write_bytes(b"x" * (16 << 20) + b"x")
    (here / "zero.md").symlink_to("/dev/zero")
    os.mkfifo(here / "fifo.md")
    (tmp_path / "secret.md").write_text("secret\n")
    (here / "out-link.md").symlink_to(tmp_path / "secret.md")
    return here


paths = st.sampled_from(["p.md", "wd", ".", "", "missing.md", "../secret.md", "/etc/passwd", "out-link.md", "zero.md",
                         "fifo.md", "big.md", "latin1.md", "~", "~/x", "~no-such-user/x", "wd/../p.md", "a\x00b"])
indexes = st.integers(-1, 4) | st.sampled_from([10_000, 2**63, -2**63])
counts = st.integers(-1, 3) | st.sampled_from([0, MAX_COUNT, MAX_COUNT + 1, 10_000, 2**64])
agents = st.sampled_from(["claude", "codex", "gemini", "aider", fake_agent_command(), "sh -c 'cat'", "", "  ",
                          "no-such-agent-x", "'unbalanced"])
strings = nasty_text | paths | agents
entry = from_schema(SessionEntry, strings, {"session_index": indexes, "count": counts, "fork_from": indexes,
                                            "prompt_file": paths, "agent": agents, "prompt": nasty_text})
# Most sessions lists are 1..N in order with one of prompt or prompt_file: the checks behind those
# rules run too. The rest are whatever the schema allows.
ordered = st.lists(st.fixed_dictionaries({}, optional={"prompt_file": paths, "fork_from": indexes,
                                                       "count": counts, "agent": agents}), min_size=1, max_size=4).map(
    lambda items: [{"session_index": i, **({"prompt": "go"} if "prompt_file" not in item else {}), **item}
                   for i, item in enumerate(items, 1)])
schema_docs = from_schema(RunFile, strings, {
    "work_dir": paths, "sessions": ordered | st.lists(entry, max_size=3), "agent": agents, "memory_file": paths,
    "session_mode": st.sampled_from(["isolated", "chained", "forked", "sideways"]),
})
# A sound file with one or two of its keys drawn as above: most bugs are one bad value in a good file.
sound = st.fixed_dictionaries({
    "agent": st.just("claude"), "work_dir": st.just("wd"),
    "session_mode": st.sampled_from(["isolated", "chained", "forked"]),
    "sessions": st.lists(st.fixed_dictionaries({}, optional={"count": st.integers(1, 3), "prompt_file": st.just("p.md"),
                                                             "fork_from": st.integers(1, 2)}),
                         min_size=1, max_size=3).map(
        lambda items: [{"session_index": i, **({"prompt": "go"} if "prompt_file" not in item else {}),
                        **{k: v for k, v in item.items() if k != "fork_from" or v < i}}
                       for i, item in enumerate(items, 1)]),
})
run_files = sound | st.builds(lambda base, change: {**base, **dict(list(change.items())[:1])}, sound, schema_docs) | \
    schema_docs
any_yaml = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | nasty_text,
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
                        max_leaves=10)


def _write(path: Path, doc: Any) -> None:
    # A lone surrogate goes out as the bytes Python would make of it: not UTF-8, which is refused too.
    path.write_bytes(yaml.safe_dump(doc, allow_unicode=True).encode("utf-8", "surrogatepass"))


def _check_plan(plan: RunPlan, study: Path) -> None:
    """What every accepted plan keeps to."""
    json.dumps(plan.to_dict())  # the dry run prints it
    cells = plan.cells()
    assert sum(s.count for s in plan.sessions) <= MAX_RUNS
    for cell in cells:
        line = [s for s in plan.sessions if s.cell == cell]
        assert [s.index for s in line] == list(range(1, len(line) + 1))
        for s in line:
            assert 1 <= s.count <= MAX_COUNT
            assert s.start_from is None or 1 <= s.start_from < s.index
            assert s.conversation_from is None or 1 <= s.conversation_from < s.index
            assert s.argv, s
            assert "secret" not in s.prompt  # nothing from outside the run file's directory


def _load(path: Path, study: Path) -> RunPlan | None:
    started = time.monotonic()
    try:
        plan = load_plan(path)
    except RunFileError as exc:
        event("refused")
        refused(exc, "run_file_invalid")
        assert exc.message.startswith((f"{path}:", f"cannot read run file {path}")), exc.message
        return None
    finally:
        assert time.monotonic() - started < 5  # no spin on any input (the bombs below: well under 1 s)
    event("accepted")
    _check_plan(plan, study)
    return plan


@settings(**FAST)
@given(run_files)
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt": "a", "count": 0}]})
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt": "a", "count": 10_000}]})
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt": "a"}, {"session_index": 1, "prompt": "b"}]})
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt": "a", "fork_from": 1}]})
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt": "a", "fork_from": 2},
                                         {"session_index": 2, "prompt": "b", "fork_from": 1}]})
@example({"work_dir": "wd", "timeout": float("inf"), "sessions": [{"session_index": 1, "prompt": "a"}]})
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt_file": "~no-such-user/p.md"}]})
@example({"work_dir": "wd", "sessions": [{"session_index": 1, "prompt": "a"}],
          "matrix": {"model": [str(i) for i in range(200)], "prompt": {str(i): "p" for i in range(200)}}})
def test_a_run_file_near_the_schema_is_a_sound_plan_or_refused_naming_its_line(study: Path, doc: Any) -> None:
    path = study / "run.yaml"
    _write(path, doc)
    _load(path, study)


@settings(**FAST)
@given(any_yaml)
def test_any_yaml_data_is_a_plan_or_refused(study: Path, doc: Any) -> None:
    path = study / "run.yaml"
    _write(path, doc)
    _load(path, study)


yaml_tokens = st.sampled_from(["work_dir: wd\n", "sessions:\n", "  - session_index: 1\n", "    prompt: a\n", "&a ",
                               "*a", "<<: *a\n", "!!python/object:os.system ", "!!binary ", "? ", "- ", "[", "]", "{",
                               "}", ": ", ", ", "'", '"', "\\", "\t", "\n", "#", "|\n", ">\n", "%YAML 1.1\n", "---\n",
                               "...\n", "\x00", "\ufeff", "\udcff", "é", "~", "null", "1e999", ".nan", "0x1F"])


@settings(**FAST)
@given(st.lists(yaml_tokens, max_size=40).map("".join) | st.text(max_size=80))
@example("a: &a [*a]\nwork_dir: wd\n")
@example("work_dir: wd\nsessions: &s\n  - session_index: 1\n    prompt: a\n    x: *s\n")
def test_any_text_is_a_plan_or_refused(study: Path, text: str) -> None:
    path = study / "run.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape" if "\udcff" in text else "surrogatepass"))
    _load(path, study)


def _bomb(levels: int, width: int = 9) -> str:
    """`levels` of `width` aliases each: width**levels scalars from a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\nwork_dir: wd\nsessions:\n  - session_index: 1\n    prompt: a\n"


@pytest.mark.parametrize(("text", "why"), [
    (_bomb(9), "expands to more than 100,000 values"),
    (_bomb(4, 40), "expands to more than 100,000 values"),
    ("a: &a [*a]\n" + "work_dir: wd\n", "a cycle"),
    ("a: &a {b: *a}\n" + "work_dir: wd\n", "a cycle"),
    ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than 64 levels deep"),
    ("- " * 1000 + "a\n", "nested more than 64 levels deep"),
    ("".join(f"k{i}: &k{i} v\n" for i in range(300)) + "l: [" + ", ".join(f"*k{i}" for i in range(300)) + "]\n",
     f"more than {yamlload.MAX_ALIASES} aliases"),
    ("a: &a '" + "x" * 500_000 + "'\nb: [" + ", ".join(["*a"] * 20) + "]\n", "more than 8 MiB of text"),
    ("a: &a [" + ", ".join(["x"] * 60) + "]\n" + "".join(f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]\n".replace(
        "*b-1", "*a") for i in range(60)), "expands to more than"),
], ids=["nine-levels", "four-wide", "self-list", "self-map", "deep-flow", "deep-block", "many-aliases", "long-text",
        "doubling"])
def test_a_yaml_bomb_is_refused_in_well_under_a_second(study: Path, text: str, why: str) -> None:
    path = study / "run.yaml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(RunFileError) as caught:
        load_plan(path)
    # Milliseconds for the alias bombs; the deep flow list costs PyYAML's scanner ~0.2 s of lookahead
    # (1024 characters of possible keys) before the depth limit can see it.
    assert time.monotonic() - started < 1
    assert caught.value.message.startswith(f"{path}:") and why in caught.value.message, caught.value.message
    started = time.monotonic()
    res = trails("run", str(path), "--dry-run", "--json", cwd=study)
    assert time.monotonic() - started < 5  # the CLI's own start included
    cli_refused(res, "run_file_invalid")
    assert why in res.error["message"]
    assert not (study / "runs").exists()


def test_a_huge_or_endless_run_file_is_refused_at_once(study: Path) -> None:
    for name, why in (("zero.md", "not a regular file (it is a device)"),
                      ("fifo.md", "not a regular file (it is a FIFO)"), ("big.md", "larger than 1 MiB"),
                      ("latin1.md", "not UTF-8 text (byte 3 is 0xe9)"),
                      ("wd", "not a regular file (it is a directory)")):
        started = time.monotonic()
        res = trails("run", str(study / name), "--dry-run", "--json", cwd=study)
        assert time.monotonic() - started < 5
        error = cli_refused(res, "run_file_invalid")
        assert error["message"].startswith("cannot read run file ") and why in error["message"], error


def test_aliases_within_the_limits_still_work(study: Path) -> None:
    path = study / "run.yaml"
    path.write_text("work_dir: wd\nsessions:\n  - &one {session_index: 1, prompt: a, max_turns: 3}\n"
                    "  - {<<: *one, session_index: 2, prompt: b}\n")
    plan = load_plan(path)
    assert [(s.index, s.prompt, s.max_turns) for s in plan.sessions] == [(1, "a", 3), (2, "b", 3)]


@settings(**SLOW)
@given(run_files)
@example({"agent": "claude", "work_dir": "wd", "matrix": {"prompt": {"\udcff": "go"}}})  # quoted in the error
def test_trails_run_dry_run_takes_or_refuses_any_run_file_and_makes_nothing(study: Path, doc: Any) -> None:
    path = study / "run.yaml"
    _write(path, doc)
    res = trails("run", str(path), "--dry-run", "--json", cwd=study)
    no_traceback(res)
    if res.code != 0:
        cli_refused(res, "run_file_invalid")
    else:
        assert res.json["dry_run"] is True
    assert not (study / "runs").exists()


# Run for real with the fake command agent (which cannot resume a conversation: isolated sessions).
small_runs = st.fixed_dictionaries({
    "session_mode": st.just("isolated") | st.sampled_from(["chained", "forked"]),
    "sessions": st.lists(st.fixed_dictionaries({}, optional={
        "count": st.integers(1, 2) | st.just(0), "prompt_file": st.sampled_from(["p.md", "p.md", "../secret.md"])}),
        min_size=1, max_size=3),
})


@settings(max_examples=4 * int(os.environ.get("FUZZ_SCALE", "1")), deadline=None)
@given(spec=small_runs)
@example(spec={"session_mode": "isolated", "sessions": [{"count": 2}, {"prompt_file": "p.md"}]})
def test_a_run_file_that_is_taken_runs(study: Path, spec: dict[str, Any], agent_log: Path) -> None:
    sessions = [{"session_index": i, **({"prompt": f"task {i}"} if "prompt_file" not in s else {}), **s}
                for i, s in enumerate(spec["sessions"], 1)]
    doc = {"agent": fake_agent_command(), "work_dir": "wd", "session_mode": spec["session_mode"], "sessions": sessions}
    path = study / "run.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = study / "out"
    res = trails("run", str(path), "--out", str(out), "--json", cwd=study, timeout=120)
    no_traceback(res)
    if res.code != 0 and not out.exists():
        event("refused")
        cli_refused(res, "run_file_invalid")
        return
    event("ran")
    summary = res.json
    assert summary["status"] == "completed", summary
    assert summary["totals"]["ok"] == summary["totals"]["planned"] == sum(s.get("count", 1) for s in sessions)
    shutil.rmtree(out)
