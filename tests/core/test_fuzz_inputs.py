"""Property-based tests of what `trails new` takes: session names, branch names, --env, --scope.

Each input is either taken, and then works where it goes (git takes the name, sh sets the variable to
exactly that value, the scope stays inside the repository), or refused with its own error code and
field; through the real CLI, a refusal leaves nothing behind and no input prints a traceback.
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.fuzzing import FAST, SLOW, cli_refused, nasty_text, no_traceback, refused
from tests.helpers import git, trails
from trails.core import inputs
from trails.core.errors import BranchError, InvalidInput, InvalidName
from trails.core.names import NAME_RE, session_of_tmux_name, tmux_name, validate_session_name
from trails.infra.tmux import write_env_file


def _git_takes_ref(ref: str) -> bool:
    return subprocess.run(["git", "check-ref-format", ref], capture_output=True, check=False).returncode == 0


def _argv_safe(text: str) -> bool:
    """Whether a process can be given `text` as an argument (what a shell could pass at all)."""
    try:
        return "\x00" not in text and bool(os.fsencode(text))
    except UnicodeEncodeError:
        return False


def _git_branch(name: str) -> str | None:
    """What git makes of `name` given as a branch (None: refused, or no process could be given it);
    @{-1} and friends expand here."""
    if not _argv_safe(name):
        return None
    cp = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, check=False)
    return os.fsdecode(cp.stdout.removesuffix(b"\n")) if cp.returncode == 0 else None


names = nasty_text | st.from_regex(NAME_RE, fullmatch=True) | \
    st.lists(st.sampled_from(["a", "0", ".", "..", "_", "-", ".lock", "@{", "x"]), min_size=1, max_size=8).map("".join)


@settings(**FAST)
@given(names)
@example("a.lock")
@example("a..b")
@example("x" * 64)
def test_a_session_name_is_taken_only_when_git_and_tmux_can_use_it(name: str) -> None:
    try:
        assert validate_session_name(name) == name
    except InvalidName as exc:
        refused(exc, "invalid_name", field="name")
        assert repr(name) in exc.message
        return
    assert NAME_RE.fullmatch(name)
    for ref in (f"refs/heads/trails/{name}", f"refs/trails/saved/{name}/1"):
        assert _git_takes_ref(ref), ref
    assert not set(tmux_name(name)) & set(".:"), tmux_name(name)  # tmux's target separators


@settings(**FAST)
@given(st.from_regex(NAME_RE, fullmatch=True), st.from_regex(NAME_RE, fullmatch=True))
def test_two_session_names_never_share_a_tmux_session(a: str, b: str) -> None:
    assert (tmux_name(a) == tmux_name(b)) == (a == b)


@settings(**FAST)
@given(st.from_regex(NAME_RE, fullmatch=True))
def test_a_tmux_session_tells_the_session_it_was_made_for(name: str) -> None:
    # `doctor --check` names an orphaned tmux session's session this way.
    assert session_of_tmux_name(tmux_name(name)) == name


branches = nasty_text | st.lists(st.sampled_from(
    ["a", "b/", "/", ".", "..", "-", "@", "@{", "{-1}", "HEAD", "refs/", "heads/", ".lock", "~", "^", ":", "0"]),
    min_size=1, max_size=8).map("".join) | st.text(string.hexdigits, min_size=40, max_size=40)


@settings(**FAST)
@given(branches)
@example("@{-1}")
@example("HEAD")
@example("refs/heads/x")
@example("-f")
@example("0123456789abcdef0123456789abcdef01234567")
def test_a_branch_is_taken_only_when_git_makes_that_same_branch_of_it(branch: str) -> None:
    made = _git_branch(branch)
    try:
        inputs.check_branch(branch)
    except BranchError as exc:
        refused(exc, "branch_error", field="branch")
        assert "is not a valid branch name" in exc.message
        if made == branch:  # git would take it, but read it as something else: the reason says what
            reasons = ("'-'", "'refs/'", "special ref", "commit id", "'@' alone")
            assert any(why in exc.message for why in reasons), exc.message
        return
    assert made == branch, (branch, made)


env_keys = nasty_text | st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True) | \
    st.sampled_from(["PATH", "PWD", "OLDPWD", "TMUX", "TMUX_PANE", "TRAILS_HOME", "TRAILS_X", "BASH_FUNC_f%%", "1A"])


@settings(**FAST)
@given(st.dictionaries(env_keys, nasty_text, max_size=3))
@example({"K": "\udcff"})
@example({"K": "a\x00b"})
@example({"é": "1"})
@example({"PWD": "/"})
def test_an_env_variable_is_taken_only_when_the_agent_gets_exactly_it(tmp_path: Path, env: dict[str, str]) -> None:
    try:
        inputs.check_env(env)
    except InvalidInput as exc:
        refused(exc, "invalid_input", field="env")
        return
    # What the pane does with it (infra/tmux.py): sh sources the file, then the agent starts.
    env_file = tmp_path / "env"
    write_env_file(env_file, env)
    # env -0 by its full path: the variables may well include a PATH.
    out = subprocess.run(["sh", "-c", '. "$1" && exec "$2" -0', "sh", str(env_file), shutil.which("env") or "env"],
                         capture_output=True,
                         env={}, check=True).stdout
    got = dict(item.split(b"=", 1) for item in out.split(b"\0") if item)
    for key, value in env.items():
        assert got.get(os.fsencode(key)) == os.fsencode(value), key


@pytest.fixture
def scoped_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "deep").mkdir(parents=True)
    (root / "link-in").symlink_to(root / "src")
    (root / "link-out").symlink_to(tmp_path)
    return root


scope_parts = st.sampled_from(["src", "deep", "..", ".", "", "link-in", "link-out", "x", "~", "\x00", "é", "\udcff"])


@settings(**FAST)
@given(st.lists(scope_parts, max_size=5).map("/".join) | nasty_text, st.booleans())
@example("../repo/src", False)
@example("link-out/repo", False)
@example("", True)
def test_a_scope_is_taken_only_inside_the_repository(scoped_repo: Path, given_path: str, absolute: bool) -> None:
    scope = str(scoped_repo / given_path) if absolute and "\x00" not in given_path else given_path
    try:
        (rel,) = inputs.scope_paths([scope], scoped_repo)
    except InvalidInput as exc:
        refused(exc, "invalid_input", field="scope")
        return
    root = scoped_repo.resolve()
    assert not Path(rel).is_absolute() and ".." not in Path(rel).parts, rel
    assert (root / rel).resolve().is_relative_to(root), rel


def _state(repo: Path) -> tuple[str, str, int]:
    """Branches, worktrees and session rows (ended ones too): what a refusal must leave as it was."""
    return (git(repo, "for-each-ref", "--format=%(refname)", "refs/heads"), git(repo, "worktree", "list"),
            len(trails("ls", "--all", "--json", cwd=repo).json["sessions"]))


argv_text = st.lists(st.sampled_from("ab-./@{}~^: \t'\"$`;é\udcff"), min_size=1, max_size=10).map("".join)
env_args = st.builds("{}={}".format, env_keys, argv_text) | argv_text


@settings(**SLOW)
@given(name=names.filter(_argv_safe) | st.just("ok"), branch=argv_text | st.none(),
       env=st.none() | env_args.filter(_argv_safe), scope=st.none() | argv_text)
@example(name="ok", branch=None, env="K=\udcff", scope=None)
@example(name="ok", branch="a@{1}", env=None, scope="../x")
@example(name="-:", branch=None, env=None, scope=None)  # CI drew it: an option, to argparse
def test_trails_new_takes_or_refuses_any_input_and_a_refusal_leaves_nothing(
        repo: Path, name: str, branch: str | None, env: str | None, scope: str | None) -> None:
    args = ["new", name, "sleep 600", "--mode", "worktree", "--json"]
    args += [f"--branch={branch}"] if branch is not None else []
    args += [f"--env={env}"] if env is not None else []
    args += [f"--scope={scope}"] if scope is not None else []
    before = _state(repo)
    res = trails(*args, cwd=repo)
    no_traceback(res)
    if res.code != 0:
        # A name that starts with "-" reads as an option: a usage error that says to put it after "--".
        error = cli_refused(res, "invalid_name", "invalid_input", "branch_error",
                            *(["usage"] if name.startswith("-") else []))
        assert error["code"] != "usage" or "'--'" in error.get("hint", ""), error
        assert _state(repo) == before
        return
    made = res.json["session"]
    assert made["name"] == name and made["branch"] == (branch or f"trails/{name}")
    assert git(repo, "rev-parse", "--verify", f"refs/heads/{made['branch']}")
    killed = trails("kill", name, "--force", "--delete-branch", "--json", cwd=repo)
    assert killed.code == 0, killed.stderr
    assert _state(repo)[:2] == before[:2]
