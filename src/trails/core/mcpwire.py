"""How a session's agent proves who it is to trails' MCP server (`trails mcp`, issue #12).

Each launch of an agent gets a new random credential, TRAILS_MCP_TOKEN in its environment beside
TRAILS_SESSION; the session's row keeps only its SHA-256 (`extra["mcp_token"]`), as for the hook
token (core.hookwire). `trails mcp` sends it as its caller's `credential`; the server maps it to
`agent:<session>` (a credential that matches no live session is refused, never taken for the user).
A `trails mcp` with no credential in its environment at all is the owner's own: a `user` caller.

Each launch also configures the agent to start `trails mcp` (its profile's AgentMcp), unless the
session was created without it. A container's agent starts the MCP relay instead (trails/mcprelay.py,
copied into the hook directory every container has mounted read-only): it hands its credential to
the server's MCP socket there (`mcp.sock`), and the server, once it has found the credential a live
session's, runs `trails mcp` on the host with that connection as its stdin and stdout. That socket
answers nothing else, and a connection without a live session's credential gets nothing run: the
home's own server socket, where a caller without a credential is the user, is never mounted.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import trails
from trails.core import hookwire, paths

TOKEN_ENV = "TRAILS_MCP_TOKEN"
TOKEN_KEY = "mcp_token"  # in a session's extra: the digest of its agent's current credential
SOCKET_NAME = "mcp.sock"  # in the hook directory: the MCP relays' way in
RELAY_NAME = "mcp_relay.py"  # in the hook directory: the relay's copy that containers run
ACCEPTED = b"ok"  # what the MCP socket answers a credential it took (trails.mcprelay.ACCEPTED)
SWITCH_ENV = "TRAILS_MCP"  # "off" in the environment of a launch: its agent gets no credential
OFF_KEY = "mcp"  # in a session's extra: False when it was created without MCP (--no-mcp, the setting)
_OFF = frozenset({"off", "0", "no", "false"})


def turned_off(env: Mapping[str, str]) -> bool:
    return env.get(SWITCH_ENV, "").strip().lower() in _OFF


def new_credential() -> tuple[str, str]:
    """(credential, its digest): the credential goes to the agent's environment, the digest to the row."""
    return hookwire.new_token()


def digest(credential: str) -> str:
    return hookwire.digest(credential)


def server_command() -> tuple[str, ...]:
    """This installation's own `trails mcp`, by the interpreter running trails now (found whether
    or not its venv is on PATH)."""
    return (sys.executable, "-m", "trails", "mcp")


def server_env(home: Path) -> dict[str, str]:
    """What `trails mcp` needs besides the credential, none of it secret: this home, and where
    trails is imported from when that is PYTHONPATH (a checkout), so it runs this same trails."""
    env = {"TRAILS_HOME": str(home)}
    root = str(Path(trails.__file__).resolve().parent.parent)
    if root in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = root
    return env


def socket_path(home: Path) -> Path:
    return hookwire.hook_dir(home) / SOCKET_NAME


def install_relay(home: Path) -> Path:
    """A copy of the MCP relay in the hook directory (what a container's agent runs)."""
    return hookwire.install_copy(Path(__file__).resolve().parent.parent / "mcprelay.py", home, RELAY_NAME)


def container_relay() -> tuple[str, ...]:
    """The relay's command line as a container's agent runs it (the hook directory at its inner path)."""
    return (hookwire.container_python(), "-I", "-S", f"{hookwire.INNER_DIR}/{RELAY_NAME}",
            f"{hookwire.INNER_DIR}/{SOCKET_NAME}")


def session_dir(home: Path, session: str) -> Path:
    """An owner-only directory under the home for one session's MCP files (made)."""
    return paths.private_dir(paths.private_dir(home / "mcp") / session)


def remove_session_dir(home: Path, session: str) -> None:
    shutil.rmtree(home / "mcp" / session, ignore_errors=True)
