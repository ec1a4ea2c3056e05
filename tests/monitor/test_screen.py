"""The screen emulator: what an agent draws, without the terminal queries it sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from trails.monitor.screen import Screen

# From Claude Code 2.1.330 in a container pane: after drawing its trust dialog it queries the terminal
# (kitty graphics APC, XTGETTCAP DCS, device attributes), then moves the cursor back into the dialog.
TRUST_TAIL = (b"\x1b[2G\x1b[38;5;153m\xe2\x9d\xaf\x1b[4GNo,\x1b[8Gexit\x1b[39m\r\r\n\x1b[4GYes,\x1b[9GI\x1b[11Gtrust"
              b"\x1b[17Gthis\x1b[22Gfolder\r\r\n\r\r\n\x1b[2GEnter to confirm\r\r\n\x1b[1C\x1b[4A\x1b[>0q\x1b[?u\x1b[c"
              b"\x1b[?2026$p\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[16t\x1bP+q544e\x1b\\\x1b[?1016$p\x1b[c")


def rendered(chunks: list[bytes]) -> list[str]:
    screen = Screen(60, 8)
    for chunk in chunks:
        screen.feed(chunk)
    return [line for line in screen.lines() if line]


def test_terminal_queries_are_not_drawn() -> None:
    assert rendered([TRUST_TAIL]) == [" ❯ No, exit", "   Yes, I trust this folder", " Enter to confirm"]


@pytest.mark.parametrize("cut", range(1, len(TRUST_TAIL), 7))
def test_a_query_split_between_reads_is_still_dropped(cut: int) -> None:
    assert rendered([TRUST_TAIL[:cut], TRUST_TAIL[cut:]]) == rendered([TRUST_TAIL])


def test_a_new_agents_log_resets_the_screen_it_is_replayed_into(tmp_path: Path) -> None:
    from trails.core import outputlog

    screen = Screen(40, 6)
    log = outputlog.log_path(tmp_path, "trails-s1")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"\x1b[5;1H  esc to interrupt")  # the previous agent's last screen, low down
    screen.feed(log.read_bytes())
    outputlog.start_new(tmp_path, "trails-s1")
    with log.open("ab") as pane:  # what tmux's pipe then appends for the new agent
        pane.write(b"ready> ")
    screen.feed(log.read_bytes())
    assert [line for line in screen.lines() if line] == ["ready>"]
    # Text keeps the previous agent's output, the new agent's on a line of its own.
    assert outputlog.read_text(tmp_path, "trails-s1") == "  esc to interrupt\nready>"


def test_a_closed_screen_frees_what_it_drew_without_waiting_for_the_collector() -> None:
    import gc
    import weakref

    screen = Screen(80, 10)
    screen.feed(b"".join(b"line %d " % i + b"x" * 60 + b"\r\n" for i in range(9)))
    row = weakref.ref(screen._screen.buffer[3])  # a drawn row (pyte's dict subclass takes weak references)
    gc.disable()  # what a busy server sees between full collections
    try:
        screen.close()
        del screen
        assert row() is None
    finally:
        gc.enable()
