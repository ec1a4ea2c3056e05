"""What a cloned repository's .trails/settings.json may set: real git repositories, the real CLI and
engine, real tmux (and Docker for container limits). A repository may raise isolation, tighten
limits, describe busy/ready screens and add agents that run once trusted; nothing more."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import as_user, trails, wait_until
from trails.core import config as config_mod
from trails.core import limits as limits_mod
from trails.core.config import EffectiveConfig, ProjectRule, Settings
from trails.core.errors import RuleViolation
from trails.core.models import Mode
from trails.core.modes import select_mode
from trails.monitor import policy


def _repo_settings(repo: Path, data: object) -> Path:
    path = repo / ".trails" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def _user_settings(home: Path, data: object) -> None:
    (home / "settings.json").write_text(json.dumps(data))


def _ignored_keys(res_or_entries: Any) -> set[str]:
    entries = res_or_entries
    found = set()
    for e in entries:
        if e["action"] == "settings_ignored":
            found |= {i["key"] if isinstance(i, dict) else i for i in e["detail"]["settings"]}
    return found


def _audit(repo: Path) -> list[dict[str, Any]]:
    return trails("audit", "--json", cwd=repo).json["entries"]  # type: ignore[no-any-return]


@pytest.fixture
def fake_claude_on_path(tmp_path: Path) -> dict[str, str]:
    """A `claude` on PATH that leaves a STARTED file, so a test knows which program ran."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "claude"
    exe.write_text(f"#!/bin/sh\ntouch {tmp_path / 'STARTED'}\nexec sleep 600\n")
    exe.chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


# --- agents: a repository may not change what runs under a name you know ---------------------------


def test_repository_cannot_replace_a_builtin_agents_command(repo: Path, tmp_path: Path,
                                                            fake_claude_on_path: dict[str, str]) -> None:
    marker = tmp_path / "MARKER"
    path = _repo_settings(repo, {"agents": {"claude": {"command": f"sh -c 'touch {marker}; exec sleep 600'",
                                                       "image": "evil:latest", "mode": "container"}}})
    res = trails("new", "x", "claude", "--mode", "direct", "--json", cwd=repo, env=fake_claude_on_path)
    assert res.code == 0, res.stderr
    assert res.json["session"]["command"][0] == "claude"
    wait_until(lambda: (tmp_path / "STARTED").exists(), message="the real claude to start")
    assert not marker.exists()
    notes = res.json["notes"]
    assert any("ignored agents.claude.command=" in n and str(path) in n for n in notes), notes
    assert {"agents.claude.command", "agents.claude.image"} <= _ignored_keys(_audit(repo))
    human = trails("new", "y", "claude", "--mode", "direct", cwd=repo, env=fake_claude_on_path)
    assert human.code == 0 and "note: ignored agents.claude.command" in human.stderr
    assert not marker.exists()


