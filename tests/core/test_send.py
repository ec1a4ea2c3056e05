"""`trails send` through the real CLI and tmux: long text, text that starts with '-', parallel sends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import trails, wait_until

ECHO_AGENT = f"{sys.executable} {Path(__file__).parent / 'echo_agent.py'}"


def _echo_session(repo: Path, log: Path, name: str = "s1") -> None:
    res = trails("new", name, ECHO_AGENT, "--mode", "direct", "--env", f"ECHO_LOG={log}", cwd=repo)
    assert res.code == 0, res.stderr
    wait_until(lambda: trails("output", name, cwd=repo).stdout.rstrip().endswith(">"), message="prompt")


def test_long_text_reaches_the_agent_byte_for_byte(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "received.txt"
    # A shell reading raw bytes: no line editing, no 4 KB line limit of the terminal's canonical mode.
    agent = f"bash --norc --noprofile -c 'stty -icanon; exec cat > {out}'"
    assert trails("new", "r1", agent, "--mode", "direct", cwd=repo).code == 0
    lines = [f"{i:04d} é✓ line of a long prompt; $(not run) 'quoted' \"too\"" for i in range(300)]
    text = "\n".join([*lines, "x" * 6000])  # ~25 KB: more than one tmux command can carry
    assert len(text.encode()) > 20_000
    res = trails("send", "r1", text, cwd=repo)
    assert res.code == 0, res.stderr
    wanted = (text + "\n").encode()  # the Enter after it
    wait_until(lambda: out.exists() and len(out.read_bytes()) >= len(wanted), timeout=20, message="all of it")
    assert out.read_bytes() == wanted


def test_text_that_starts_with_a_dash(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    _echo_session(repo, log)
    bare = trails("send", "s1", "-l", "--json", cwd=repo)
    assert bare.code == 2 and bare.error["code"] == "usage"
    assert "'-l' is not an option" in bare.error["message"]
    assert "goes after '--'" in bare.error["hint"] and "-- -l" in bare.error["hint"]
    for text in ("-l", "--json", "- a list item"):
        assert trails("send", "s1", "--", text, cwd=repo).code == 0
    wait_until(lambda: log.exists() and log.read_text().count("\n") == 3, message="three lines")
    assert log.read_text() == "-l\n--json\n- a list item\n"


def test_parallel_sends_to_one_session_arrive_whole_one_after_another(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    _echo_session(repo, log)
    lines = [f"message number {i} from sender {i} " + chr(ord("a") + i) * 40 for i in range(5)]
    procs = [subprocess.Popen([sys.executable, "-m", "trails", "send", "s1", line], cwd=repo, env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for line in lines]
    results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0] * 5, results
    wait_until(lambda: log.exists() and log.read_text().count("\n") >= 5, timeout=20, message="five lines")
    got = log.read_text().splitlines()
    assert sorted(got) == sorted(lines), got


# An agent busy redrawing drops a key now and then (Claude Code while it starts its MCP servers): this
# one shows what is typed and ignores the first Enter, then logs each line submitted.
DROPS_FIRST_ENTER = r'''
import os, sys, tty
tty.setraw(0)
os.write(1, b"> ")
line, dropped = b"", False
while True:
    key = os.read(0, 1)
    if key != b"\r":
        line += key
        os.write(1, key)
    elif not dropped:
        dropped = True
    else:
        with open(sys.argv[1], "ab") as log:
            log.write(line + b"\n")
        os.write(1, b"\r\nsubmitted\r\n> ")
        line = b""
'''


def test_an_enter_the_agent_dropped_is_pressed_again_and_the_line_submitted_once(repo: Path, tmp_path: Path) -> None:
    script, log = tmp_path / "drops.py", tmp_path / "submitted.log"
    script.write_text(DROPS_FIRST_ENTER)
    assert trails("new", "d1", f"{sys.executable} {script} {log}", "--mode", "direct", cwd=repo).code == 0
    wait_until(lambda: trails("output", "d1", cwd=repo).stdout.rstrip().endswith(">"), message="prompt")
    assert trails("send", "d1", "fix the parser", cwd=repo).code == 0
    wait_until(lambda: log.exists() and log.read_text(), timeout=10, message="the line submitted")
    assert trails("send", "d1", "and test it", cwd=repo).code == 0  # its Enter works the first time
    wait_until(lambda: log.read_text().count("\n") == 2, timeout=10, message="the second line")
    assert log.read_text() == "fix the parser\nand test it\n"  # each once: no Enter more than needed
