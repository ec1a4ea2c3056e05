"""Work deferred past a command's answer."""

from __future__ import annotations

from trails.core import afterwards


def test_later_runs_at_once_unless_held() -> None:
    done: list[str] = []
    afterwards.later(lambda: done.append("now"))
    assert done == ["now"]
    with afterwards.held() as pending:
        afterwards.later(lambda: done.append("held"))
        assert done == ["now"]
    afterwards.later(lambda: done.append("after"))  # outside held() again: at once
    assert done == ["now", "after"]
    afterwards.run(pending)
    assert done == ["now", "after", "held"]


def test_one_failing_piece_does_not_stop_the_rest() -> None:
    done: list[int] = []
    afterwards.run([lambda: done.append(1), lambda: 1 / 0, lambda: done.append(3)])
    assert done == [1, 3]
