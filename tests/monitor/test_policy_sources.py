"""Auto-yes settings that make trails approve more come only from the user's own settings."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import trails
from trails.core import auto_yes
from trails.core.config import EffectiveConfig, Settings, load_settings_file
from trails.monitor import policy


def _settings(tmp_path: Path, data: object) -> Settings:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    return load_settings_file(path)


WEAKENING = {"auto_yes": {"default": True, "answer_trust": True, "guards": {"rm -rf": "", "extra": "curl"},
                          "responses": {"claude": {"command": {"option": "don.t ask again"}}}}}


def test_repository_cannot_weaken_auto_yes(tmp_path: Path) -> None:
    config = EffectiveConfig(project=_settings(tmp_path, WEAKENING))
    built = policy.build("claude", config)
    assert not auto_yes.auto_yes_default(config)
    assert built.guards["rm -rf"] == auto_yes.DEFAULT_GUARDS["rm -rf"]
    assert built.guards["extra"] == "curl"  # adding a guard is stricter: allowed
    assert built.responses == {}
    assert sorted(auto_yes.project_auto_yes_ignored(config)) == [
        "auto_yes.answer_trust", "auto_yes.default", "auto_yes.guards.rm -rf", "auto_yes.responses",
    ]
    stricter = EffectiveConfig(project=_settings(tmp_path, {"auto_yes": {"answer_trust": False}}))
    assert policy.build("claude", stricter).answer_trust is False


def test_user_settings_may_change_auto_yes(tmp_path: Path) -> None:
    config = EffectiveConfig(user=_settings(tmp_path, WEAKENING))
    built = policy.build("claude", config)
    assert auto_yes.auto_yes_default(config)
    assert "rm -rf" not in built.guards
    assert "command" in built.responses
    assert auto_yes.project_auto_yes_ignored(config) == []


def test_new_session_reports_ignored_repository_auto_yes(repo: Path) -> None:
    (repo / ".trails").mkdir()
    (repo / ".trails" / "settings.json").write_text(json.dumps(WEAKENING))
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    assert res.json["session"]["auto_yes"] is False
    assert any("ignored auto_yes.default" in n for n in res.json["notes"])
    audit = trails("audit", "--json", cwd=repo).json["entries"]
    ignored = [e for e in audit if e["action"] == "settings_ignored"]
    assert ignored and "auto_yes.guards.rm -rf" in ignored[0]["detail"]["settings"]
