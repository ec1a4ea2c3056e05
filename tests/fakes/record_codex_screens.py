"""Record real Codex CLI screens in tmux into tests/data/screens/codex/ (re-run after a CLI upgrade).

    python -m tests.fakes.record_codex_screens            # needs: npm ci --prefix tests/agents

Recorded from the pinned ``@openai/codex`` 0.169.0 (tests/agents/package.json), running in a 120x40
pane of a PRIVATE tmux server (``tmux -S /tmp/trails-screens/codex/tmux.sock``) against the scripted
Responses-API server in tests/fakes/openai_responses_server.py on 127.0.0.1 (no network, no login).

How the CLI is pointed at the fake (see :func:`make_codex_home`): a private ``CODEX_HOME`` whose
``config.toml`` selects a custom model provider ``trails`` with ``base_url = "http://127.0.0.1:<port>/v1"``,
``wire_api = "responses"`` and ``env_key = "TRAILS_FAKE_OPENAI_KEY"`` (the dummy key travels in that
variable, so no ``codex login`` and no ``auth.json``); ``model = "gpt-5.5"`` (a slug of the CLI's
bundled catalog, so the freeform ``apply_patch`` tool is offered; its "Meet GPT-6 Sol" upgrade notice
is marked seen in ``[notice.model_migrations]``); ``approval_policy = "on-request"`` with
``sandbox_mode = "read-only"`` so that a patch asks "Would you like to make the following edits?"
and an escalated command (``sandbox_permissions = "require_escalated"``) asks "Would you like to run
the following command?". ``--no-daemon`` keeps the CLI from starting its shared background
app-server (which would outlive the tmux session). The folder trust prompt ("Trust this folder?")
appears on the first start in a folder absent from ``[projects]``.

Screens written (``capture-pane -p`` text): ``trust.txt``, ``idle.txt``, ``busy.txt`` (a reply held
open after ``response.created``), ``approval_edit.txt``, ``approval_command.txt``, ``finished.txt``.
The demo repo is a fixed folder (``/tmp/trails-screens/codex-demo``) so paths are stable; the clock
times and elapsed seconds change between recordings. The footer's "⚠ 1 warning" is the CLI's
startup warning that bubblewrap is not on PATH (it uses its bundled copy), shown on hosts without it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.fakes.claude_env import agent_bin
from tests.fakes.openai_responses_server import ScriptedResponsesServer, add_line_patch
from tests.fakes.screen_recording import SCREENS_DIR, Recording, init_demo_repo, recorder_parser
from tests.fakes.tmux_screen import (
    new_session,
    send_keys,
    submit_text,
    wait_for_screen,
    wait_for_screen_gone,
    wait_for_stable,
)

OUT_DIR = SCREENS_DIR / "codex"
BASE = Path("/tmp/trails-screens")
REPO = BASE / "codex-demo"
SCRATCH = BASE / "codex"  # CODEX_HOME and the tmux socket
CODEX_VERSION = "0.169.0"
TEST_MODEL = "gpt-5.5"
KEY_ENV = "TRAILS_FAKE_OPENAI_KEY"
DUMMY_API_KEY = "sk-trails-test-000000000000000000000000"

# Regexes for what 0.169.0 shows in tmux (tests/data/screens/codex/).
TRUST_PROMPT = r"Trust this folder\?"
IDLE = r"Ask Codex to do anything"
BUSY = r"esc to interrupt"
EDIT_PROMPT = r"Would you like to make the following edits\?"
COMMAND_PROMPT = r"Would you like to run the following command\?"
ANY_PROMPT = r"Would you like to|Trust this folder\?"


def codex_bin() -> Path:
    """Path of the pinned Codex CLI (tests/agents/node_modules/.bin/codex)."""
    return agent_bin("codex")


def make_codex_home(
    scratch: Path, base_url: str, *, sandbox: str = "read-only", approval: str = "on-request"
) -> dict[str, str]:
    """Write a private ``CODEX_HOME`` under ``scratch`` for the fake at ``base_url``; return the env to add.

    Merge the result over ``os.environ`` (see :func:`codex_process_env`).
    """
    home = scratch / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    config = f"""\
