"""Record the Gemini CLI's screens into tests/data/screens/gemini/ from the real, pinned CLI.

Run from the repo root (needs tmux and ``npm ci --prefix tests/agents``)::

    .venv/bin/python -m tests.fakes.record_gemini_screens [--out DIR]

It runs ``tests/agents/node_modules/.bin/gemini`` (``@google/gemini-cli`` 0.61.0, pinned in
tests/agents/package.json) in a 120x40 tmux pane on a private socket (``tmux -S``, never the default
server) against :class:`tests.fakes.gemini_server.ScriptedGeminiServer` on loopback. No network is
needed: the CLI finds its settings in a private home (``GEMINI_CLI_HOME`` and ``HOME``) whose
``.gemini/settings.json`` selects the ``gemini-api-key`` auth type (no auth dialog; the key is a dummy),
pins the model (so no model-routing side calls), and turns off auto-update, usage statistics,
telemetry and the IDE integration; ``GOOGLE_GEMINI_BASE_URL`` points the ``@google/genai`` client at the
fake server, which then sees only ``streamGenerateContent?alt=sse`` calls.

Screens (each the plain ``capture-pane -p`` text):

* ``trust.txt``: the folder-trust dialog of a first start in an untrusted folder.
* ``trust_restarted.txt``: after choosing "Trust folder" the CLI restarts itself below the old dialog,
  whose lower part stays on screen (not a live prompt any more; in a pane taller than ~50 rows its
  question would still be visible too).
* ``idle.txt``: a fresh start in the now-trusted folder, waiting at the input line.
* ``busy.txt``: while a reply is held back by the fake server (spinner + "esc to cancel").
* ``approval_write.txt`` / ``approval_edit.txt``: "Apply this change?" for ``write_file`` / ``replace``.
* ``approval_shell.txt``: "Allow execution of [Shell]?" for ``run_shell_command``.
* ``finished.txt``: idle again after the approved tools ran.

Everything runs in a fixed folder (``/tmp/trails-gemini-screens/gemini-demo``, a git repo) so the paths in the
screens are stable; spinner phrases and timers may differ between recordings.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.fakes.claude_env import agent_bin
from tests.fakes.gemini_server import ScriptedGeminiServer
from tests.fakes.screen_recording import SCREENS_DIR, Recording, init_demo_repo, recorder_parser
from tests.fakes.tmux_screen import (
    kill_server,
    new_session,
    send_keys,
    submit_text,
    tmux,
    wait_for_screen,
    wait_for_screen_gone,
    wait_for_stable,
)

OUT_DIR = SCREENS_DIR / "gemini"
# Its own root (not /tmp/trails-screens, which other recorders wipe): runs of both may overlap.
BASE = Path("/tmp/trails-gemini-screens")
PINNED_VERSION = "0.61.0"
TEST_MODEL = "gemini-2.5-flash"
DUMMY_API_KEY = "trails-test-key"

# What the pinned CLI shows in tmux (see tests/data/screens/gemini/).
TRUST_PROMPT = r"Do you trust the files in this folder\?"
TRUST_SELECTED = r"● 1\. Trust folder"
RESTARTING = r"restarting to apply the trust changes"
BANNER = r"Gemini CLI v\d"
IDLE = r"Type your message or @path/to/file"
BUSY = r"esc to cancel"
EDIT_PROMPT = r"Apply this change\?"
SHELL_PROMPT = r"Allow execution of"
APPROVE_SELECTED = r"● 1\. Allow once"


def gemini_bin() -> Path:
    """Path of the pinned Gemini CLI (tests/agents/node_modules/.bin/gemini)."""
    return agent_bin("gemini")


def without_ci(command: list[str]) -> list[str]:
    """``command`` run with the variables that mark a CI machine unset (``env -u``): with ``CI=true``
    Gemini CLI starts headless ("No input provided via stdin") and ink draws no live frames, so in CI
    it would not be the terminal program a user sees. tmux's ``-e`` can set a variable, never unset one."""
    marks = sorted(k for k in os.environ
                   if k in ("CI", "GITHUB_ACTIONS", "CONTINUOUS_INTEGRATION") or k.startswith("CI_"))
    return ["env", *(a for k in marks for a in ("-u", k)), *command] if marks else command


