"""Record real Aider screens (``tmux capture-pane -p``) into tests/data/screens/aider/.

Aider talks to a scripted local stand-in of the OpenAI Chat Completions API
(``tests/fakes/openai_chat_server.py``); nothing leaves the machine. Install Aider into a throwaway
venv (it needs Python 3.10-3.12), not the project's, then run from the project root::

    python3 -m venv /tmp/aider-venv && /tmp/aider-venv/bin/pip install aider-chat==0.86.2
    python -m tests.fakes.record_aider_screens --aider /tmp/aider-venv/bin/aider

Recorded with aider-chat 0.86.2 in tmux 120x40, in a fixed folder (``/tmp/trails-screens-aider/aider-demo``,
a git repo with README.md and greet.py) with a private HOME, so the screens are stable between runs
(only the spinner frame in ``busy`` moves). Aider keeps its default pretty UI. Flags:
``--no-check-update --no-show-release-notes --no-auto-commits --no-auto-lint``; env:
``OPENAI_API_BASE``/``OPENAI_BASE_URL`` = the fake server, ``OPENAI_API_KEY`` dummy,
``LITELLM_LOCAL_MODEL_COST_MAP=True``, and the private HOME's ``~/.aider/caches`` seeded with litellm's
bundled model price map (else Aider tries to download it and prints the connection error).
The recorder uses its own folder and tmux sockets: other recorders wipe /tmp/trails-screens.

Two sessions:

* first run (``--model openai/trails-scripted``, a name litellm does not know, and ``--analytics`` so
  the opt-in question is asked): ``first_run_analytics`` (answered n), ``first_run_gitignore``
  ("Add .aider* to .gitignore (recommended)?", answered y) and ``first_run_docs_url`` (the model
  warning's "Open documentation url for more info?", answered n so no browser opens).
* narrow (the work session's model, in a 48-column pane): ``confirm_narrow``, "Add file to the chat?"
  broken over two screen lines by Aider itself (mid-word; tmux sees no wrap to join).
* work (``--model openai/gpt-4o``, diff edit format): ``idle``; ``busy`` (the reply held back: the
  "Waiting for openai/gpt-4o" spinner); ``streaming`` (half a reply shown, the rest held back);
  ``finished`` (back at the prompt after a reply); ``confirm_create`` ("Create new file?" for a
  SEARCH/REPLACE block with an empty SEARCH); ``confirm`` ("Run shell command?" for a ```bash block);
  ``confirm_output`` ("Add command output to the chat?"); ``confirm_add_file`` ("Add file to the
  chat?" when the reply names a tracked file that is not in the chat).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

from tests.fakes.openai_chat_server import JSON, ScriptedOpenAIServer
from tests.fakes.screen_recording import SCREENS_DIR, Recording, init_demo_repo, recorder_parser
from tests.fakes.tmux_screen import (
    kill_server,
    new_session,
    send_keys,
    submit_text,
    tmux,
    wait_for_screen,
    wait_for_stable,
)

OUT_DIR = SCREENS_DIR / "aider"
# Our own folder: other recorders wipe /tmp/trails-screens (and use its tmux socket) while they run.
BASE = Path("/tmp/trails-screens-aider")
REPO = BASE / "aider-demo"
MAIN_MODEL = "openai/gpt-4o"
UNKNOWN_MODEL = "openai/trails-scripted"

# Flags that keep Aider off the network (update check, release notes) and the repo history stable.
COMMON_FLAGS = ["--no-check-update", "--no-show-release-notes", "--no-auto-commits", "--no-auto-lint"]

# The input prompt: "> " alone on the last line (or "<edit format>> ", "multi> ").
IDLE = re.compile(r"^(?:\w+ )*\w*> *\n*\Z", re.MULTILINE)
BUSY = re.compile(r"Waiting for openai/gpt-4o")


def _question(text: str) -> re.Pattern[str]:
    """A live yes/no question: the last line on screen, not yet answered."""
    return re.compile(re.escape(text) + r" \(Y\)es/\(N\)o.*\[(Yes|No)\]: *\n*\Z", re.MULTILINE)


def make_repo() -> None:
    init_demo_repo(REPO, "# demo\n\nA tiny demo project.\n")
    (REPO / "greet.py").write_text('def greet(name):\n    return f"Hello, {name}"\n')
    subprocess.run(["git", "-C", str(REPO), "add", "."], check=True)
    subprocess.run(["git", "-C", str(REPO), "commit", "-q", "-m", "init"], check=True, env=_git_env())


def _git_env() -> dict[str, str]:
    return {**os.environ, "HOME": str(BASE / "home"), "GIT_CONFIG_NOSYSTEM": "1"}


def make_home(aider: Path) -> Path:
    """A private HOME with a git identity and Aider's model-info cache already filled.

    On start Aider downloads litellm's model price map into ~/.aider/caches (once a day); offline
    that prints a connection error on the screen. We seed the cache with the copy litellm ships.
    """
    home = BASE / "home"
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text("[user]\n\tname = Trails Test\n\temail = trails@example.invalid\n")
    venv = aider.resolve().parent.parent
    bundled = sorted(venv.glob("lib/python3*/site-packages/litellm/model_prices_and_context_window_backup.json"))
    if bundled:
        caches = home / ".aider" / "caches"
        caches.mkdir(parents=True)
        shutil.copyfile(bundled[0], caches / "model_prices_and_context_window.json")
    else:
        print(f"warning: litellm's model price map not found under {venv}; Aider will try to download it")
    return home


def aider_env(home: Path, base_url: str) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "GIT_CONFIG_NOSYSTEM": "1",
        "OPENAI_API_KEY": "sk-scripted-dummy",
        "OPENAI_API_BASE": base_url,
        "OPENAI_BASE_URL": base_url,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the model price map from GitHub
    }


def submit(socket: Path, target: str, text: str) -> None:
    submit_text(socket, target, text, timeout=10)


def answer(socket: Path, target: str, key: str, question: re.Pattern[str]) -> None:
    """Type the answer to a yes/no question and wait until it is no longer live."""
    send_keys(socket, target, key, "Enter")
    screen = wait_for_stable(socket, target, quiet=0.3)
    if question.search(screen):
        raise RuntimeError(f"question still live after answering {key!r}:\n{screen}")


NARROW_WIDTH = 48
WRAPPED_ADD_FILE = re.compile(r"Add file to the chat\? \(Y\)es/\(N\)o[^\n]*\n[^\n]*\[(Yes|No)\]: *\n*\Z")


def record(aider: Path, out_dir: Path = OUT_DIR, width: int = 120, height: int = 40) -> list[Path]:
    first_socket, socket = BASE / "first.sock", BASE / "tmux.sock"  # one tmux server per session
    narrow_socket = BASE / "narrow.sock"

    def is_side(body: JSON) -> bool:  # weak-model housekeeping (commit messages, summaries)
        return str(body.get("model", "")) not in {"gpt-4o", "trails-scripted"}

    hold_first_byte = threading.Event()
    hold_mid_stream = threading.Event()
    sockets = [first_socket, socket, narrow_socket]
    with ScriptedOpenAIServer() as server, Recording(out_dir, BASE, sockets=sockets) as rec:
        home = make_home(aider)
        make_repo()
        server.script.on(is_side, "ok")
        env = aider_env(home, server.base_url)
        try:
            # ---- first run: analytics opt-in, .gitignore, model warning
            target = "first"
            command = [
                str(aider),
                "--model",
                UNKNOWN_MODEL,
                *COMMON_FLAGS,
                "--analytics",
                "--analytics-posthog-host",
                server.base_url,
            ]
            new_session(first_socket, target, command, cwd=REPO, env=env, width=width, height=height)
            for name, question, key in [
                ("first_run_analytics", "Allow collection of anonymous analytics to help improve aider?", "n"),
                ("first_run_gitignore", "Add .aider* to .gitignore (recommended)?", "y"),
                ("first_run_docs_url", "Open documentation url for more info?", "n"),
            ]:
                live = _question(question)
                wait_for_screen(first_socket, target, live, timeout=60)
                rec.save(name, wait_for_stable(first_socket, target, quiet=0.5))
                answer(first_socket, target, key, live)
            wait_for_screen(first_socket, target, IDLE, timeout=30)
            kill_server(first_socket)  # the answers are saved as they are given (~/.aider, .gitignore)

            # ---- work session
            script = server.script
            script.reply_text("I looked at the project. Everything is in order.", gate=hold_first_byte)
            long_reply = (
                "Here is a short overview of the project.\n\n"
                "- The readme describes it.\n- One module has a greet function.\n\n"
                "That is all there is for now; nothing needs changing."
            )
            script.reply_text(long_reply, gate=hold_mid_stream, gate_after=48)
            script.reply_text(
                "I will create hello.py.\n\nhello.py\n```python\n<<<<<<< SEARCH\n=======\n"
                'print("hello")\n>>>>>>> REPLACE\n```\n'
            )
            script.reply_text("Run it with:\n\n```bash\npython3 hello.py\n```\n")
            script.reply_text("To change the greeting I need to edit greet.py. Please add it to the chat.")
            script.reply_text("Thanks, I see greet.py now. Nothing else to do.")
            target = "work"
            command = [str(aider), "--model", MAIN_MODEL, *COMMON_FLAGS, "--no-analytics"]
            new_session(socket, target, command, cwd=REPO, env=env, width=width, height=height)
            wait_for_screen(socket, target, IDLE, timeout=60)
            rec.save("idle", wait_for_stable(socket, target, quiet=1.0))

            submit(socket, target, "Think about the project")
            server.wait_for_requests(1)
            rec.save("busy", wait_for_screen(socket, target, BUSY, timeout=15))
            hold_first_byte.set()
            wait_for_screen(socket, target, "Everything is in order")
            wait_for_screen(socket, target, IDLE)
            wait_for_stable(socket, target, quiet=0.5)

            submit(socket, target, "Give me an overview")
            wait_for_screen(socket, target, "short overview", timeout=15)
            rec.save("streaming", wait_for_stable(socket, target, quiet=1.0))
            hold_mid_stream.set()
            wait_for_screen(socket, target, "nothing needs changing")
            wait_for_screen(socket, target, IDLE)
            rec.save("finished", wait_for_stable(socket, target, quiet=1.0))

            submit(socket, target, "Create hello.py that prints hello")
            live = _question("Create new file?")
            wait_for_screen(socket, target, live)
            rec.save("confirm_create", wait_for_stable(socket, target, quiet=0.5))
            answer(socket, target, "y", live)
            wait_for_screen(socket, target, r"Applied edit to hello\.py")
            wait_for_screen(socket, target, IDLE)
            wait_for_stable(socket, target, quiet=0.5)

            submit(socket, target, "How do I run it?")
            live = _question("Run shell command?")
            wait_for_screen(socket, target, live)
            rec.save("confirm", wait_for_stable(socket, target, quiet=0.5))
            answer(socket, target, "y", live)
            live = _question("Add command output to the chat?")
            wait_for_screen(socket, target, live)
            rec.save("confirm_output", wait_for_stable(socket, target, quiet=0.5))
            answer(socket, target, "y", live)
            wait_for_screen(socket, target, IDLE)
            wait_for_stable(socket, target, quiet=0.5)

            submit(socket, target, "Make the greeting friendlier")
            live = _question("Add file to the chat?")
            wait_for_screen(socket, target, live)
            rec.save("confirm_add_file", wait_for_stable(socket, target, quiet=0.5))
            answer(socket, target, "y", live)
            wait_for_screen(socket, target, "Nothing else to do")
            wait_for_screen(socket, target, IDLE)
            wait_for_stable(socket, target, quiet=0.5)
            kill_server(socket)

            # ---- narrow pane: a question longer than a line wraps
            script.reply_text("Run it with:\n\n```bash\npython3 hello.py\n```\n")
            target = "narrow"
            new_session(narrow_socket, target, command, cwd=REPO, env=env, width=NARROW_WIDTH, height=height)
            wait_for_screen(narrow_socket, target, IDLE, timeout=60)
            wait_for_stable(narrow_socket, target, quiet=0.5)
            submit(narrow_socket, target, "How do I run it?")
            # Aider asks about hello.py first (named in the reply, not in the chat). It breaks the
            # question over two lines itself: tmux sees no wrap (`capture-pane -J` leaves it split).
            wait_for_screen(narrow_socket, target, WRAPPED_ADD_FILE)
            screen = wait_for_stable(narrow_socket, target, quiet=0.5)
            if _question("Add file to the chat?").search(screen):
                raise RuntimeError(f"the question did not wrap in {NARROW_WIDTH} columns:\n{screen}")
            rec.save("confirm_narrow", screen)
            calls = Counter(f"{e.method} {e.path}" for e in server.http_log)
            print(f"HTTP calls to the fake API: {dict(calls)}; models asked: {server.model_ids()}")
        except Exception:
            for sock in (first_socket, socket):
                if sock.exists():
                    print(tmux(sock, "capture-pane", "-p", "-t", target, check=False))
            raise
    return rec.written


def main() -> None:
    parser = recorder_parser(__doc__, OUT_DIR)
    parser.add_argument("--aider", type=Path, default=Path("/tmp/aider-venv/bin/aider"), help="the aider executable")
    args = parser.parse_args()
    record(args.aider, args.out)


if __name__ == "__main__":
    main()
