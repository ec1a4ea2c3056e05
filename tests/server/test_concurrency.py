"""Many clients at once against one server: no errors, and a slow request stalls nobody else."""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict
from pathlib import Path

from tests.helpers import make_repo, wait_until
from tests.server.conftest import user_settings
from trails.api import types as t
from trails.api.client import Client


def test_twenty_clients_issuing_mixed_commands_at_once(client: Client, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "work" / "repo")
    client.call(t.Ping())  # one server, already up: what is measured is its serving, not its start
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def one_client(i: int) -> None:
        own = Client(client.home, local=False)
        name = f"c{i}"
        place = tmp_path / f"place-{i}"
        place.mkdir()
        mode = "worktree" if i % 5 == 0 else "direct"  # 4 worktrees: the default limit is 5 with the main one
        cwd = str(repo) if mode == "worktree" else str(place)
        own.caller = own.caller.__class__(cwd=cwd, env=own.caller.env)

        def timed(label: str, request: t.Request[object]) -> object:
            began = time.perf_counter()
            result = own.call(request)
            timings[label].append(time.perf_counter() - began)
            return result

        try:
            start.wait(timeout=30)
            timed("new", t.Create(name=name, agent="cat", mode=mode))
            for _ in range(3):
                timed("ls", t.ListSessions())
                timed("show", t.Show(name=name))
            timed("send", t.Send(name=name, text=f"hello from {name}"))
            wait_until(lambda: f"hello from {name}" in own.call(t.Output(name=name)).output,
                       message=f"{name}'s own output")
            timed("diff", t.Diff(name=name, stat=True)) if mode == "worktree" else None
            timed("events", t.Events(limit=5))
            timed("kill", t.Kill(name=name, force=True))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert client.call(t.ListSessions()).sessions == []
    ended = client.call(t.ListSessions(include_ended=True)).sessions
    assert sorted(s.name for s in ended) == sorted(f"c{i}" for i in range(20))
    assert {s.status.value for s in ended} == {"killed"}
    for label, values in sorted(timings.items()):
        p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
        print(f"{label:7} n={len(values):3}  median {statistics.median(values) * 1000:7.1f} ms  "
              f"p95 {p95 * 1000:7.1f} ms")


def test_a_slow_request_does_not_stall_the_others(client: Client, tmp_path: Path,
                                                  trails_env: dict[str, Path]) -> None:
    repo = make_repo(tmp_path / "work" / "repo")
    release = tmp_path / "release"
    # The first worktree's post_create hook waits for the test: its create is under way meanwhile.
    user_settings(trails_env["home"], post_create=f"echo waiting; while [ ! -e {release} ]; do sleep 0.05; done")
    slow_done = threading.Event()
    waiting = threading.Event()
    outcome: list[object] = []

    def slow() -> None:
        own = Client(client.home, local=False)
        own.caller = own.caller.__class__(cwd=str(repo), env=own.caller.env)
        try:
            outcome.append(own.call(t.Create(name="slow", agent="cat", mode="worktree"),
                                    progress=lambda item: waiting.set()))
        except BaseException as exc:
            outcome.append(exc)
        slow_done.set()

    lines: list[str] = []
    thread = threading.Thread(target=slow)
    thread.start()
    try:
        wait_until(waiting.is_set, timeout=30, message="the slow create to reach its hook")
        began = time.monotonic()
        place = tmp_path / "quick"
        place.mkdir()
        quick = Client(client.home, local=False)
        quick.caller = quick.caller.__class__(cwd=str(place), env=quick.caller.env)
        quick.call(t.Create(name="quick", agent="cat", mode="direct"))
        listed = quick.call(t.ListSessions())
        lines = [s.name for s in listed.sessions]
        quick.call(t.Kill(name="quick"))
        assert time.monotonic() - began < 10
        assert not slow_done.is_set()  # all that while, the slow one was still waiting
        assert "quick" in lines
    finally:
        release.touch()
        thread.join(timeout=60)
    created = outcome[0]
    assert isinstance(created, t.CreateResult), created
    assert created.session.name == "slow"
