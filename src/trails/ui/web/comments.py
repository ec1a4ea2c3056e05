"""Review comments on a session's diff, sent to its agent as one message naming each file and lines.

The message is one line: `send` types it and presses Enter, and a newline inside would submit the
message half way (so a comment's own line breaks become spaces).
"""

from __future__ import annotations

import msgspec

from trails.core.errors import InvalidInput

MAX_COMMENTS = 100


class ReviewComment(msgspec.Struct, kw_only=True):
    path: str  # from the worktree's root, as the diff names it
    line_start: int
    text: str
    line_end: int | None = None  # the same as line_start when left out


class ReviewComments(msgspec.Struct, kw_only=True):
    comments: list[ReviewComment]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check(index: int, comment: ReviewComment) -> None:
    where = f"comments[{index}]"
    if not comment.path.strip() or any(c in comment.path for c in "\n\r\0"):
        raise InvalidInput(f"{where}: a comment needs the path of the file it is about", field="comments")
    end = comment.line_end if comment.line_end is not None else comment.line_start
    if comment.line_start < 1 or end < comment.line_start:
        raise InvalidInput(f"{where}: lines {comment.line_start}–{end} are not a range of lines (from 1)",
                           field="comments")
    if not _one_line(comment.text):
        raise InvalidInput(f"{where}: the comment has no text", field="comments")


def message(comments: list[ReviewComment]) -> str:
    """The one message that carries every comment, or InvalidInput naming the first bad one."""
    if not comments:
        raise InvalidInput("no comments to send", field="comments")
    if len(comments) > MAX_COMMENTS:
        raise InvalidInput(f"at most {MAX_COMMENTS} comments at once", field="comments")
    parts = []
    for index, comment in enumerate(comments):
        _check(index, comment)
        end = comment.line_end if comment.line_end is not None else comment.line_start
        lines = f"line {comment.line_start}" if end == comment.line_start else f"lines {comment.line_start}-{end}"
        parts.append(f"({index + 1}) {_one_line(comment.path)} {lines}: {_one_line(comment.text)}")
    noun = "comment" if len(parts) == 1 else f"{len(parts)} comments"
    return f"Review {noun} on your changes, please address: " + " ".join(parts)