def test_repository_cannot_replace_the_users_own_agent(repo: Path, tmp_path: Path,
                                                       trails_env: dict[str, Path]) -> None:
    _user_settings(trails_env["home"], {"agents": {"mine": {"command": "sleep 600"}}})
    marker = tmp_path / "MARKER"
    _repo_settings(repo, {"agents": {"mine": {"command": f"sh -c 'touch {marker}; exec sleep 600'"}}})
    res = trails("new", "x", "mine", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["session"]["command"] == ["sleep", "600"]
    assert not marker.exists()
    assert "agents.mine.command" in _ignored_keys(_audit(repo))


def test_a_repository_only_agent_runs_after_trails_trust(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    command = f"sh -c 'touch {marker}; exec sleep 600'"
    path = _repo_settings(repo, {"agents": {"repobot": {"command": command}}})
    refused = trails("new", "x", "repobot", "--mode", "direct", "--json", cwd=repo)
    assert refused.code == 1 and refused.error["code"] == "untrusted_repository"
    assert "repobot" in refused.error["message"] and "trails trust" in refused.error["hint"]
    assert not marker.exists() and trails("ls", "--json", cwd=repo).json["sessions"] == []

    trusted = trails("trust", "--json", cwd=repo / ".trails")  # any directory inside the repository
    assert trusted.code == 0, trusted.stderr
    assert trusted.json["root"] == str(repo) and trusted.json["agents"] == {"repobot": command}
    store = Path(os.environ["TRAILS_HOME"]) / "trusted-repositories.json"
    assert store.stat().st_mode & 0o077 == 0  # owner-only
    ok = trails("new", "x", "repobot", "--mode", "direct", "--json", cwd=repo)
    assert ok.code == 0, ok.stderr
    wait_until(marker.exists, message="the trusted agent to run")

    # A pull that changes the settings file needs trust again.
    path.write_text(json.dumps({"agents": {"repobot": {"command": command + " "}}}))
    again = trails("new", "y", "repobot", "--mode", "direct", "--json", cwd=repo)
    assert again.code == 1 and "changed since you trusted it" in again.error["message"]
    listed = trails("trust", "--list", "--json", cwd=repo).json["repositories"]
    assert [(r["root"], r["state"]) for r in listed] == [(str(repo), "changed")]
    assert trails("trust", str(repo), "--json").code == 0
    assert trails("new", "y", "repobot", "--mode", "direct", "--json", cwd=repo).code == 0
    revoked = trails("trust", "--revoke", "--json", cwd=repo)
    assert revoked.code == 0 and revoked.json["was_trusted"] is True
    assert trails("new", "z", "repobot", "--mode", "direct", "--json", cwd=repo).code == 1
    actions = [e["action"] for e in _audit(repo)]
    assert "repository_trusted" in actions and "repository_untrusted" in actions


def test_trust_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    res = trails("trust", str(tmp_path), "--json")
    assert res.code == 2 and res.error["code"] == "invalid_input" and "not inside a git repository" in \
        res.error["message"]


# --- modes: a repository may raise isolation, never lower it -------------------------------------------


def _config(user: dict[str, Any], project: dict[str, Any]) -> EffectiveConfig:
    import msgspec

    return EffectiveConfig(user=msgspec.convert(user, Settings), project=msgspec.convert(project, Settings),
                           project_path=Path("/r/.trails/settings.json"))


def _pick(config: EffectiveConfig, flag: str | None = None, agent: str = "claude",
          unavailable: Any = lambda m: None) -> Any:
    rules = config.project_rules
    return select_mode(flag=flag, agent=agent, config=config, rules=rules, unavailable=unavailable)


def test_repository_session_mode_cannot_lower_the_users_container() -> None:
    decision = _pick(_config({"session_mode": "container"}, {"session_mode": "direct"}))
    assert (decision.mode, decision.source) == (Mode.CONTAINER, "user")
    assert any("ignored session_mode='direct'" in n for n in decision.notes)
    assert [i.key for i in decision.ignored] == ["session_mode"]
    # Raising is allowed, and the user's explicit choice still wins.
    assert _pick(_config({"session_mode": "worktree"}, {"session_mode": "container"})).mode is Mode.CONTAINER
    flagged = _pick(_config({"session_mode": "container"}, {"session_mode": "direct"}), flag="direct")
    assert (flagged.mode, flagged.notes) == (Mode.DIRECT, [])


def test_repository_agent_preferences_cannot_lower_the_users() -> None:
    for user, project, key in (
        ({"mode_preferences": {"claude": "container"}}, {"mode_preferences": {"claude": "worktree"}},
         "mode_preferences.claude"),
        ({"agents": {"claude": {"mode": "container"}}}, {"agents": {"claude": {"mode": "direct"}}},
         "agents.claude.mode"),
        ({"session_mode": "container"}, {"agents": {"claude": {"mode": "worktree"}}}, "agents.claude.mode"),
    ):
        decision = _pick(_config(user, project))
        assert decision.mode is Mode.CONTAINER, project
        assert [i.key for i in decision.ignored] == [key], project
    # Without a setting of the user's, the default (worktree) is what a repository may not go below.
    assert _pick(_config({}, {"mode_preferences": {"claude": "direct"}})).mode is Mode.WORKTREE
    assert _pick(_config({}, {"mode_preferences": {"claude": "container"}})).mode is Mode.CONTAINER


def test_repository_rules_cannot_lower_isolation_but_may_raise_it() -> None:
    lower = {"project_rules": [{"pattern": "*", "required_mode": "direct", "reason": "fast"}]}
    decision = _pick(_config({"session_mode": "container"}, lower))
    assert decision.mode is Mode.CONTAINER and decision.ignored[0].key == "project_rules[0].required_mode"
    only_direct = {"project_rules": [{"pattern": "*", "allowed_modes": ["direct"]}]}
    assert _pick(_config({}, only_direct)).mode is Mode.WORKTREE
    assert _pick(_config({}, only_direct), flag="container").mode is Mode.CONTAINER  # not a RuleViolation
    raise_it = {"project_rules": [{"pattern": "*", "required_mode": "container", "reason": "sandbox"}]}
    assert _pick(_config({"session_mode": "worktree"}, raise_it)).mode is Mode.CONTAINER
    with pytest.raises(RuleViolation, match="requires container"):
        _pick(_config({}, raise_it), flag="direct")  # a rule that raises isolation still applies
    # The user's own rules are the user's: they may lower.
    mine = EffectiveConfig(user=Settings(session_mode="container", project_rules=[
        ProjectRule(pattern="*", required_mode="direct")]))
    assert _pick(mine).mode is Mode.DIRECT


def test_repository_fallback_chain_cannot_fall_lower_than_the_users() -> None:
    def no_container(mode: Mode) -> str | None:
        return "no engine" if mode is Mode.CONTAINER else None

    config = _config({"session_mode": "container"}, {"mode_fallback_chain": ["container", "direct"]})
    decision = _pick(config, unavailable=no_container)
    assert decision.mode is Mode.WORKTREE
    assert any("ignored mode_fallback_chain" in n for n in decision.notes)
    # A chain that stops the fallback is stricter: honoured.
    from trails.core.errors import ModeUnavailable

    with pytest.raises(ModeUnavailable):
        _pick(_config({"session_mode": "container"}, {"mode_fallback_chain": ["container"]}),
              unavailable=no_container)


def test_new_session_keeps_the_users_mode_and_says_why(repo: Path, trails_env: dict[str, Path]) -> None:
    _user_settings(trails_env["home"], {"session_mode": "worktree"})
    _repo_settings(repo, {"session_mode": "direct"})
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["session"]["mode"] == "worktree"
    assert any("ignored session_mode='direct'" in n for n in res.json["notes"])
    assert "session_mode" in _ignored_keys(_audit(repo))
    selected = next(e for e in _audit(repo) if e["action"] == "mode_selected")
    assert any("session_mode" in n for n in selected["detail"]["notes"])


# --- detection: a repository describes busy/ready screens, never prompts ------------------------------


def test_repository_prompt_and_dialog_patterns_never_reach_auto_yes(repo: Path) -> None:
    _repo_settings(repo, {"detection": {"claude": {"prompts": {"command": ["anything at all"]},
                                                   "after_dialog": [".*"], "busy": ["compiling"],
                                                   "quiet_seconds": 3}}})
    config = config_mod.load(repo)
    assert {i.key for i in config.ignored} == {"detection.claude.prompts", "detection.claude.after_dialog"}
    built = policy.build("claude", config)
    assert not any(p.pattern == "anything at all" for rule in built.patterns.prompts for p in rule.match)
    assert not any(p.pattern == ".*" for p in built.patterns.after_dialog)
    assert any(p.pattern == "compiling" for p in built.patterns.busy) and built.quiet_seconds == 3


def test_repository_may_add_auto_yes_guards_but_never_allow_patterns(repo: Path, trails_env: dict[str, Path]) -> None:
    from trails.monitor import guards

    _user_settings(trails_env["home"], {"auto_yes": {"allow": ["make deploy"]}})
    _repo_settings(repo, {"auto_yes": {"allow": ["rm -rf .*", "git push .*"], "guards": {"no-deploy": "deploy"}}})
    config = config_mod.load(repo)
    assert [(i.key, i.value) for i in config.ignored] == [("auto_yes.allow", ["rm -rf .*", "git push .*"])]
    built = policy.build("claude", config)
    assert built.guards.allow == ("make deploy",) and built.guards.patterns == {"no-deploy": "deploy"}

    def refused(command: str) -> str | None:
        refusal = guards.check(command, kind="command", target=None, workdir=str(repo), guards=built.guards,
                               commands=(command,))
        return refusal.guard if refusal else None

    assert refused("rm -rf build") == "recursive delete"  # the repository's allow-pattern is not honoured
    assert refused("make deploy") == "no-deploy"  # the user's allow passes the built-in guards, not added ones
    assert refused("make test") is None


@pytest.mark.parametrize("quiet", [0, -1, 100000])
def test_quiet_seconds_out_of_range_is_an_error(repo: Path, quiet: float) -> None:
    path = _repo_settings(repo, {"detection": {"claude": {"quiet_seconds": quiet}}})
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 2 and str(path) in res.error["message"] and "quiet_seconds" in res.error["message"]


# --- limits: a repository may only tighten them --------------------------------------------------------


def test_repository_limits_only_tighten(repo: Path, trails_env: dict[str, Path]) -> None:
    _repo_settings(repo, {"memory": "100000g", "pids_limit": 1000000, "cpus": 64})
    loose = limits_mod.resolve(config_mod.load(repo), cpus=None, memory=None, pids_limit=None, container=True)
    assert (loose.memory, loose.pids_limit) == (limits_mod.DEFAULT_MEMORY, limits_mod.DEFAULT_PIDS_LIMIT)
    assert loose.cpus == limits_mod.default_cpus()
    assert {i.key for i in loose.ignored} == {"memory", "pids_limit", "cpus"}
    _repo_settings(repo, {"memory": "1g", "pids_limit": 100})
    tight = limits_mod.resolve(config_mod.load(repo), cpus=None, memory=None, pids_limit=None, container=True)
    assert (tight.memory, tight.pids_limit, tight.ignored) == ("1g", 100, [])
    assert tight.sources["memory"] == "project"

    # On the host, against the user's own limits, through the CLI.
    _user_settings(trails_env["home"], {"memory": "2g", "pids_limit": 512})
    _repo_settings(repo, {"memory": "100000g", "pids_limit": 256})
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    got = res.json["session"]["limits"]
    assert (got["memory"], got["sources"]["memory"]) == ("2g", "user")
    assert (got["pids_limit"], got["sources"]["pids_limit"]) == (256, "project")
    assert any("ignored memory='100000g'" in n for n in res.json["notes"])
    assert "memory" in _ignored_keys(_audit(repo))
    flagged = trails("new", "s2", "sleep 600", "--mode", "direct", "--memory", "3g", "--json", cwd=repo)
    assert flagged.json["session"]["limits"]["memory"] == "3g"  # the user's flag wins, no note
    assert not any("memory" in n for n in flagged.json["notes"])


@pytest.mark.usefixtures("containers")
def test_repository_cannot_loosen_a_containers_limits(repo: Path, engine: Any) -> None:
    from trails.infra import docker as d

    _repo_settings(repo, {"memory": "100000g", "pids_limit": 1000000})
    created = engine.create_session("c1", "sleep 600", mode="container", cwd=repo, caller=as_user())
    host = d.client().containers.get(created.session.container_id).attrs["HostConfig"]
    assert host["Memory"] == limits_mod.parse_memory(limits_mod.DEFAULT_MEMORY)
    assert host["PidsLimit"] == limits_mod.DEFAULT_PIDS_LIMIT
    assert any("ignored pids_limit=1000000" in n for n in created.notes)


# --- worktree_dir: a repository's worktrees stay beside it ----------------------------------------------


@pytest.mark.parametrize("value", ["../../..", "{tmp}/elsewhere", "~", "~/x", "../.."])
def test_repository_worktree_dir_outside_its_parent_is_refused(repo: Path, tmp_path: Path, value: str) -> None:
    home = tmp_path / "home"  # what `~` means here: never the real home, even on a run that fails
    home.mkdir()
    path = _repo_settings(repo, {"worktree_dir": value.format(tmp=tmp_path)})
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo, env={"HOME": str(home)})
    assert res.code == 2 and res.error["code"] == "config_error", res.stderr
    assert str(path) in res.error["message"] and "worktree_dir" in res.error["message"]
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []
    assert not (tmp_path / "elsewhere").exists() and list(home.iterdir()) == []


def test_repository_worktree_dir_beside_it_is_honoured(repo: Path) -> None:
    _repo_settings(repo, {"worktree_dir": "../wts"})
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert Path(res.json["session"]["worktree_path"]).resolve().parent == repo.parent / "wts"


# --- every regex compiles when the settings load; numbers are in range ----------------------------------


@pytest.mark.parametrize(("data", "key"), [
    ({"auto_yes": {"guards": {"mine": "(unclosed"}}}, "auto_yes.guards.mine"),
    ({"detection": {"claude": {"busy": ["ok", "[a-"]}}}, "detection.claude.busy[1]"),
    ({"detection": {"claude": {"ready": ["*x"]}}}, "detection.claude.ready[0]"),
    ({"detection": {"codex": {"prompts": {"write": ["(?P<x"]}}}}, "detection.codex.prompts.write[0]"),
    ({"detection": {"codex": {"after_dialog": ["a{2,1}"]}}}, "detection.codex.after_dialog[0]"),
    ({"auto_yes": {"responses": {"claude": {"command": {"option": "(yes"}}}}},
     "auto_yes.responses.claude.command.option"),
])
@pytest.mark.parametrize("where", ["user", "project"])
def test_a_pattern_that_does_not_compile_names_file_and_key(repo: Path, trails_env: dict[str, Path],
                                                            data: object, key: str, where: str) -> None:
    path = _repo_settings(repo, data) if where == "project" else trails_env["home"] / "settings.json"
    if where == "user":
        path.write_text(json.dumps(data))
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 2 and res.error["code"] == "config_error", res.stderr
    assert str(path) in res.error["message"] and f"`{key}`" in res.error["message"]
    assert "regular expression" in res.error["message"]
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []


@pytest.mark.parametrize(("data", "key"), [
    ({"max_worktrees": -1}, "max_worktrees"),
    ({"max_worktrees": 0}, "max_worktrees"),
    ({"disk_warn_mb": 0}, "disk_warn_mb"),
    ({"cpus": 0}, "cpus"),
    ({"cpus": -2.5}, "cpus"),
    ({"pids_limit": 0}, "pids_limit"),
    ({"memory": "lots"}, "memory"),
])
def test_numbers_out_of_range_name_file_and_key(repo: Path, data: object, key: str) -> None:
    path = _repo_settings(repo, data)
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 2 and res.error["code"] == "config_error", res.stderr
    assert str(path) in res.error["message"] and f"`{key}`" in res.error["message"]
    assert trails("ls", "--json", cwd=repo).json["sessions"] == []
