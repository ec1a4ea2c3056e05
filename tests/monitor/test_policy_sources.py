"""Auto-yes settings that make trails approve more come only from the user's own settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import trails
from trails.core import auto_yes
from trails.core import config as config_mod
from trails.core.config import EffectiveConfig, Settings, load_settings_file
from trails.core.errors import ConfigError
from trails.monitor import guards, policy

WORK = "/tmp/trails-policy-work"


def _settings(tmp_path: Path, data: object) -> Settings:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return load_settings_file(path)


WEAKENING = {"auto_yes": {"default": True, "answer_trust": True,
                          "guards": {"recursive delete": "", "extra": r"\bnpm\s+publish\b"},
                          "allow": [r"rm -rf (build|dist)"],
                          "responses": {"claude": {"command": {"option": "don.t ask again"}}}}}


def _check(built: policy.Policy, command: str) -> guards.Refusal | None:
    return guards.check(command, kind="command", target=None, workdir=WORK, guards=built.guards,
                        commands=(command,))


def test_repository_cannot_weaken_auto_yes(tmp_path: Path) -> None:
    config = EffectiveConfig(project=_settings(tmp_path, WEAKENING))
    built = policy.build("claude", config)
    assert not auto_yes.auto_yes_default(config)
    assert built.guards.builtin == guards.DEFAULTS.builtin  # the switch-off was not honoured
    assert built.guards.patterns == {"extra": r"\bnpm\s+publish\b"}  # adding a guard is stricter: allowed
    assert built.guards.allow == ()
    assert built.responses == {}
    assert sorted(auto_yes.project_auto_yes_ignored(config)) == [
        "auto_yes.answer_trust", "auto_yes.default", "auto_yes.guards.recursive delete", "auto_yes.responses",
    ]
    refusal = _check(built, "rm -rf build")
    assert refusal is not None and refusal.guard == "recursive delete"
    refusal = _check(built, "n''pm publish")  # an added guard also sees each command as it runs
    assert refusal is not None and refusal.guard == "extra"
    stricter = EffectiveConfig(project=_settings(tmp_path, {"auto_yes": {"answer_trust": False}}))
    assert policy.build("claude", stricter).answer_trust is False


def test_a_repository_allow_pattern_is_left_out_when_its_settings_load(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / ".trails").mkdir(parents=True)
    (root / ".trails" / "settings.json").write_text(json.dumps(
        {"auto_yes": {"allow": [".*"], "guards": {"no-publish": r"npm publish"}}}))
    config = config_mod.load(root)
    assert config.project.auto_yes is not None and config.project.auto_yes.allow == []
    assert [i.key for i in config.ignored] == ["auto_yes.allow"]
    built = policy.build("claude", config)
    assert built.guards.allow == () and "no-publish" in built.guards.patterns
    refusal = _check(built, "rm -r build")
    assert refusal is not None and refusal.guard == "recursive delete"


def test_user_settings_may_switch_guards_off_and_allow_commands(tmp_path: Path) -> None:
    config = EffectiveConfig(user=_settings(tmp_path, WEAKENING))
    built = policy.build("claude", config)
    assert auto_yes.auto_yes_default(config)
    assert "recursive delete" not in built.guards.builtin
    assert "command" in built.responses
    assert auto_yes.project_auto_yes_ignored(config) == []
    assert _check(built, "rm -r old-build") is None  # switched off …
    refusal = _check(built, "rm -r /srv/data")  # … but deleting outside the session is another guard
    assert refusal is not None and refusal.guard == "delete outside the session"


def test_allow_patterns_exempt_one_simple_command_and_nothing_else(tmp_path: Path) -> None:
    built = policy.build("claude", EffectiveConfig(user=_settings(tmp_path, {"auto_yes": {
        "allow": [r"rm -rf (build|dist)", r"git push --force-with-lease origin trails/\S+"]}})))
    for ok in ("rm -rf build", "rm  -rf  'dist'", "cd . && rm -rf build",
               "git push --force-with-lease origin trails/fix-login"):
        assert _check(built, ok) is None, ok
    for bad, guard in [("rm -rf build /", "recursive delete"), ("rm -rf build; rm -rf src", "recursive delete"),
                       ("rm -rf build && git push -f", "git history"), ("git push --force origin main", "git history"),
                       ("rm -rf build > ~/.profile", "write outside the session"),
                       ("eval 'rm -rf build'", "cannot see the command"),
                       ("$RM -rf build", "cannot see the command")]:
        refusal = _check(built, bad)
        assert refusal is not None and refusal.guard == guard, (bad, refusal)


def test_the_unseen_command_guard_cannot_be_switched_off(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be switched off"):
        _settings(tmp_path, {"auto_yes": {"guards": {"cannot see the command": ""}}})
    with pytest.raises(ConfigError, match=r"auto_yes.allow\[0\]"):
        _settings(tmp_path, {"auto_yes": {"allow": ["(unclosed"]}})


def test_new_session_reports_ignored_repository_auto_yes(repo: Path) -> None:
    (repo / ".trails").mkdir()
    (repo / ".trails" / "settings.json").write_text(json.dumps(WEAKENING))
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["session"]["auto_yes"] is False
    assert any("ignored auto_yes.default" in n for n in res.json["notes"])
    assert any("auto_yes.allow" in n for n in res.json["notes"])
    audit = trails("audit", "--json", cwd=repo).json["entries"]
    ignored = [e for e in audit if e["action"] == "settings_ignored"]
    settings = ignored[0]["detail"]["settings"]
    assert ignored and "auto_yes.guards.recursive delete" in settings
    assert any(isinstance(item, dict) and item.get("key") == "auto_yes.allow" for item in settings)
