#!/usr/bin/env python3
"""A scripted stand-in for an agent's terminal UI (Claude Code's layout), for fast supervisor tests.

Reads keys in cbreak mode. Start-up shows a trust dialog (cursor on "No, exit", like the real CLI).
At the input box, a typed line:  `write NAME` asks to create NAME, `run CMD` asks to run CMD (a `\\n`
in it breaks the line), `sleep SECONDS` stays busy that long, `exit` exits 0, `fail` exits 3.
Anything else is echoed.
"""

import os
import sys
import termios
import time
import tty

RULE = "─" * 60
DASHES = "╌" * 60


def frame(*lines: str) -> None:
    sys.stdout.write("\x1b[2J\x1b[H" + "\r\n".join(lines) + "\r\n")
    sys.stdout.flush()


def key() -> str:
    ch = os.read(0, 1).decode(errors="replace")
    if ch == "\x1b":
        # An arrow key's bytes follow its ESC at once; a lone Esc has nothing after it.
        return "esc" if not select_ready(0.02) else {"[A": "up", "[B": "down"}.get(os.read(0, 2).decode(), "esc")
    return ch


def select_ready(timeout: float = 0) -> bool:
    """Input waiting on stdin within `timeout` seconds."""
    import select

    return bool(select.select([0], [], [], timeout)[0])


def choose(header: list[str], labels: list[str], numbered: bool, footer: str, start: int = 0) -> int:
    cursor = start
    while True:
        opts = [(" ❯ " if i == cursor else "   ") + (f"{i + 1}. " if numbered else "") + label
                for i, label in enumerate(labels)]
        frame(*header, "", *opts, "", footer)
        k = key()
        if k == "down":
            cursor = min(cursor + 1, len(labels) - 1)
        elif k == "up":
            cursor = max(cursor - 1, 0)
        elif k in ("\r", "\n"):
            return cursor
        elif numbered and k.isdigit() and 1 <= int(k) <= len(labels):
            return int(k) - 1
        elif k == "esc":
            return len(labels) - 1


def main() -> None:
    tty.setcbreak(0)
    old = termios.tcgetattr(0)
    history: list[str] = []
    if os.environ.get("FAKE_SLOW_START"):
        time.sleep(float(os.environ["FAKE_SLOW_START"]))
    trust = choose([RULE, " Accessing workspace:", "", f" {os.getcwd()}", "", " Quick safety check"],
                   ["No, exit", "Yes, I trust this folder"], False, " Enter to confirm · Esc to cancel")
    if trust == 0:
        print("not trusted")
        sys.exit(1)
    try:
        while True:
            frame(*history[-20:], RULE, "❯ ", RULE, "  ? for shortcuts")
            line = ""
            while True:
                k = key()
                if k in ("\r", "\n"):
                    break
                if k in ("\x7f", "\b"):
                    line = line[:-1]
                elif len(k) == 1 and k.isprintable():
                    line += k
                frame(*history[-20:], RULE, f"❯ {line}", RULE, "  ? for shortcuts")
            history.append(f"❯ {line}")
            verb, _, arg = line.partition(" ")
            frame(*history[-20:], "✻ Working… (esc to interrupt)", RULE, "❯ ", RULE, "  esc to interrupt")
            time.sleep(float(arg) if verb == "sleep" else 0.3)
            if verb == "exit":
                sys.exit(0)
            if verb == "fail":
                sys.exit(3)
            if verb in ("write", "run"):
                header = [*history[-10:], RULE]
                if verb == "write":
                    header += [" Create file", f" {arg}", f" Do you want to create {arg}?"]
                else:  # drawn as Claude Code 2.1 draws it (tests/data/screens/claude/permission_bash.txt)
                    shown = [f" {ln}" for ln in arg.replace("\\n", "\n").split("\n")]
                    header += [" Bash command", " Run it", DASHES, *shown, DASHES, " This command requires approval",
                               "", " Do you want to proceed?"]
                pick = choose(header, ["Yes", "Yes, and don't ask again", "No"], True, " Esc to cancel · Tab to amend")
                if pick <= 1 and verb == "write":
                    with open(arg, "w") as fh:
                        fh.write("written by fake agent\n")
                    history.append(f"● Wrote {arg}")
                elif pick <= 1:
                    history.append(f"● Ran {arg}")
                else:
                    history.append("● Declined")
            else:
                history.append(f"● {line}")
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)


if __name__ == "__main__":
    main()
