"""Shared test helpers: run the real CLI, wait on conditions, make git repos."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.api.client import Client

T = TypeVar("T")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, Any]:
        return json.loads(self.stderr)["error"]  # type: ignore[no-any-return]


def trails(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None,
           timeout: float = 60) -> CliResult:
    """Run the real `trails` CLI in a subprocess (python -m trails)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    cp = subprocess.run(
        [sys.executable, "-m", "trails", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )
    return CliResult(cp.returncode, cp.stdout, cp.stderr)


def as_user(cwd: Path | str | None = None) -> Caller:
    """The engine's caller for a test: the user, in `cwd` (default: the test process's) and with the
    test process's environment as it is now (monkeypatched variables included)."""
    from trails.api.caller import Caller, Trust

    return Caller(trust=Trust.USER, cwd=str(cwd or os.getcwd()), env=dict(os.environ))


def agent(session: str | None = None, cwd: Path | str | None = None) -> Caller:
    """A session's own agent as the engine's caller (over MCP, later): it may not weaken isolation."""
    from trails.api.caller import Caller, Trust

    return Caller(trust=Trust.AGENT, session=session, cwd=str(cwd or os.getcwd()), env=dict(os.environ))


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = condition()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {last!r})")
        time.sleep(interval)
        last = condition()
    return last


def git(repo: Path | str, *args: str) -> str:
    cp = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return cp.stdout.strip()


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in (files or {"README.md": "hello\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def tmux_capture(socket: Path, target: str) -> str:
    cp = subprocess.run(["tmux", "-S", str(socket), "capture-pane", "-p", "-t", f"={target}:"],
                        capture_output=True, text=True, check=False)
    return cp.stdout


@dataclass
class Stopper:
    """A stand-in for git (on PATH, and as git's exec path so git's own sub-commands pass through it
    too) that stops at the first call whose arguments contain `match`: the trails process calling it
    then waits there, exactly mid-step, until the test kills it. No timing involved."""

    bin_dir: Path
    reached: Path

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "GIT_EXEC_PATH": str(self.bin_dir)}


def git_stopper(tmp_path: Path, match: str, *, after: bool = False, first: str = "") -> Stopper:
    """`after`: the real git runs that call first, then the stand-in stops before returning. `first`:
    shell code run just before stopping (the call's arguments are "$@")."""
    import shlex

    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    real = Path(exec_path) / "git"
    base = tmp_path / f"git-stopper-{len(list(tmp_path.glob('git-stopper-*')))}"
    bin_dir = base / "bin"
    bin_dir.mkdir(parents=True)
    fifo, reached, once = base / "never-written", base / "reached", base / "once"
    os.mkfifo(fifo)
    q = shlex.quote
    run_real = f'{q(str(real))} "$@"; code=$?; ' if after else "code=0; "
    script = f"""#!/bin/sh
case " $* " in
  *{q(match)}*)
    if mkdir {q(str(once))} 2>/dev/null; then
      {run_real}{first}
      echo $$ > {q(str(reached))}
      read _ < {q(str(fifo))}
      exit $code
    fi;;
esac
exec {q(str(real))} "$@"
"""
    (bin_dir / "git").write_text(script)
    (bin_dir / "git").chmod(0o755)
    return Stopper(bin_dir, reached)


def killed_mid_step(stopper: Stopper, *args: str, cwd: Path | str | None = None,
                    env: dict[str, str] | None = None, timeout: float = 60,
                    also: Callable[[], object] | None = None) -> None:
    """Run `trails ARGS` until it reaches the stopper's call (and `also` holds), then SIGKILL it and
    everything it started in its process group (the stand-in git included), as `kill -9` would.

    The command runs the engine in its own process (TRAILS_SERVER=off): the process killed is the one
    doing the work, as when the trails server itself is killed mid-step; the git it runs is the stopper's."""
    import signal

    full_env = {**os.environ, **(env or {}), **stopper.env, "TRAILS_SERVER": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "trails", *args], cwd=cwd, env=full_env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: stopper.reached.exists() or proc.poll() is not None, timeout=timeout,
                   message=f"trails {' '.join(args)} to reach the stopping git call")
        if not stopper.reached.exists():
            out, err = proc.communicate()
            raise AssertionError(f"trails {' '.join(args)} ended (exit {proc.returncode}) before the stopping call:"
                                 f"\n{out}\n{err}")
        if also is not None:
            wait_until(also, timeout=timeout, message="the state to kill it in")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