model = "{TEST_MODEL}"
model_provider = "trails"
approval_policy = "{approval}"
sandbox_mode = "{sandbox}"
check_for_update_on_startup = false

[model_providers.trails]
name = "trails fake"
base_url = "{base_url}"
env_key = "{KEY_ENV}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[notice.model_migrations]
"{TEST_MODEL}" = "gpt-6-sol"
"""
    (home / "config.toml").write_text(config)
    return {"CODEX_HOME": str(home), KEY_ENV: DUMMY_API_KEY, "TERM": "xterm-256color"}


def codex_process_env(scratch: Path, base_url: str, **kwargs: str) -> dict[str, str]:
    """``os.environ`` merged with :func:`make_codex_home`, minus variables that would leak real creds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update(make_codex_home(scratch, base_url, **kwargs))
    return env


def codex_command() -> list[str]:
    return [str(codex_bin()), "--no-daemon"]


def submit_prompt(socket: Path, target: str, text: str, timeout: float = 30.0) -> None:
    """Type ``text`` into the composer, wait until it is echoed ("› text"), then press Enter."""
    submit_text(socket, target, text, "›\\s", timeout)


def wait_idle(socket: Path, target: str, timeout: float = 30.0) -> str:
    """Wait until no dialog and no "esc to interrupt" is on screen and the composer is back."""
    wait_for_screen_gone(socket, target, f"{ANY_PROMPT}|{BUSY}", timeout)
    wait_for_screen(socket, target, IDLE, timeout)
    return wait_for_stable(socket, target, quiet=1.0, timeout=timeout)


def record(out_dir: Path = OUT_DIR, width: int = 120, height: int = 40) -> list[Path]:
    socket = SCRATCH / "tmux.sock"
    gate = threading.Event()
    with ScriptedResponsesServer() as server, Recording(out_dir, REPO, SCRATCH, sockets=[socket]) as rec:
        init_demo_repo(REPO)
        script = server.script
        script.reply_text("Thought about it. All good.", gate=gate)
        script.reply_apply_patch(add_line_patch("hello.py", ['print("hello")']), text="Creating it.")
        script.reply_text("Created hello.py.")
        script.reply_shell("python3 hello.py", text="Running it.", escalate="Do you want to run hello.py?")
        script.reply_text("It printed hello. Done.")
        env = make_codex_home(SCRATCH, server.base_url)
        target = "codex"
        new_session(socket, target, codex_command(), cwd=REPO, env=env, width=width, height=height)
        wait_for_screen(socket, target, TRUST_PROMPT)
        rec.save("trust", wait_for_stable(socket, target, quiet=0.5))

        send_keys(socket, target, "Enter")  # "› 1. Trust and continue" is preselected
        wait_for_screen_gone(socket, target, TRUST_PROMPT)
        wait_for_screen(socket, target, IDLE)
        rec.save("idle", wait_for_stable(socket, target, quiet=1.0))

        submit_prompt(socket, target, "Think about the project")
        server.wait_for_requests(1)
        # The reply is held after response.created: "• Working (3s • esc to interrupt)".
        rec.save("busy", wait_for_screen(socket, target, BUSY))
        gate.set()
        wait_for_screen(socket, target, "All good")
        wait_idle(socket, target)

        for prompt, dialog, name, done in [
            ("Create hello.py", EDIT_PROMPT, "approval_edit", r"Created hello\.py\."),
            ("Run it", COMMAND_PROMPT, "approval_command", r"It printed hello\. Done\."),
        ]:
            submit_prompt(socket, target, prompt)
            wait_for_screen(socket, target, dialog)
            rec.save(name, wait_for_stable(socket, target, quiet=0.5))
            send_keys(socket, target, "Enter")  # "› 1. Yes, proceed (y)"
            wait_for_screen(socket, target, done)
            idle = wait_idle(socket, target)
        rec.save("finished", idle)
    return rec.written


def main() -> None:
    record(recorder_parser(__doc__, OUT_DIR).parse_args().out)


if __name__ == "__main__":
    main()
