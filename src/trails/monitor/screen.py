"""A terminal emulator per session (pyte): the pane's output bytes in, the rendered screen out."""

from __future__ import annotations

import re
from typing import Any

# Control strings pyte does not parse (APC, DCS, PM, SOS) would be drawn as text: an agent probing
# the terminal (e.g. Claude Code's kitty-graphics query "ESC _ G…ESC \\") overwrites a line with junk.
_CONTROL_STRING = re.compile(rb"\x1b[_P^X]")
_MAX_CONTROL_STRING = 1 << 16


class Screen:
    """The rendered screen of one pane. Feed it the bytes the pane wrote; read `lines()`."""

    def __init__(self, width: int = 200, height: int = 50) -> None:
        import pyte

        self._screen: Any = pyte.Screen(width, height)
        self._stream: Any = pyte.ByteStream(self._screen)
        self.width, self.height = width, height
        self.version = 0  # bumps whenever bytes arrive
        self._carry = b""  # an unfinished control string (or a lone ESC) from the previous feed

    def feed(self, data: bytes) -> None:
        if data:
            self._stream.feed(self._without_control_strings(data))
            self.version += 1

    def _without_control_strings(self, data: bytes) -> bytes:
        data, self._carry = self._carry + data, b""
        out: list[bytes] = []
        pos = 0
        while True:
            start = _CONTROL_STRING.search(data, pos)
            if start is None:
                tail = data[pos:]
                if tail.endswith(b"\x1b"):  # maybe the start of one: decide with the next bytes
                    tail, self._carry = tail[:-1], b"\x1b"
                out.append(tail)
                break
            out.append(data[pos:start.start()])
            ends = [i for i in (data.find(b"\x1b\\", start.end()), data.find(b"\x07", start.end())) if i >= 0]
            if not ends:
                if len(data) - start.start() <= _MAX_CONTROL_STRING:
                    self._carry = data[start.start():]
                break  # an unterminated string that long is dropped
            end = min(ends)
            pos = end + (2 if data[end] == 0x1B else 1)
        return b"".join(out)

    def resize(self, width: int, height: int) -> None:
        if (width, height) != (self.width, self.height) and width > 0 and height > 0:
            self._screen.resize(height, width)
            self.width, self.height = width, height

    def reset(self) -> None:
        self._screen.reset()

    def close(self) -> None:
        """Free the rendered rows now. pyte's screen refers to itself (its buffer's default factory
        closes over it), so a dropped one waits, with every row and character it drew, for the
        collector's rare full pass: with sessions resumed all day the server's RSS followed those
        piles up. Its rows cycle to nothing but the screen, so clearing them frees them at once."""
        self._screen.buffer.clear()

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self._screen.display]

    def text(self) -> str:
        lines = self.lines()
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)
