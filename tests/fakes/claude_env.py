"""Environment for running the real Claude Code CLI against the fake API, with no first-run screens."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from tests.fakes.tmux_screen import send_keys, submit_text, wait_for_screen, wait_for_screen_gone, wait_for_stable

AGENTS_DIR = Path(__file__).resolve().parent.parent / "agents"
INSTALL_COMMAND = "npm ci --prefix tests/agents"
DUMMY_API_KEY = "sk-ant-api03-trails-test-key-000000000000000000000000000000000000000000000000-AAAAAAAA"
# A small, fast model name; the fake server accepts any name.
TEST_MODEL = "claude-haiku-4-5"

# Regexes for what the pinned CLI (2.1.330) shows in tmux, seen in tests/data/screens/claude/.
# The input line is "❯" + NO-BREAK SPACE (U+00A0) + text, so match it with "❯.", not "❯ ".
TRUST_PROMPT = r"Yes, I trust this folder"
TRUST_SELECTED = r"❯.Yes, I trust this folder"
IDLE = r"\? for shortcuts"
BUSY = r"esc to interrupt"
PERMISSION_PROMPT = r"Do you want to (create|make this edit to|proceed)"


def agent_bin(name: str) -> Path:
    """Path of an agent CLI installed from tests/agents (claude, codex, gemini)."""
    path = AGENTS_DIR / "node_modules" / ".bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; install the test agents with: {INSTALL_COMMAND}")
    return path


def claude_bin() -> Path:
    """Path of the pinned Claude Code CLI (tests/agents/node_modules/.bin/claude)."""
    return agent_bin("claude")


def make_claude_env(
    tmp_path: Path, base_url: str, *, api_key: str = DUMMY_API_KEY, trusted_dirs: Iterable[Path] = ()
) -> dict[str, str]:
    """Create a private CLAUDE_CONFIG_DIR under ``tmp_path`` and return the env vars to run claude with.

    The returned dict holds only the variables to add; merge it over ``os.environ``
    (see :func:`claude_process_env`). Onboarding is marked done, the dummy key approved, and the
    autoupdater, telemetry and other nonessential traffic are off, so neither a login, theme,
    API-key nor update screen appears. The per-folder trust prompt still appears, except for
    ``trusted_dirs`` (marked ``hasTrustDialogAccepted`` in ``.claude.json``).
    """
    config_dir = tmp_path / "claude-config"
    config_dir.mkdir(parents=True, exist_ok=True)
    state = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": "99.0.0",
        "theme": "dark",
        "numStartups": 1,
        "autoUpdates": False,
        "installMethod": "npm-local",
        "bypassPermissionsModeAccepted": False,
        "hasIdeOnboardingBeenShown": {},
        "shiftEnterKeyBindingInstalled": True,
        "hasSeenTasksHint": True,
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "projects": {
            str(Path(d).resolve()): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}
            for d in trusted_dirs
        },
    }
    (config_dir / ".claude.json").write_text(json.dumps(state, indent=2))
    settings = {"autoUpdates": False, "includeCoAuthoredBy": False}
    (config_dir / "settings.json").write_text(json.dumps(settings, indent=2))
    return {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "ANTHROPIC_MODEL": TEST_MODEL,
        "ANTHROPIC_SMALL_FAST_MODEL": TEST_MODEL,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": TEST_MODEL,
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
        "CLAUDE_CODE_IDE_SKIP_AUTO_INSTALL": "1",
        "TERM": "xterm-256color",
    }


def claude_process_env(tmp_path: Path, base_url: str, *, trusted_dirs: Iterable[Path] = ()) -> dict[str, str]:
    """``os.environ`` merged with :func:`make_claude_env`, minus variables that would leak real creds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env.update(make_claude_env(tmp_path, base_url, trusted_dirs=trusted_dirs))
    return env


def accept_trust_prompt(socket: Path, target: str, timeout: float = 30.0) -> str:
    """Answer "Yes, I trust this folder" in a claude pane and wait until the CLI is idle.

    The dialog preselects "No, exit" (unnumbered) and re-renders ~0.1 s after its first frame,
    which resets the selection and drops keys sent before it; so wait for a quiet screen, move to
    "Yes", check it is selected, then press Enter.
    """
    wait_for_screen(socket, target, TRUST_PROMPT, timeout)
    wait_for_stable(socket, target, quiet=0.3, timeout=timeout)
    send_keys(socket, target, "Down")
    wait_for_screen(socket, target, TRUST_SELECTED, timeout=5)
    send_keys(socket, target, "Enter")
    wait_for_screen_gone(socket, target, TRUST_PROMPT, timeout)
    return wait_for_screen(socket, target, IDLE, timeout)


def submit_prompt(socket: Path, target: str, text: str, timeout: float = 30.0) -> None:
    """Type ``text`` into claude's input box, wait until it is echoed, then press Enter."""
    submit_text(socket, target, text, "❯.", timeout)


def answer_permission(socket: Path, target: str, key: str = "1", timeout: float = 30.0) -> None:
    """Answer the permission prompt on screen with ``key`` ("1" = Yes) and wait until it is gone.

    Keys sent within ~0.1 s of the dialog's first frame are dropped by the CLI (it re-renders and
    resets its input), so wait for a quiet screen first.
    """
    wait_for_screen(socket, target, PERMISSION_PROMPT, timeout)
    wait_for_stable(socket, target, quiet=0.3, timeout=timeout)
    send_keys(socket, target, key)
    wait_for_screen_gone(socket, target, PERMISSION_PROMPT, timeout)
