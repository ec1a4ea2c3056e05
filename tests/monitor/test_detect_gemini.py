"""Detectors on the Gemini CLI screens recorded from the real @google/gemini-cli 0.61.0.

The screens come from ``python -m tests.fakes.record_gemini_screens`` (tmux 120x40, scripted local
Gemini API). Every ``*.txt`` in tests/data/screens/gemini/ must have an expectation here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trails.monitor import guards
from trails.monitor.detect import Detection, detect, keys_for_option, load_patterns

SCREENS = Path(__file__).resolve().parent.parent / "data" / "screens" / "gemini"
WORKDIR = "/tmp/trails-gemini-screens/gemini-demo"  # the folder the screens were recorded in

# file -> (state, kind, target)
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "trust.txt": ("prompt", "trust", None),
    "trust_recorded.txt": ("prompt", "trust", None),  # an earlier recording (no auth configured)
    "trust_restarted.txt": ("ready", None, None),  # the old dialog's lower half stays above the restarted CLI
    "idle.txt": ("ready", None, None),
    "busy.txt": ("busy", None, None),
    "approval_write.txt": ("prompt", "edit", "hello.py"),
    "approval_edit.txt": ("prompt", "edit", "hello.py"),
    "approval_shell.txt": ("prompt", "command", "python3 hello.py"),
    "finished.txt": ("ready", None, None),
}
PROMPTS = sorted(name for name, (state, _, _) in EXPECTED.items() if state == "prompt")

_EDGE = re.compile(r"^\s*[│┃]|[│┃]\s*$")


def screen(name: str) -> list[str]:
    lines = (SCREENS / name).read_text().splitlines()
    return [ln for ln in lines if not ln.startswith("# HAND-MADE")]


def detected(name: str) -> Detection:
    return detect(load_patterns("gemini"), screen(name))


def without_borders(text: str) -> str:
    return "\n".join(_EDGE.sub("", line) for line in text.splitlines())


def test_every_screen_is_recorded_and_expected() -> None:
    files = {p.name for p in SCREENS.glob("*.txt")}
    assert files == set(EXPECTED)
    hand_made = [name for name in sorted(files) if (SCREENS / name).read_text().startswith("# HAND-MADE")]
    assert hand_made == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_screens_are_classified(name: str) -> None:
    got = detected(name)
    assert (got.state, got.kind, got.target) == EXPECTED[name]


@pytest.mark.parametrize("name", PROMPTS)
def test_prompt_text_is_the_live_dialog(name: str) -> None:
    text = detected(name).text
    assert text.lstrip().startswith("╭")
    assert text.rstrip().endswith("╯")
    assert "● 1." in text
    assert "Type your message" not in text and " > " not in text  # not the input line or the history


@pytest.mark.parametrize("name", PROMPTS)
def test_keys_for_option_approves_each_prompt(name: str) -> None:
    got = detected(name)
    assert got.response is not None and got.response.option
    assert keys_for_option(got.text, got.response.option) == ["Enter"]  # the cursor starts on the approval


@pytest.mark.parametrize("name", PROMPTS)
def test_the_approving_option_is_found_once_the_borders_are_gone(name: str) -> None:
    """The patterns' option regexes fit the real labels ("Allow once", "Trust folder (...)")."""
    got = detected(name)
    assert got.response is not None and got.response.option
    text = without_borders(got.text)
    assert keys_for_option(text, got.response.option) == ["Enter"]
    moved = text.replace("● 1.", "  1.", 1).replace("  2.", "● 2.", 1)
    assert keys_for_option(moved, got.response.option) == ["Up"]


def test_the_approvals_pass_the_guards_inside_the_session() -> None:
    for name in ("approval_write.txt", "approval_edit.txt", "approval_shell.txt"):
        got = detected(name)
        assert guards.check(got.text, kind=got.kind, target=got.target, workdir=WORKDIR) is None, name


def test_a_dangerous_shell_command_is_refused() -> None:
    got = detected("approval_shell.txt")
    text = got.text.replace("python3 hello.py", "rm -rf build   ")
    lines = text.splitlines()
    again = detect(load_patterns("gemini"), lines)
    assert (again.kind, again.target) == ("command", "rm -rf build")
    assert again.commands == ("rm -rf build",)  # read inside the dialog's inner box
    refusal = guards.check(again.text, kind=again.kind, target=again.target, workdir=WORKDIR, commands=again.commands)
    assert refusal is not None and refusal.guard == "recursive delete"


def test_a_write_outside_the_session_is_refused() -> None:
    got = detected("approval_write.txt")
    lines = [ln.replace("Writing to hello.py", "Writing to /etc/hosts") for ln in got.lines]
    again = detect(load_patterns("gemini"), lines)
    assert (again.kind, again.target) == ("edit", "/etc/hosts")
    refusal = guards.check(again.text, kind=again.kind, target=again.target, workdir=WORKDIR)
    assert refusal is not None and refusal.guard == "write outside the session"


def test_a_live_approval_beats_an_old_trust_dialog_above_it() -> None:
    """After "Trust folder" the CLI restarts below the old dialog; in a tall pane it stays in view."""
    stale = screen("trust.txt")[-16:]
    got = detect(load_patterns("gemini"), [*stale, *screen("approval_shell.txt")])
    assert (got.state, got.kind) == ("prompt", "command")


def test_an_answered_trust_dialog_in_a_tall_pane_is_not_a_prompt() -> None:
    """A pane tall enough to keep the whole trust dialog in view once the CLI restarted below it."""
    restarted = screen("trust_restarted.txt")
    below = restarted[next(i for i, ln in enumerate(restarted) if "restarting to apply" in ln):]
    tall = [*screen("trust.txt"), *below]
    assert any("Do you trust the files in this folder?" in ln for ln in tall)
    assert detect(load_patterns("gemini"), tall).state == "ready"


def test_a_footer_under_live_dialogs_can_be_allowed_by_settings() -> None:
    live = [*screen("approval_shell.txt"), " Press ctrl+s to show more lines"]
    assert detect(load_patterns("gemini"), live).state != "prompt"
    allowed = detect(load_patterns("gemini", {"after_dialog": ["ctrl\\+s to show more"]}), live)
    assert (allowed.state, allowed.kind) == ("prompt", "command")


def test_older_wording_still_matches() -> None:
    patterns = load_patterns("gemini")
    old_shell = ["╭───╮", "│ ?  Shell rm -rf build │", "│ Allow execution of: 'rm'? │", "│ ● 1. Yes, allow once │",
                 "╰───╯"]
    got = detect(patterns, old_shell)
    assert (got.state, got.kind, got.target) == ("prompt", "command", "rm -rf build")
    assert detect(patterns, ["Allow execution of: 'rm'?", "╰───╯"]).target == "rm"
    assert detect(patterns, ["│ Do you trust this folder? │", "╰───╯"]).kind == "trust"
    busy = ["⠏ Thinking about the request (esc to cancel, 2s)", "│ >   Type your message or @path/to/file"]
    assert detect(patterns, busy).state == "busy"
