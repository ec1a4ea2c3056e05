"""Property-based tests of settings files, the user's and a repository's: any JSON, any bytes, wrong
types, huge or endless files. Each loads and is then usable by everything that reads it (mode
choice, limits, agent profiles, auto-yes, container settings), or is refused with a config_error
naming the file; never a traceback, never a hang."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from tests.fuzzing import FAST, SLOW, cli_refused, from_schema, nasty_text, no_traceback, refused
from tests.helpers import trails
from trails.core import config as config_mod
from trails.core.config import MAX_SETTINGS_BYTES, AgentSettings, AutoYesSettings, DetectionSettings, Settings
from trails.core.errors import ConfigError, TrailsError

scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False) | \
    nasty_text | st.sampled_from(["direct", "worktree", "container", "basic", "none", "host", "512m", "2g", "x", "",
                                  "~", "..", "/", "/etc", "claude", "sh -c true", "(a+)+$", "[", "*.env"])
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(nasty_text | st.sampled_from(["claude", "codex", "x"]), inner, max_size=4),
                           max_leaves=12)


def _keys_of(struct: type) -> st.SearchStrategy[str]:
    return st.sampled_from(list(struct.__struct_fields__))


# Documents near the schema: its keys with any values, nested ones too, so that checks past the
# first type check run; and documents that are any JSON at all.
agent_docs = st.dictionaries(_keys_of(AgentSettings), json_values, max_size=3)
near_schema = st.fixed_dictionaries({}, optional={
    "agents": st.dictionaries(st.sampled_from(["claude", "codex", "mine", ""]) | nasty_text, agent_docs, max_size=2),
    "auto_yes": st.dictionaries(_keys_of(AutoYesSettings), json_values, max_size=3),
    "detection": st.dictionaries(st.sampled_from(["claude", "command"]),
                                 st.dictionaries(_keys_of(DetectionSettings), json_values, max_size=3), max_size=2),
    "project_rules": st.lists(st.fixed_dictionaries({"pattern": nasty_text}, optional={
        "required_mode": json_values, "allowed_modes": json_values, "reason": json_values}), max_size=2),
}) | st.dictionaries(_keys_of(Settings), json_values, max_size=6)
typed = from_schema(Settings, strings=nasty_text | st.sampled_from(
    ["claude", "codex", "mine", "x", "", "~", "..", "/", "/tmp", "/tmp:/x", "/tmp:/x:rw", "a:b:c:d", "512m", "0",
     "-1g", "(a+)+$", "[", "*.env", "sh -c true", "refs/", "trails/", "-", "sub/dir"]))
documents = typed | near_schema | json_values


def _use(config: config_mod.EffectiveConfig) -> None:
    """Everything `trails new` and the supervisor read from settings, without starting anything."""
    from trails.core import agent_spec, limits, modes
    from trails.isolation import container
    from trails.monitor import policy

    for container_mode in (False, True):
        limits.resolve(config, cpus=None, memory=None, pids_limit=None, container=container_mode)
    _ = config.branch_prefix, config.worktree_dir, config.max_worktrees, config.merge_strategy
    steps: list[Callable[[str], object]] = [
        lambda agent: modes.select_mode(flag=None, agent=agent, config=config, rules=config.project_rules,
                                        unavailable=lambda mode: None),
        lambda agent: agent_spec.resolve(agent, config),
        lambda agent: policy.build(agent, config),
        lambda agent: container.resolve_settings(config, agent, {}),
    ]
    for agent in sorted({"claude", "command", *config.agent_names()}):
        for step in steps:
            try:
                step(agent)
            except TrailsError as exc:  # a settings-driven refusal (untrusted repository, bad mount...)
                assert exc.code and exc.message


def _write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


@settings(**FAST)
@given(user=documents, project=documents)
@example(user={}, project={"worktree_dir": "a\x00b"})
@example(user={"mounts": ["/tmp\x00"]}, project={})
@example(user={"agents": {"x\x00": {"command": "true"}}}, project={})
@example(user={"pids_limit": 2**70}, project={})
def test_any_settings_load_and_are_usable_or_are_refused_naming_the_file(
        repo: Path, trails_env: dict[str, Path], user: Any, project: Any) -> None:
    user_file, project_file = trails_env["home"] / "settings.json", repo / ".trails" / "settings.json"
    _write(user_file, user)
    _write(project_file, project)
    try:
        config = config_mod.load(repo)
    except ConfigError as exc:
        event("refused")
        refused(exc, "config_error")
        assert str(user_file) in exc.message or str(project_file) in exc.message, exc.message
        return
    event("accepted")
    _use(config)


@settings(**FAST)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()[:-1]))
def test_any_bytes_as_settings_are_settings_or_a_config_error(trails_env: dict[str, Path], raw: bytes) -> None:
    path = trails_env["home"] / "settings.json"
    path.write_bytes(raw)
    try:
        config_mod.load_settings_file(path)
    except ConfigError as exc:
        refused(exc, "config_error")
        assert exc.message.startswith(f"{path}: "), exc.message


def _deep(n: int) -> bytes:
    return b'{"mode_preferences": {"claude": ' + b"[" * n + b"]" * n + b"}}"


@pytest.mark.parametrize(("make", "why"), [
    (lambda p: p.write_bytes(b'{"branch_prefix": "' + b"x" * MAX_SETTINGS_BYTES + b'"}'), "larger than 1 MiB"),
    (lambda p: p.write_bytes(b" " * (MAX_SETTINGS_BYTES + 1)), "larger than 1 MiB"),
    (lambda p: p.symlink_to("/dev/zero"), "not a regular file (it is a device)"),
    (lambda p: os.mkfifo(p), "not a regular file (it is a FIFO)"),
    (lambda p: p.mkdir(), "not a regular file (it is a directory)"),
    (lambda p: p.write_bytes(_deep(200_000)), "Expected `str`, got `array`"),
    (lambda p: p.write_bytes(b'{"detection": {"claude": {"busy": ["' + b"(" * 5000 + b'"]}}}'),
     "not a valid regular expression"),
])
def test_huge_endless_or_deep_settings_are_refused_at_once(
        repo: Path, trails_env: dict[str, Path], make: Any, why: str) -> None:
    for path in (trails_env["home"] / "settings.json", repo / ".trails" / "settings.json"):
        path.parent.mkdir(exist_ok=True)
        make(path)
        started = time.monotonic()
        with pytest.raises(ConfigError) as caught:
            config_mod.load(repo)
        assert time.monotonic() - started < 1
        assert caught.value.message.startswith(f"{path}: ") and why in caught.value.message, caught.value.message
        res = trails("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
        cli_refused(res, "config_error")
        assert str(path) in res.error["message"]
        assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()


@settings(**SLOW)
@given(user=typed | near_schema, project=typed | near_schema)
def test_trails_new_under_any_settings_makes_a_session_or_nothing(
        repo: Path, trails_env: dict[str, Path], user: Any, project: Any) -> None:
    _write(trails_env["home"] / "settings.json", user)
    _write(repo / ".trails" / "settings.json", project)
    before = len(trails("ls", "--all", "--json", cwd=repo).json["sessions"])
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
    no_traceback(res)
    if res.code != 0:
        error = cli_refused(res, "config_error", "invalid_input", "branch_error", "untrusted_repository",
                            "rule_violation", "mode_unavailable")
        assert len(trails("ls", "--all", "--json", cwd=repo).json["sessions"]) == before, error
        return
    assert res.json["session"]["name"] == "s1"
    assert trails("kill", "s1", "--force", "--json", cwd=repo).code == 0