def make_gemini_env(home: Path, base_url: str, *, trusted_dirs: tuple[Path, ...] = ()) -> dict[str, str]:
    """Create a private Gemini CLI home under ``home`` and return the env vars to run gemini with.

    Only the variables to add are returned (tmux passes them with ``-e``). Google credentials that
    might be set outside are blanked so the CLI uses the dummy key and the fake server only.
    """
    config = home / ".gemini"
    config.mkdir(parents=True, exist_ok=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": True}},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "ide": {"enabled": False},
        "model": {"name": TEST_MODEL},
    }
    (config / "settings.json").write_text(json.dumps(settings, indent=2))
    if trusted_dirs:
        trusted = {str(Path(d).resolve()): "TRUST_FOLDER" for d in trusted_dirs}
        (config / "trustedFolders.json").write_text(json.dumps(trusted, indent=2))
    return {
        "HOME": str(home),
        "GEMINI_CLI_HOME": str(home),
        "GEMINI_API_KEY": DUMMY_API_KEY,
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GOOGLE_API_KEY": "",
        "GOOGLE_GENAI_USE_VERTEXAI": "",
        "GOOGLE_GENAI_USE_GCA": "",
        "GOOGLE_CLOUD_PROJECT": "",
        "GOOGLE_APPLICATION_CREDENTIALS": "",
        "TERM": "xterm-256color",
    }


def submit_prompt(socket: Path, target: str, text: str, timeout: float = 30.0) -> None:
    """Type ``text`` into gemini's input line, wait until it is echoed there, then press Enter."""
    submit_text(socket, target, text, r"(?m)^ > ", timeout)


def wait_idle(socket: Path, target: str, timeout: float = 30.0, *, quiet: float = 1.0) -> str:
    """Wait until the input line is shown, no spinner runs and the screen is quiet; return it."""
    wait_for_screen(socket, target, IDLE, timeout)
    wait_for_screen_gone(socket, target, BUSY, timeout)
    return wait_for_stable(socket, target, quiet=quiet, timeout=timeout)


def wait_started(socket: Path, target: str, timeout: float = 60.0) -> str:
    """Wait for a fresh start to settle: the input line comes first (~7 s), the banner above it ~1.5 s later,
    and the CLI queues prompts ("Initializing...") for a moment more; return the idle screen."""
    wait_for_screen(socket, target, BANNER, timeout)
    return wait_idle(socket, target, timeout, quiet=2.0)


def approve(socket: Path, target: str, prompt: str, timeout: float = 30.0) -> None:
    """Choose "1. Allow once" on the approval dialog on screen and wait until the dialog is gone."""
    wait_for_screen(socket, target, APPROVE_SELECTED, timeout)
    send_keys(socket, target, "Enter")
    wait_for_screen_gone(socket, target, prompt, timeout)


def _children(pid: int) -> list[int]:
    proc = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(tok) for tok in proc.stdout.split()]


def pane_processes(socket: Path) -> list[int]:
    """PIDs of the programs in every pane of the private server, with all their descendants."""
    out = tmux(socket, "list-panes", "-a", "-F", "#{pane_pid}", check=False)
    todo = [int(tok) for tok in out.split()]
    found: list[int] = []
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(_children(pid))
    return found


