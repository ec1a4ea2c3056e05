"""A terminal emulator per session (pyte): the pane's output bytes in, the rendered screen out."""

from __future__ import annotations

from typing import Any


class Screen:
    """The rendered screen of one pane. Feed it the bytes the pane wrote; read `lines()`."""

    def __init__(self, width: int = 200, height: int = 50) -> None:
        import pyte

        self._screen: Any = pyte.Screen(width, height)
        self._stream: Any = pyte.ByteStream(self._screen)
        self.width, self.height = width, height
        self.version = 0  # bumps whenever bytes arrive

    def feed(self, data: bytes) -> None:
        if data:
            self._stream.feed(data)
            self.version += 1

    def resize(self, width: int, height: int) -> None:
        if (width, height) != (self.width, self.height) and width > 0 and height > 0:
            self._screen.resize(height, width)
            self.width, self.height = width, height

    def reset(self) -> None:
        self._screen.reset()

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self._screen.display]

    def text(self) -> str:
        lines = self.lines()
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)
