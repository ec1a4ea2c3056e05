"""The command judge's parts: readings of a dialog, git aliases, container paths, robustness."""

from __future__ import annotations

import random
import time
from pathlib import Path

from tests.helpers import git
from trails.monitor import guards, shellparse
from trails.monitor.detect import detect, load_patterns
from trails.monitor.shellguard import Where, judge

CLAUDE_DIALOG = [
    "─" * 80, " Bash command", " Clean up", "╌" * 80, *["{}"], "╌" * 80, " This command requires approval", "",
    " Do you want to proceed?", " ❯ 1. Yes", "   2. Yes, and don’t ask again", "   3. No", "", " Esc to cancel",
]


def _claude(*command_lines: str, width: int = 80) -> tuple[str, ...] | None:
    lines = [*CLAUDE_DIALOG[:4], *[f" {ln}" for ln in command_lines], *CLAUDE_DIALOG[5:]]
    got = detect(load_patterns("claude"), lines, width)
    assert got.kind == "command"
    return got.commands


def test_a_multi_line_command_is_read_whole() -> None:
    assert _claude("cd src &&", "  rm -rf build") == ("cd src &&\n  rm -rf build",)


def test_a_line_the_agent_may_have_wrapped_is_also_read_joined() -> None:
    first = "echo " + "x" * 64 + " && rm"  # 75 columns and the indent: no room for " -rf" on an 80-column pane
    readings = _claude(first, "-rf build")
    assert readings is not None and len(readings) == 3
    assert readings[1] == first + " -rf build"
    refusal = guards.check("", kind="command", target=None, workdir="/tmp/w", commands=readings)
    assert refusal is not None and refusal.guard == "recursive delete"  # only the joined reading deletes
    assert _claude("echo short", "rm x") == ("echo short\nrm x",)  # room left: not wrapped


def test_a_joined_reading_that_does_not_parse_does_not_refuse_on_its_own() -> None:
    readings = ("echo 'a\nb' && ls", "echo 'a b' && ls", "echo 'ab' && ls'")
    assert guards.check("", kind="command", target=None, workdir="/tmp/w", commands=readings) is None
    hidden = ("ev\nal \"$x\"", "ev al \"$x\"", "eval \"$x\"")  # a split word is still judged when joined
    refusal = guards.check("", kind="command", target=None, workdir="/tmp/w", commands=hidden)
    assert refusal is not None and refusal.guard == "cannot see the command"


def test_a_command_dialog_that_does_not_show_its_command_is_not_approved() -> None:
    lines = ["─" * 80, " Some tool", " Do you want to proceed?", " ❯ 1. Yes", "   2. No", " Esc to cancel"]
    got = detect(load_patterns("claude"), lines, 80)
    assert got.commands == ()
    refusal = guards.check(got.text, kind=got.kind, target=got.target, workdir="/tmp/w", commands=got.commands)
    assert refusal is not None and refusal.guard == "cannot see the command"


def test_git_aliases_are_judged_by_what_they_stand_for(repo: Path) -> None:
    git(repo, "config", "alias.yolo", "push --force")
    git(repo, "config", "alias.wipe", "!git reset --hard && git clean -fd")
    git(repo, "config", "alias.st", "status --short")
    alias = guards.git_aliases(str(repo))
    for command in ("git yolo origin main", "git wipe"):
        refusal = guards.check("", kind="command", target=None, workdir=str(repo), commands=(command,),
                               git_alias=alias)
        assert refusal is not None and refusal.guard == "git history", command
    for command in ("git st", "git lfs pull"):  # an alias that only reads; a git-<name> program
        assert guards.check("", kind="command", target=None, workdir=str(repo), commands=(command,),
                            git_alias=alias) is None, command


def test_a_container_agent_names_its_worktree_workspace(tmp_path: Path) -> None:
    work = tmp_path / "wt"
    work.mkdir()
    where = Where(str(work), "/workspace", str(tmp_path / "home"))
    assert not judge("echo hi > /workspace/out.txt && cp a /workspace/b", where).findings
    assert [f.guard for f in judge("cp a /etc/b", where).findings] == ["write outside the session"]
    assert guards.check("", kind="write", target="/workspace/x.py", workdir=str(work), seen_as="/workspace") is None


def test_symlinks_are_followed_where_they_exist(tmp_path: Path) -> None:
    work, outside = tmp_path / "w", tmp_path / "o"
    work.mkdir()
    outside.mkdir()
    (work / "link").symlink_to(outside)
    where = Where(str(work), home=str(tmp_path))
    assert [f.guard for f in judge("echo x > link/f", where).findings] == ["write outside the session"]
    assert guards.check("", kind="edit", target="link/f", workdir=str(work)) is not None


def test_the_parser_names_the_commands_with_their_directory_and_input() -> None:
    script = shellparse.parse("cd sub && FOO=1 make | tee log; cat <<EOF | sh\nls\nEOF", cwd="/w", home="/h")
    assert [c.argv() for c in script.commands] == [["cd", "sub"], ["make"], ["tee", "log"], ["cat"], ["sh"]]
    assert [c.cwd for c in script.commands] == ["/w", "/w/sub", "/w/sub", "/w/sub", "/w/sub"]
    assert script.commands[1].assigns["FOO"].value == "1"
    assert [u.argv() for u in script.commands[2].upstream] == [["make"]]
    assert script.commands[3].stdin_text == "ls\n" and script.commands[4].upstream[0].argv() == ["cat"]


def test_odd_input_is_refused_or_judged_never_raises_and_stays_quick() -> None:
    tokens = ["rm", "-rf", "/", "'", '"', "$(", ")", "`", "<(", "|", "&&", ";", "\n", "{", "}", "$x", "\\", "<<EOF",
              "EOF", "*", "~", "..", "git", "push", "-f", "eval", "$'\\x72'", "((", "))", "[[", "]]", "#", "=", ">"]
    rng = random.Random(17)
    start = time.monotonic()
    for _ in range(400):
        line = " ".join(rng.choice(tokens) for _ in range(rng.randint(1, 25)))
        guards.check(line, kind="command", target=None, workdir="/tmp/w", commands=(line,))
    deep = "(" * 3000 + "ls" + ")" * 3000
    refusal = guards.check(deep, kind="command", target=None, workdir="/tmp/w", commands=(deep,))
    assert refusal is not None and refusal.guard == "cannot see the command"
    huge = "rm {1..9}{1..9}{1..9}{1..9}{1..9}"  # 59,049 words: not expanded, so not seen
    refusal = guards.check(huge, kind="command", target=None, workdir="/tmp/w", commands=(huge,))
    assert refusal is not None and refusal.guard == "cannot see the command"
    assert time.monotonic() - start < 30