class TrailsServer:
    """The trails server of a home, as tests drive it: started with the supervisor's watch, stopped,
    asked for its events (as dicts, the way `--json` prints them)."""

    def __init__(self, home: Path) -> None:
        from trails.api.client import Client

        self.client = Client(home, local=False)

    def start(self) -> int:
        """The server's pid, started first (watching sessions) when none runs."""
        from trails.api.types import ServerStatusRequest

        pid = self.client.call(ServerStatusRequest(monitor=True)).pid
        assert pid is not None
        return pid

    def stop(self) -> bool:
        return self.client.stop_server()

    def status(self) -> dict[str, Any]:
        import msgspec

        return msgspec.to_builtins(self.client.status())  # type: ignore[no-any-return]

    def events(self, session: str | None = None, since: int | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        import msgspec

        from trails.api.types import Events

        listed = self.client.call(Events(session=session, since=since, limit=limit), start=False)
        return [msgspec.to_builtins(e) for e in listed.events]

    def subscribe(self, since: int | None = None, timeout: float | None = None) -> Any:
        import msgspec

        return (msgspec.to_builtins(e) for e in self.client.subscribe(since, timeout=timeout))


# --- sessions' agents and their credentials (issue #12) ---------------------------------------------


def agent_env(socket: Path, session: SessionRef) -> dict[str, str]:
    """The environment the session's agent process runs with (as its pane's process has it)."""
    pid = subprocess.run(["tmux", "-S", str(socket), "display", "-p", "-t", f"={session.tmux}:", "#{pane_pid}"],
                         capture_output=True, text=True, check=True).stdout.strip()
    # The pane's process is trails' launcher (it loads the env file, then runs the agent as its child).
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if not children:
        return {}
    try:
        raw = Path(f"/proc/{children[0]}/environ").read_bytes()
    except (ProcessLookupError, FileNotFoundError):  # a child that was just replaced: the caller asks again
        return {}
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


@dataclass
class SessionRef:
    name: str
    tmux: str


def start(client: Client, repo: Path, name: str) -> SessionRef:
    """A worktree session of `repo` whose agent is `cat`."""
    from trails.api import types as t

    made = client.call(t.Create(name=name, agent="cat", mode="worktree", cwd=str(repo)))
    return SessionRef(name, made.session.tmux_session)


def credential(socket: Path, session: SessionRef) -> str:
    """The MCP credential the session's launch gave its agent (TRAILS_MCP_TOKEN)."""
    return wait_until(lambda: agent_env(socket, session).get("TRAILS_MCP_TOKEN"), message="the agent's credential")


# --- agents that report through hooks (issue #13) -----------------------------------------------------


def hooked_agent(tmp_path: Path) -> tuple[Path, Path]:
    """An agent called `claude` (so trails gives it hooks) that writes down the hook token and socket it
    was given, as a real Claude's hooks inherit them, and its arguments, then idles: (its path, where
    it writes them, a line each)."""
    bindir = tmp_path / "hooked-bin"
    bindir.mkdir()
    seen = tmp_path / "hook-env"
    agent = bindir / "claude"
    agent.write_text("#!/bin/sh\n"
                     f"printf '%s\\n' \"$TRAILS_HOOK_TOKEN\" \"$TRAILS_HOOK_SOCKET\" \"$*\" > {seen}.tmp\n"
                     f"mv {seen}.tmp {seen}\nexec sleep 600\n")
    agent.chmod(0o755)
    return agent, seen


def hook_credentials(seen: Path) -> tuple[str, str]:
    """The (token, socket) a `hooked_agent` wrote down once it started."""
    token, sock, _args = wait_until(lambda: seen.exists() and seen.read_text().splitlines(), timeout=20,
                                    message="the hooked agent to start")
    return token, sock


def run_hook(session: str, token: str, sock: str, event: str) -> None:
    """Run trails' hook reporter as the agent's hook runs it (the event on stdin)."""
    from trails.core import hookwire

    cp = subprocess.run(hookwire.host_reporter(), input=json.dumps({"hook_event_name": event}), text=True,
                        capture_output=True, timeout=10, check=False,
                        env={"PATH": os.environ["PATH"], "TRAILS_SESSION": session, "TRAILS_HOOK_TOKEN": token,
                             "TRAILS_HOOK_SOCKET": sock})
    assert cp.returncode == 0, cp.stderr
