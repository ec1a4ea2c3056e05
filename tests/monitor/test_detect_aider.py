"""The Aider detector on screens recorded from the real CLI (aider-chat 0.86.2).

The screens come from ``python -m tests.fakes.record_aider_screens`` (Aider in tmux 120x40 against
the scripted Chat Completions server in tests/fakes/openai_chat_server.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trails.monitor.detect import Detection, detect, load_patterns

SCREENS = Path(__file__).resolve().parent.parent / "data" / "screens" / "aider"

# screen → (state, prompt kind, keys trails types to answer)
EXPECTED: dict[str, tuple[str | None, str | None, tuple[str, ...] | None]] = {
    "first_run_analytics.txt": ("prompt", "trust", ("n", "Enter")),  # opt out of analytics
    "first_run_gitignore.txt": ("prompt", "trust", ("y", "Enter")),  # Aider's recommended default
    "first_run_docs_url.txt": ("prompt", "trust", ("n", "Enter")),  # never open a browser
    "idle.txt": ("ready", None, None),
    "busy.txt": ("busy", None, None),
    "streaming.txt": (None, None, None),  # Aider shows no marker while a reply streams
    "finished.txt": ("ready", None, None),
    "confirm_create.txt": ("prompt", "edit", ("y", "Enter")),
    "confirm_add_file.txt": ("prompt", "edit", ("y", "Enter")),
    "confirm.txt": ("prompt", "command", ("y", "Enter")),
    "confirm_output.txt": ("prompt", "command", ("y", "Enter")),
    "confirm_narrow.txt": ("prompt", "edit", ("y", "Enter")),  # the question broken over two lines
}
WIDTH = 120  # of the recording's panes; confirm_narrow's was NARROW
NARROW = 48


def lines(name: str) -> list[str]:
    return (SCREENS / name).read_text().splitlines()


def aider(screen: list[str], width: int = WIDTH) -> Detection:
    return detect(load_patterns("aider"), screen, width)


def width_of(name: str) -> int:
    return NARROW if name == "confirm_narrow.txt" else WIDTH


def test_every_recorded_screen_is_covered_and_none_is_hand_made() -> None:
    names = sorted(p.name for p in SCREENS.glob("*.txt"))
    assert names == sorted(EXPECTED)
    for name in names:
        assert not any(ln.startswith("# HAND-MADE") for ln in lines(name)), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recorded_screens_are_classified(name: str) -> None:
    state, kind, keys = EXPECTED[name]
    got = aider(lines(name), width_of(name))
    assert (got.state, got.kind) == (state, kind)
    if keys is None:
        assert got.response is None
    else:
        assert got.response is not None and got.response.keys == keys and got.response.option is None


@pytest.mark.parametrize(
    ("name", "subject", "question"),
    [
        (
            "first_run_docs_url.txt",
            "https://aider.chat/docs/llms/warnings.html",
            "Open documentation url for more info?",
        ),
        ("confirm_create.txt", "hello.py", "Create new file?"),
        ("confirm_add_file.txt", "greet.py", "Add file to the chat?"),
        ("confirm.txt", "python3 hello.py", "Run shell command?"),
    ],
)
def test_prompt_text_is_the_live_question_with_its_subject(name: str, subject: str, question: str) -> None:
    text = aider(lines(name)).text
    assert text.splitlines()[0] == subject  # the subject follows a blank line, so it starts the dialog
    assert text.splitlines()[-1].startswith(question)
    assert "[Yes]: y" not in text and "[Yes]: n" not in text  # earlier, answered questions stay out


def test_a_question_broken_at_the_pane_edge_is_matched_whole() -> None:
    screen = lines("confirm_narrow.txt")
    assert max(len(ln) for ln in screen) == NARROW  # Aider broke it mid-word: "... ask aga" / "in [Yes]:"
    assert aider(screen, width=200).state != "prompt"  # without knowing the pane's width, no match
    got = aider(screen, NARROW)
    assert got.text.splitlines() == ["hello.py", "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]:"]
    answered = [*screen[: max(i for i, ln in enumerate(screen) if ln.strip()) + 1]]
    answered[-1] += " y"
    assert aider(answered, NARROW).state != "prompt"


def test_answered_questions_in_the_scrollback_are_not_prompts() -> None:
    # confirm_output.txt shows "Create new file? ... [Yes]: y" and "Run shell command? ... [Yes]: y" above
    # the live question; once that one is answered too, nothing on screen asks anything.
    screen = lines("confirm_output.txt")
    live = max(i for i, ln in enumerate(screen) if ln.strip())
    assert screen[live].startswith("Add command output to the chat?")
    screen[live] += "y"
    assert aider(screen).state is None
    assert aider([*screen, "", "> "]).state == "ready"


def test_a_question_answered_with_a_bare_enter_is_not_live_once_aider_goes_on() -> None:
    # Enter alone takes the default and leaves "[Yes]: " as it was; what Aider prints next goes below.
    screen = lines("confirm.txt")
    assert aider(screen).state == "prompt"
    reply = [ln for ln in lines("finished.txt") if ln.strip()][-5:-2]  # recorded reply text and token count
    assert aider([*screen, *reply]).state != "prompt"


def test_the_ascii_spinner_is_busy_too() -> None:
    # Without unicode the spinner draws "#=" / "=#" instead of "█░" / "░█".
    screen = [ln.replace("░█", "=#") for ln in lines("busy.txt")]
    assert any("=#" in ln for ln in screen)
    assert aider(screen).state == "busy"


@pytest.mark.parametrize(
    ("line", "kind"),
    [  # wording of other Aider versions and other questions
        ("Add hello.py to the chat? (Y)es/(N)o [Yes]: ", "edit"),
        ("Allow edits to file that has not been added to the chat? (Y)es/(N)o [Yes]: ", "edit"),
        ("Edit the files? (Y)es/(N)o [Yes]: ", "edit"),
        ("Run shell commands? (Y)es/(N)o/(S)kip all/(D)on't ask again [Yes]: ", "command"),
        ("Open documentation URL for more info? (Y)es/(N)o/(D)on't ask again [Yes]: ", "trust"),
        ("Attempt to fix lint errors? (Y)es/(N)o [Yes]: ", "confirm"),
    ],
)
def test_other_questions(line: str, kind: str) -> None:
    assert aider(["> do it", "", "subject", line]).kind == kind


def test_ready_prompt_variants() -> None:
    for prompt in ("> ", "architect> ", "ask multi> "):
        assert aider(["────", prompt]).state == "ready"
    assert aider(["────", "> Think about the project"]).state is None
