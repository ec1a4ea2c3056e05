"""Jobs: what a request does while it runs, so it can report progress and be cancelled.

Every request gets a Job; a long one (its request type says `long`) tells the client its id first,
and any connection may cancel it by that id. Cancellation is cooperative: the operation stops at its
next progress point (a line of an image build, a run's event, a chunk of output) with `Cancelled`,
and what it had done is undone the way an interrupt undoes it. A client that hangs up cancels its jobs.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable

from trails.api.types import EventInfo, JobStarted, Progress, ProgressLine
from trails.core.errors import Cancelled


class Job:
    def __init__(self, job_id: int, *, op: str, on_progress: Callable[[Progress], None],
                 on_event: Callable[[EventInfo], None]) -> None:
        self.id = job_id
        self.op = op
        self.cancelled = threading.Event()
        self._on_progress = on_progress
        self._on_event = on_event
        self._on_cancel: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def started(self) -> None:
        self._on_progress(JobStarted(job=self.id))

    def progress(self, item: Progress) -> None:
        self.check()
        self._on_progress(item)

    def line(self, text: str) -> None:
        """A progress line (what a create prints while it builds an image); a cancellation point."""
        self.progress(ProgressLine(text=text))

    def event(self, event: EventInfo) -> None:
        self.check()
        self._on_event(event)

    def check(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled("cancelled", hint="nothing it had not finished was kept")

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Also call `callback` on cancellation (e.g. to interrupt a child process)."""
        with self._lock:
            self._on_cancel.append(callback)
            fire = self.cancelled.is_set()
        if fire:
            callback()

    def cancel(self) -> None:
        with self._lock:
            if self.cancelled.is_set():
                return
            self.cancelled.set()
            callbacks = list(self._on_cancel)
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback()


class Jobs:
    """The jobs under way in this process, by id."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()

    def start(self, *, op: str, on_progress: Callable[[Progress], None],
              on_event: Callable[[EventInfo], None]) -> Job:
        with self._lock:
            job = Job(next(self._ids), op=op, on_progress=on_progress, on_event=on_event)
            self._jobs[job.id] = job
        return job

    def under_way(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def finish(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)

    def cancel(self, job_id: int) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return False
        job.cancel()
        return True

    def cancel_all(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
