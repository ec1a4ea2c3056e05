"""Thin wrappers over the forges' own CLIs (`gh`, `glab`) and remote URLs. No policy here.

trails stores no token: gh and glab use the login the user made with them, and nothing secret is
ever put on a command line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trails.infra.proc import Result, run

# Never a prompt or an update check from a command trails runs on the user's behalf.
_QUIET = {"GH_PROMPT_DISABLED": "1", "GH_NO_UPDATE_NOTIFIER": "1", "NO_COLOR": "1", "GLAB_NO_PROMPT": "1"}
_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.+)$")


@dataclass(frozen=True)
class Remote:
    host: str
    path: str  # owner/name (GitLab: group/subgroup/name)

    @property
    def web(self) -> str:
        return f"https://{self.host}/{self.path}"


def parse_remote(url: str) -> Remote | None:
    """host and owner/name of a remote URL (https, ssh://, scp-like); None for a local path."""
    url = url.strip()
    if "://" in url:
        scheme, _, rest = url.partition("://")
        if scheme not in ("https", "http", "ssh", "git"):
            return None
        hostpart, _, path = rest.partition("/")
        host = hostpart.rpartition("@")[2].split(":")[0]
    else:
        found = _SCP_LIKE.match(url)
        if found is None or url.startswith(("/", ".")):
            return None
        host, path = found.group(1), found.group(2)
    path = path.strip("/").removesuffix(".git")
    if not host or path.count("/") < 1:
        return None
    return Remote(host.lower(), path)


# Every function below takes `env`, the environment of whoever trails acts for (the caller's, not
# this process's): gh and glab find their login and hosts through it.


def gh_hosts(env: Mapping[str, str]) -> set[str]:
    """Hosts gh is logged in to (its hosts.yml's top-level keys), read from the file, no process."""
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    base = env.get("GH_CONFIG_DIR") or str(Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "gh")
    try:
        text = (Path(base) / "hosts.yml").read_text(encoding="utf-8")
    except OSError:
        return set()
    return {line[:-1].strip().lower() for line in text.splitlines()
            if line.endswith(":") and line[:1] not in (" ", "\t", "#", "-")}


def is_github(host: str, env: Mapping[str, str]) -> bool:
    return host == "github.com" or host == env.get("GH_HOST", "").lower() or host in gh_hosts(env)


def is_gitlab(host: str, env: Mapping[str, str]) -> bool:
    return "gitlab" in host or host == env.get("GITLAB_HOST", "").lower()


def available(program: str, env: Mapping[str, str]) -> bool:
    return shutil.which(program, path=env.get("PATH")) is not None


def gh(*args: str, cwd: Path, env: Mapping[str, str], input: str | None = None, timeout: float = 60) -> Result:
    return _run(["gh", *args], cwd, env, input, timeout)


def glab(*args: str, cwd: Path, env: Mapping[str, str], timeout: float = 60) -> Result:
    return _run(["glab", *args], cwd, env, None, timeout)


def _run(argv: list[str], cwd: Path, env: Mapping[str, str], input: str | None, timeout: float) -> Result:
    program = shutil.which(argv[0], path=env.get("PATH")) or argv[0]  # found as the caller would find it
    try:
        return run([program, *argv[1:]], cwd=cwd, env={**env, **_QUIET}, input=input, timeout=timeout,
                   inherit=False)
    except subprocess.TimeoutExpired:
        return Result(tuple(argv), 124, "", f"{argv[0]} did not answer within {timeout:.0f} s")