def stop_processes(pids: list[int], timeout: float = 5.0) -> None:
    """SIGTERM ``pids``, then SIGKILL what is still alive after ``timeout`` s.

    Needed because killing the tmux server is not enough: the CLI (a node process that relaunches
    itself as a child) survives the SIGHUP and would keep running.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in alive if Path(f"/proc/{pid}").exists()]
            if alive:
                time.sleep(0.1)
        if not alive:
            return
        pids = alive


def shutdown(socket: Path) -> None:
    """End the CLI processes of the private tmux server, then the server itself."""
    if socket.exists():
        stop_processes(pane_processes(socket))
    kill_server(socket)


def record(out_dir: Path = OUT_DIR, width: int = 120, height: int = 40) -> list[Path]:
    repo = BASE / "gemini-demo"
    socket = BASE / "tmux.sock"
    gate = threading.Event()
    hello = repo / "hello.py"
    with ScriptedGeminiServer() as server, Recording(out_dir, BASE, sockets=[socket], stop=shutdown) as rec:
        init_demo_repo(repo)
        script = server.script
        script.reply_text("Thought about it. All good.", gate=gate)
        script.reply_function_call("write_file", {"file_path": str(hello), "content": 'print("hello")\n'},
                                   text="Creating it.")
        script.reply_text("Created hello.py.")
        script.reply_function_call(
            "replace",
            {"file_path": str(hello), "instruction": "Greet the world.", "old_string": 'print("hello")',
             "new_string": 'print("hello, world")'},
            text="Editing it.",
        )
        script.reply_text("Edited hello.py.")
        script.reply_function_call("run_shell_command", {"command": "python3 hello.py", "description": "Run hello.py"},
                                   text="Running it.")
        script.reply_text("It printed hello, world. Done.")
        env = make_gemini_env(BASE / "home", server.base_url)
        command = without_ci([str(gemini_bin())])
        # 1. First start in an untrusted folder: the trust dialog, then the restart below it.
        new_session(socket, "trust", command, cwd=repo, env=env, width=width, height=height)
        wait_for_screen(socket, "trust", TRUST_PROMPT, timeout=60)
        rec.save("trust", wait_for_stable(socket, "trust", quiet=1.0))
        wait_for_screen(socket, "trust", TRUST_SELECTED, timeout=5)
        send_keys(socket, "trust", "Enter")
        # The restarted CLI draws below the old dialog; once its banner is there too (in a 40-row pane)
        # the question has scrolled off, but the dialog's options and bottom edge are still visible.
        wait_for_screen(socket, "trust", RESTARTING + r"[\s\S]*" + BANNER, timeout=60)
        rec.save("trust_restarted", wait_idle(socket, "trust", timeout=60, quiet=2.0))

        # 2. A fresh start in the folder, now trusted (the CLI saved it in trustedFolders.json).
        # Start it before ending the first session: the server exits with its last session.
        target = "gemini"
        first = pane_processes(socket)
        new_session(socket, target, command, cwd=repo, env=env, width=width, height=height)
        stop_processes(first)
        tmux(socket, "kill-session", "-t", "trust")
        rec.save("idle", wait_started(socket, target))

        submit_prompt(socket, target, "Think about the project")
        server.wait_for_requests(1)
        # While the reply is held back the CLI shows "⠼ <phrase> (esc to cancel, Ns)" above the input;
        # the spinner animates, so the screen never settles: take the first frame showing it.
        rec.save("busy", wait_for_screen(socket, target, BUSY))
        gate.set()
        wait_for_screen(socket, target, r"All good\.")
        wait_idle(socket, target)

        for prompt, dialog, name, done in [
            ("Create hello.py", EDIT_PROMPT, "approval_write", r"Created hello\.py\."),
            ("Greet the world in hello.py", EDIT_PROMPT, "approval_edit", r"Edited hello\.py\."),
            ("Run it", SHELL_PROMPT, "approval_shell", r"It printed hello, world\. Done\."),
        ]:
            submit_prompt(socket, target, prompt)
            wait_for_screen(socket, target, dialog)
            rec.save(name, wait_for_stable(socket, target, quiet=1.0))
            approve(socket, target, dialog)
            wait_for_screen(socket, target, done)
            idle = wait_idle(socket, target)
        rec.save("finished", idle)
        if hello.read_text() != 'print("hello, world")\n':
            raise RuntimeError(f"unexpected hello.py after the approved edits: {hello.read_text()!r}")
    return rec.written


def main() -> None:
    record(recorder_parser(__doc__, OUT_DIR).parse_args().out)


if __name__ == "__main__":
    main()
