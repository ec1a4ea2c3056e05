"""What this machine offers trails: tools, engines, nesting, and the mode a session would get."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import TrailsError
from trails.core.models import Mode
from trails.infra import git as gitinfra
from trails.infra.tmux import Tmux

if TYPE_CHECKING:
    from trails.api.caller import Caller
    from trails.core.engine import Engine


def nesting(env: Mapping[str, str]) -> dict[str, bool]:
    """Are we inside a container, WSL or (by the caller's environment `env`) an SSH session? Each
    changes what isolation can do."""
    container = Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()
    try:
        cgroup = Path("/proc/1/cgroup").read_text()
        container = container or any(k in cgroup for k in ("docker", "kubepods", "containerd", "lxc"))
    except OSError:
        pass
    try:
        wsl = "microsoft" in Path("/proc/version").read_text().lower()
    except OSError:
        wsl = False
    ssh = bool(env.get("SSH_CONNECTION") or env.get("SSH_TTY"))
    return {"container": container, "wsl": wsl, "ssh": ssh}


def diagnose(engine: Engine, *, caller: Caller) -> dict[str, Any]:
    """What trails can do for the caller, in the caller's directory."""
    from trails.core import config as config_mod
    from trails.core.modes import select_mode

    cwd = Path(caller.cwd)
    repo_root = gitinfra.find_toplevel(cwd) if gitinfra.available() else None
    report: dict[str, Any] = {
        "tmux": {"available": Tmux.available(), "version": Tmux.version(), "socket": str(engine.tmux.socket)},
        "git": {"available": gitinfra.available(), "version": gitinfra.version()},
        "repo": str(repo_root) if repo_root else None,
        "trails_home": str(engine.home),
        "nested": nesting(caller.env),
        "modes": {},
    }
    for mode in Mode:
        why = engine.mode_unavailable(mode, cwd, repo_root)
        report["modes"][mode.value] = {"available": why is None, "reason": why}
    container = report["modes"]["container"]
    if not container["available"]:
        container["how_to_enable"] = (
            "install and start a Docker engine (scripts/ensure-docker.sh does both on Debian: "
            "apt-get install docker.io, then dockerd)"
        )
    try:
        config = config_mod.load(repo_root)
        decision = select_mode(
            flag=None, agent="claude", config=config, rules=[], env=caller.env,
            unavailable=lambda m: report["modes"][m.value]["reason"],
        )
        report["would_pick"] = decision.to_dict()
    except TrailsError as exc:
        report["would_pick"] = {"error": exc.to_dict()}
    return report
