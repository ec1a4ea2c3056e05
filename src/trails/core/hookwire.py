"""Where agents' hooks report to, and how a report proves which session it is from.

The server listens for hook reports on a socket of their own, `hook.sock` in this home's hook
directory (`$TRAILS_HOME/hooks`, or a private /tmp directory when that path is too long for a Unix
socket). That socket answers nothing but `hook_event`, so it can be handed to an agent — mounted
into a container read-only, the directory with it — without handing over the rest of the server.
The directory also holds a copy of the reporter (trails/hookreport.py) for containers to run, and
the MCP relay's socket and script (core.mcpwire), which answer nothing but a live session's agent.

Each launch of an agent gets a new random token (TRAILS_HOOK_TOKEN in the session's environment
file); the session's row keeps only its SHA-256, and a report is taken for the session whose
digest its token matches.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import sys
from pathlib import Path

from trails.core import paths

SOCKET_NAME = "hook.sock"
REPORTER_NAME = "report.py"
TOKEN_KEY = "hook_token"  # in a session's extra: the digest of its agent's current token
ENDED_KEY = "hook_ended"  # in a session's extra: the agent's hook announced its end (why), until it starts again
HOOKED_KEY = "hooks"  # in a session's extra: the agent profile whose hooks report (None: the screen alone)
# Where a container sees the hook directory (mounted read-only).
INNER_DIR = "/run/trails"
_MAX_UNIX_PATH = 100


def hook_dir(home: Path) -> Path:
    """This home's hook directory (made owner-only)."""
    own = home / "hooks"
    if len(str(own / SOCKET_NAME)) <= _MAX_UNIX_PATH:
        return paths.private_dir(own)
    from trails.core import ownsock

    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]
    tmp = ownsock.owned_dir(Path(os.environ.get("TMPDIR") or "/tmp") / f"trails-{os.getuid()}")
    return ownsock.owned_dir(tmp / f"{digest}-hooks")


def socket_path(home: Path) -> Path:
    return hook_dir(home) / SOCKET_NAME


def reporter_source() -> Path:
    return Path(__file__).resolve().parent.parent / "hookreport.py"


def install_reporter(home: Path) -> Path:
    """A copy of the reporter in the hook directory (what a container runs)."""
    return install_copy(reporter_source(), home, REPORTER_NAME)


def install_copy(source: Path, home: Path, name: str) -> Path:
    """`source` copied (owner-only) into the hook directory as `name`, unless it is there already."""
    target = hook_dir(home) / name
    if not target.exists() or target.read_bytes() != source.read_bytes():
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.chmod(0o600)
        tmp.replace(target)
    return target


def host_reporter() -> list[str]:
    """The reporter's command line for an agent on this host: isolated mode (-I: no PYTHON* variables
    or user site) and no site (-S): the standard library only, so it starts fast."""
    return [sys.executable, "-I", "-S", str(reporter_source())]


def container_python() -> str:
    """A python the default image shows inside containers (it mounts the host's /usr)."""
    real = os.path.realpath(sys.executable)
    return real if real.startswith("/usr/") else "/usr/bin/python3"


def new_token() -> tuple[str, str]:
    """(token, its digest): the token goes to the agent's environment, the digest to the session's row."""
    token = secrets.token_urlsafe(24)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, expected_digest: object) -> bool:
    return isinstance(expected_digest, str) and bool(token) and hmac.compare_digest(digest(token), expected_digest)
