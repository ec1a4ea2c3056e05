"""Mode selection: precedence, rules, fallback and the audit trail."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import make_repo, trails
from trails.core.config import EffectiveConfig, ProjectRule, Settings
from trails.core.errors import ModeUnavailable, RuleViolation
from trails.core.models import Mode
from trails.core.modes import applicable_rules, select_mode


def _all_available(_: Mode) -> str | None:
    return None


def _pick(flag: str | None = None, *, config: EffectiveConfig | None = None, rules: list[ProjectRule] | None = None,
          unavailable=_all_available, agent: str = "claude"):  # type: ignore[no-untyped-def]
    return select_mode(flag=flag, agent=agent, config=config or EffectiveConfig(), rules=rules or [],
                       unavailable=unavailable, env=dict(os.environ))


def test_precedence_flag_env_agent_project_user_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config = EffectiveConfig(
        user=Settings(session_mode="direct"),
        project=Settings(session_mode="container", mode_preferences={"claude": "worktree"}),
    )
    assert (_pick().mode, _pick().source) == (Mode.WORKTREE, "default")
    assert _pick(config=EffectiveConfig(user=Settings(session_mode="direct"))).source == "user"
    assert _pick(config=EffectiveConfig(user=Settings(session_mode="direct"),
                                        project=Settings(session_mode="container"))).source == "project"
    decision = _pick(config=config)
    assert (decision.mode, decision.source) == (Mode.WORKTREE, "agent preference")
    monkeypatch.setenv("TRAILS_MODE", "container")
    decision = _pick(config=config)
    assert (decision.mode, decision.source) == (Mode.CONTAINER, "env")
    decision = _pick("basic", config=config)
    assert (decision.mode, decision.source) == (Mode.DIRECT, "flag")


def test_required_rule_overrides_implicit_mode_and_rejects_explicit() -> None:
    rule = ProjectRule(pattern="*.rs", required_mode="container", reason="unsafe code")
    decision = _pick(rules=[rule])
    assert (decision.mode, decision.source) == (Mode.CONTAINER, "rule")
    with pytest.raises(RuleViolation, match=r"rule '\*\.rs' \(unsafe code\).*requires container"):
        _pick("direct", rules=[rule])


def test_allowed_rule_limits_modes() -> None:
    rule = ProjectRule(pattern="docs/*", allowed_modes=["direct", "worktree"], reason="docs are harmless")
    assert _pick(rules=[rule]).mode == Mode.WORKTREE
    with pytest.raises(RuleViolation, match="allowed modes are direct, worktree"):
        _pick("container", rules=[rule])
    config = EffectiveConfig(user=Settings(session_mode="container"))
    decision = _pick(config=config, rules=[rule])
    assert (decision.mode, decision.source) == (Mode.WORKTREE, "rule")


def test_fallback_walks_the_chain_and_says_so() -> None:
    def no_container(mode: Mode) -> str | None:
        return "no engine" if mode is Mode.CONTAINER else None

    decision = _pick("container", unavailable=no_container)
    assert (decision.mode, decision.source) == (Mode.WORKTREE, "fallback")
    assert "falling back to worktree" in decision.notes[0]
    config = EffectiveConfig(user=Settings(mode_fallback_chain=["container", "direct"]))
    assert _pick("container", config=config, unavailable=no_container).mode == Mode.DIRECT


def test_fallback_never_overrides_a_required_mode() -> None:
    rule = ProjectRule(pattern="*.rs", required_mode="container", reason="sandbox")
    with pytest.raises(ModeUnavailable, match="requires it"):
        _pick(rules=[rule], unavailable=lambda m: "no engine" if m is Mode.CONTAINER else None)


def test_rules_match_scope_or_tracked_files() -> None:
    rs = ProjectRule(pattern="*.rs", required_mode="container")
    docs = ProjectRule(pattern="docs/*", allowed_modes=["direct"])
    files = ["src/main.rs", "docs/index.md", "README.md"]
    assert applicable_rules([rs, docs], [], lambda: files) == [rs, docs]
    assert applicable_rules([rs, docs], ["docs"], lambda: files) == [docs]
    assert applicable_rules([rs, docs], ["README.md"], lambda: files) == []
    assert applicable_rules([rs], [], lambda: ["README.md"]) == []


def test_cli_outside_git_falls_back_to_direct_and_audits_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    res = trails("new", "s1", "sleep 600", "--json", cwd=plain)
    assert res.code == 0, res.stderr
    assert res.json["session"]["mode"] == "direct"
    assert any("falling back to direct" in n for n in res.json["notes"])
    entries = trails("audit", "--json", cwd=plain).json["entries"]
    selected = [e for e in entries if e["action"] == "mode_selected"]
    assert selected and selected[0]["detail"]["source"] == "fallback"
    assert "not inside a git repository" in selected[0]["detail"]["reason"]


def test_cli_rule_violation_names_rule_and_reason(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "w" / "r", {"lib.rs": "fn main(){}\n"})
    (repo / ".trails").mkdir()
    (repo / ".trails" / "settings.json").write_text(json.dumps(
        {"project_rules": [{"pattern": "*.rs", "allowed_modes": ["worktree"], "reason": "rust needs review"}]}
    ))
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--json", cwd=repo)
    assert res.code == 1
    assert res.error["code"] == "rule_violation"
    assert "'*.rs'" in res.error["message"] and "rust needs review" in res.error["message"]
    ok = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert ok.code == 0 and ok.json["session"]["mode"] == "worktree"


def test_doctor_reports_tools_and_the_mode_it_would_pick(repo: Path) -> None:
    res = trails("doctor", "--json", cwd=repo)
    assert res.code == 0, res.stderr
    report = res.json
    assert report["tmux"]["available"] and report["tmux"]["version"].startswith("tmux")
    assert report["git"]["version"].startswith("git version")
    assert report["repo"] == str(repo)
    assert set(report["nested"]) == {"container", "wsl", "ssh"}
    assert report["modes"]["direct"]["available"] and report["modes"]["worktree"]["available"]
    assert report["would_pick"]["mode"] == "worktree"
