"""What `trails new` takes besides a name — --branch, --base, --scope, --env — through the real CLI,
git and tmux: bad values are refused at once, with the reason, and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import git, trails


def _nothing_made(repo: Path) -> None:
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/heads") == "refs/heads/main"
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []


@pytest.mark.parametrize(("branch", "why"), [
    ("refs/heads/zz", "starts with 'refs/'"),
    ("refs/tags/v1", "starts with 'refs/'"),
    ("-x", "starts with '-'"),
    ("--orphan", "starts with '-'"),
    ("HEAD", "special ref"),
    ("FETCH_HEAD", "special ref"),
    ("HEAD/x", "special ref"),
    ("@", "'@' alone"),
    ("a@{1}", "'@{'"),
    ("0123456789abcdef0123456789abcdef01234567", "commit id"),
    ("bad..name", "'..'"),
    ("ends.lock", "'.lock'"),
    ("with space", "' '"),
    ("trailing.", "ends with '.'"),
    ("a//b", "empty path component"),
])
def test_ambiguous_or_invalid_branches_are_refused_with_the_reason(repo: Path, branch: str, why: str) -> None:
    res = trails("new", "s1", "sleep 600", f"--branch={branch}", "--json", cwd=repo)
    assert res.code == 1, res.stdout
    assert res.error["code"] == "branch_error"
    assert "not a valid branch name" in res.error["message"] and why in res.error["message"], res.error
    _nothing_made(repo)


def test_a_full_ref_name_as_branch_gets_a_hint_to_drop_the_prefix(repo: Path) -> None:
    res = trails("new", "s1", "sleep 600", "--branch", "refs/heads/zz", "--json", cwd=repo)
    assert res.error["hint"] == "give the branch's short name, e.g. 'zz'"
    assert trails("new", "s1", "sleep 600", "--branch", "zz", "--json", cwd=repo).json["session"]["branch"] == "zz"
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/zz", "refs/heads/refs") == "refs/heads/zz"


def test_a_branch_prefix_from_settings_is_held_to_the_same_rules(repo: Path, trails_env: dict[str, Path]) -> None:
    (trails_env["home"] / "settings.json").write_text(json.dumps({"branch_prefix": "refs/heads/"}))
    res = trails("new", "s1", "sleep 600", "--json", cwd=repo)
    assert res.code == 1 and res.error["code"] == "branch_error"
    assert "the session's branch 'refs/heads/s1'" in res.error["message"]
    _nothing_made(repo)


@pytest.mark.parametrize("base", ["-x", "--output=/tmp/trails-base-injected"])
def test_a_base_that_starts_with_a_dash_is_refused(repo: Path, base: str) -> None:
    res = trails("new", "s1", "sleep 600", f"--base={base}", "--json", cwd=repo)
    assert res.code == 2 and res.error["code"] == "invalid_input"
    assert "starts with '-'" in res.error["message"], res.error
    assert not Path("/tmp/trails-base-injected").exists()
    _nothing_made(repo)


@pytest.mark.parametrize("scope", ["../../etc", "/etc/passwd", "src/../../outside", "link-out/x"])
def test_scope_outside_the_repository_is_refused_naming_the_path(repo: Path, tmp_path: Path, scope: str) -> None:
    (repo / "link-out").symlink_to(tmp_path)  # inside by its name, outside once resolved
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--scope", scope, "--json", cwd=repo)
    assert res.code == 2 and res.error["code"] == "invalid_input"
    assert f"--scope {scope!r} is outside the repository" in res.error["message"], res.error
    assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []


def test_scope_inside_is_taken_from_the_root_and_normalised(repo: Path, trails_env: dict[str, Path]) -> None:
    # The rule is the user's own: a repository's rule may not lower isolation below --mode.
    (trails_env["home"] / "settings.json").write_text(json.dumps({"project_rules": [
        {"pattern": "docs/*", "allowed_modes": ["direct"], "reason": "docs only"}]}))
    # Spelled three ways, the scope is docs/guide.md, which the rule matches: worktree is refused.
    for scope in ("./docs//guide.md", "src/../docs/guide.md", str(repo / "docs" / "guide.md")):
        res = trails("new", "s1", "sleep 600", "--mode", "worktree", "--scope", scope, "--json", cwd=repo)
        assert res.code == 1 and res.error["code"] == "rule_violation", (scope, res.stderr)
    made = trails("new", "s1", "sleep 600", "--mode", "direct", "--scope", "./docs/guide.md", "--json", cwd=repo)
    assert made.code == 0, made.stderr
    assert made.json["session"]["extra"]["scope"] == ["docs/guide.md"]


@pytest.mark.parametrize("key", ["TRAILS_HOME", "TRAILS_SESSION", "TRAILS_TMUX_SOCKET", "TRAILS_ANYTHING",
                                 "TMUX", "TMUX_PANE"])
def test_variables_trails_sets_or_reads_are_refused_in_env(repo: Path, tmp_path: Path, key: str) -> None:
    res = trails("new", "s1", "sleep 600", "--mode", "direct", "--env", f"{key}={tmp_path}", "--json", cwd=repo)
    assert res.code == 2 and res.error["code"] == "invalid_input"
    assert f"--env {key}: trails sets or reads {key} itself" in res.error["message"], res.error
    assert "TRAILS_*" in res.error["hint"]
    assert trails("ls", "--all", "--json", cwd=repo).json["sessions"] == []
