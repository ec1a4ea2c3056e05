"""`run` as a job: the run executor in a child process, with the caller's environment and directory.

A run's agents inherit the environment they are started with (API keys, base URLs, PATH) and its
paths are the caller's, so the run cannot happen in the server's own process. The child reads the
request on stdin and writes frames (the server's protocol, id 0) on a pipe of their own, since what
the run's libraries print (Ray's workers print to the driver's stdout) must not mix with them: a
progress frame per run event, then the summary or the error. Whatever the child prints on stdout or
stderr reaches the client as progress lines. Cancelling the job interrupts the child as Ctrl-C would:
the run stops, stays resumable, and says so.

    python -m trails.server.runjob FD   (started by the server only; FD: the frames' pipe)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import msgspec

from trails.api import protocol
from trails.api import types as t
from trails.api.caller import Caller
from trails.api.client import rebuild
from trails.core.errors import Cancelled, RunError, TrailsError
from trails.server.jobs import Job


def run(req: t.Run, caller: Caller, job: Job) -> t.RunSummary:
    """In the server: start the child, relay its progress, return its summary or raise its error."""
    frames_r, frames_w = os.pipe()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "trails.server.runjob", str(frames_w)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=caller.env or None, cwd=caller.cwd,
            start_new_session=True, pass_fds=(frames_w,))
    except OSError as exc:
        os.close(frames_r)
        raise RunError(f"cannot start the run: {exc.strerror or exc}") from None
    finally:
        os.close(frames_w)
    assert child.stdin is not None and child.stdout is not None

    def interrupt() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the run and its agents

    printed: list[str] = []

    def relay_output() -> None:
        assert child.stdout is not None
        for raw in child.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            printed.append(line)
            with contextlib.suppress(TrailsError):
                job.progress(t.ProgressLine(text=line))

    relay = threading.Thread(target=relay_output, name="trails-run-output", daemon=True)
    relay.start()
    job.on_cancel(interrupt)
    outcome: protocol.ReplyFrame | None = None
    try:
        child.stdin.write(msgspec.json.encode(req))
        child.stdin.close()
        with open(frames_r, "rb") as frames:
            for line in frames:
                frame = protocol.decode_reply(line)
                if frame.progress:
                    with contextlib.suppress(Cancelled):  # the interrupt is on its way; relay until it ends
                        job.progress(msgspec.json.decode(frame.progress, type=t.RunProgress))
                else:
                    outcome = frame
    finally:
        code = child.wait()
        relay.join(5)
    if outcome is not None and outcome.result:
        return msgspec.json.decode(outcome.result, type=t.RunSummary)
    if outcome is not None and outcome.error is not None:
        raise rebuild(outcome.error)
    if job.cancelled.is_set():
        raise Cancelled("the run was interrupted")
    tail = printed[-1] if printed else "it wrote nothing"
    where = req.resume_run or req.out
    raise RunError(f"the run's process ended without a result (exit status {code}): {tail}",
                   hint=f"`trails run --resume-run {where}` goes on from where it stopped" if where else None)


def child_main(frames_fd: int) -> int:
    """In the child: run the request from stdin, write frames to `frames_fd`."""
    from trails.runs import RunEvent, start_run
    from trails.server.service import api_error

    out = os.fdopen(frames_fd, "wb")
    lock = threading.Lock()

    def send(frame: bytes) -> None:
        with lock:
            out.write(frame)
            out.flush()

    def on_event(event: RunEvent) -> None:
        send(protocol.reply(0, progress=t.RunProgress(kind=event.kind, label=event.label, detail=event.detail)))

    try:
        req = msgspec.json.decode(sys.stdin.buffer.read(), type=t.Run)

        def path(value: str | None) -> Path | None:
            return Path(value) if value is not None else None

        summary = start_run(path(req.run_file), out=path(req.out), parallel=req.parallel, dry_run=req.dry_run,
                            resume_run=path(req.resume_run), on_event=on_event, ray_address=req.ray_address)
        send(protocol.reply(0, result=msgspec.json.decode(protocol.encode(summary), type=t.RunSummary)))
        return 0
    except KeyboardInterrupt:
        send(protocol.reply(0, error=api_error(Cancelled("the run was interrupted"))))
        return 130
    except TrailsError as exc:
        send(protocol.reply(0, error=api_error(exc)))
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(child_main(int(sys.argv[1])))
