"""Record real Claude Code screens (``tmux capture-pane -p``) into tests/data/screens/claude/.

Run from the project root: ``python -m tests.fakes.record_screens`` (needs ``npm ci --prefix tests/agents``).

States recorded: trust_prompt, idle, busy, permission_write, permission_bash, finished.
The session runs in a fixed folder (``/tmp/trails-screens/demo``) so paths in the screens are stable;
only the clock time in the "done" line changes between recordings.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tests.fakes.anthropic_server import ScriptedAnthropicServer
from tests.fakes.claude_env import (
    BUSY,
    IDLE,
    TRUST_PROMPT,
    TRUST_SELECTED,
    claude_bin,
    make_claude_env,
    submit_prompt,
)
from tests.fakes.screen_recording import SCREENS_DIR, Recording, init_demo_repo, recorder_parser
from tests.fakes.tmux_screen import (
    new_session,
    send_keys,
    wait_for_screen,
    wait_for_screen_gone,
    wait_for_stable,
)

OUT_DIR = SCREENS_DIR / "claude"
BASE = Path("/tmp/trails-screens")


def record(out_dir: Path = OUT_DIR, width: int = 120, height: int = 40) -> list[Path]:
    socket = BASE / "tmux.sock"
    gate = threading.Event()
    with ScriptedAnthropicServer() as server, Recording(out_dir, BASE, sockets=[socket]) as rec:
        repo = init_demo_repo(BASE / "demo")
        script = server.script
        script.reply_text("Thought about it. All good.", gate=gate)
        script.reply_tool_use(
            "Write", {"file_path": str(repo / "hello.py"), "content": 'print("hello")\n'}, text="Creating it."
        )
        script.reply_text("Created hello.py.")
        script.reply_tool_use(
            "Bash", {"command": "python3 hello.py", "description": "Run hello.py"}, text="Running it."
        )
        script.reply_text("It printed hello. Done.")
        env = make_claude_env(BASE, server.base_url)
        target = "claude"
        new_session(socket, target, [str(claude_bin())], cwd=repo, env=env, width=width, height=height)
        wait_for_screen(socket, target, TRUST_PROMPT)
        rec.save("trust_prompt", wait_for_stable(socket, target, quiet=0.5))

        send_keys(socket, target, "Down")
        wait_for_screen(socket, target, TRUST_SELECTED, timeout=5)
        send_keys(socket, target, "Enter")
        wait_for_screen_gone(socket, target, TRUST_PROMPT)
        wait_for_screen(socket, target, IDLE)
        rec.save("idle", wait_for_stable(socket, target, quiet=1.0))

        submit_prompt(socket, target, "Think about the project")
        server.wait_for_requests(1)
        # While the reply is held back the CLI shows a spinner word ("✢ Wandering…", no timer)
        # and "esc to interrupt" in the footer.
        rec.save("busy", wait_for_screen(socket, target, BUSY))
        gate.set()
        wait_for_screen(socket, target, "All good")
        wait_for_screen(socket, target, IDLE)
        wait_for_stable(socket, target, quiet=0.5)

        for prompt, dialog, name, done in [
            ("Create hello.py", r"Do you want to create hello\.py\?", "permission_write", r"Created hello\.py\."),
            ("Run it", r"Do you want to proceed\?", "permission_bash", r"It printed hello\. Done\."),
        ]:
            submit_prompt(socket, target, prompt)
            wait_for_screen(socket, target, dialog)
            rec.save(name, wait_for_stable(socket, target, quiet=0.5))
            send_keys(socket, target, "1")
            wait_for_screen(socket, target, done)
            wait_for_screen(socket, target, IDLE)
            wait_for_stable(socket, target, quiet=0.5)
        rec.save("finished", wait_for_stable(socket, target, quiet=1.0))
    return rec.written


def main() -> None:
    record(recorder_parser(__doc__, OUT_DIR).parse_args().out)


if __name__ == "__main__":
    main()
