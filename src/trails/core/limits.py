"""Resource limits: which apply (flag > project > user > default), how they are enforced outside a
container (cgroups where writable, else rlimits through prlimit(1)), and a worktree's disk use.

Containers get their limits from the engine (isolation/container.py); direct and worktree sessions
get them here by wrapping the agent's argv, so the agent starts already inside its limits.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trails.core.errors import InvalidInput
from trails.core.paths import home_path
from trails.core.repo_settings import Ignored

if TYPE_CHECKING:
    from trails.core.config import EffectiveConfig

# Defaults that stop a runaway agent in a container without getting in the way of real work:
# a memory leak or fork bomb is killed in its cgroup, and one core stays free for the user.
DEFAULT_MEMORY = "4g"
DEFAULT_PIDS_LIMIT = 1024
DEFAULT_DISK_WARN_MB = 2048
CGROUP_ROOT = Path("/sys/fs/cgroup")

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?$", re.IGNORECASE)

# Joins the cgroups named by its arguments (each a cgroup.procs file), then execs what follows "--".
# A constant script: paths and argv reach it as positional parameters, never as shell text.
_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def default_cpus() -> float:
    return float(max(1, (os.cpu_count() or 2) - 1))


def parse_memory(text: str) -> int:
    """'512m', '2g', '1.5G', '1048576' → bytes."""
    match = _MEMORY.match(str(text).strip())
    if not match:
        raise InvalidInput(f"memory {text!r} is not a size like 512m or 2g")
    value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 6 << 20:
        raise InvalidInput(f"memory {text!r} is below the 6m minimum")
    return value


@dataclass
class Limits:
    cpus: float | None = None
    memory: str | None = None
    pids_limit: int | None = None
    sources: dict[str, str] = field(default_factory=dict)  # key → flag / project / user / default
    ignored: list[Ignored] = field(default_factory=list)  # repository values above the user's (not stored)

    @property
    def memory_bytes(self) -> int | None:
        return parse_memory(self.memory) if self.memory else None

    def to_dict(self) -> dict[str, Any]:
        data = {"cpus": self.cpus, "memory": self.memory, "pids_limit": self.pids_limit, "sources": self.sources}
        return {k: v for k, v in data.items() if v not in (None, {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(cpus=data.get("cpus"), memory=data.get("memory"), pids_limit=data.get("pids_limit"),
                   sources=dict(data.get("sources", {})))

    def any(self) -> bool:
        return self.cpus is not None or self.memory is not None or self.pids_limit is not None


_SIZE: dict[str, Callable[[Any], float]] = {"cpus": float, "memory": parse_memory, "pids_limit": int}


def resolve(config: EffectiveConfig, *, cpus: float | None, memory: str | None, pids_limit: int | None,
            container: bool) -> Limits:
    """Limits for a new session. Defaults apply to containers only; host sessions get what was asked.

    A repository's value applies only when it is tighter than what would apply without it (the
    user's value, else the default): a repository may tighten limits, never loosen them.
    """
    out = Limits()
    defaults: dict[str, Any] = (
        {"cpus": default_cpus(), "memory": DEFAULT_MEMORY, "pids_limit": DEFAULT_PIDS_LIMIT} if container else {}
    )
    flags = {"cpus": cpus, "memory": memory, "pids_limit": pids_limit}
    for key, flag_value in flags.items():
        project_value, user_value = getattr(config.project, key), getattr(config.user, key)
        baseline = user_value if user_value is not None else defaults.get(key)
        if flag_value is None and project_value is not None and baseline is not None and \
                _SIZE[key](project_value) > _SIZE[key](baseline):
            out.ignored.append(Ignored(
                key, project_value, str(config.project_path),
                f"a repository may only tighten limits, and this is above the {baseline} that applies without it"))
            project_value = None
        for value, source in ((flag_value, "flag"), (project_value, "project"),
                              (user_value, "user"), (defaults.get(key), "default")):
            if value is not None:
                setattr(out, key, value)
                out.sources[key] = source
                break
    if out.cpus is not None and out.cpus <= 0:
        raise InvalidInput(f"cpus must be above 0, not {out.cpus}")
    if out.pids_limit is not None and out.pids_limit < 8:
        raise InvalidInput(f"pids_limit must be at least 8, not {out.pids_limit}")
    if out.memory is not None:
        parse_memory(out.memory)  # validate early, with the user's spelling in the message
    return out


# --- enforcing limits outside containers ---------------------------------------------------------


@dataclass
class HostLimits:
    """How a host session's limits were applied: an argv prefix plus what it did."""

    prefix: list[str] = field(default_factory=list)
    applied: dict[str, str] = field(default_factory=dict)  # key → "cgroup v1" / "rlimit" ...
    cgroups: list[str] = field(default_factory=list)  # directories to remove when the session ends
    notes: list[str] = field(default_factory=list)


def _cgroup_version() -> int | None:
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return 2
    if (CGROUP_ROOT / "memory").is_dir() or (CGROUP_ROOT / "cpu").is_dir():
        return 1
    return None


def _group_name(key: str) -> str:
    home = hashlib.sha1(str(home_path()).encode()).hexdigest()[:8]
    return f"{home}-{key}"


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _v1_group(controller: str, name: str, files: dict[str, str]) -> Path | None:
    base = CGROUP_ROOT / controller
    if not base.is_dir():
        return None
    group = base / "trails" / name
    try:
        group.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    for fname, value in files.items():
        target = group / fname
        if target.exists() and not _write(target, value):
            _rmdir(group)
            return None
    return group


def _v2_group(name: str, limits: Limits) -> tuple[Path | None, dict[str, str]]:
    parent = CGROUP_ROOT / "trails"
    try:
        parent.mkdir(exist_ok=True)
    except OSError:
        return None, {}
    wanted = {"memory": limits.memory is not None, "cpu": limits.cpus is not None,
              "pids": limits.pids_limit is not None}
    for ctl in [c for c, on in wanted.items() if on]:
        _write(CGROUP_ROOT / "cgroup.subtree_control", f"+{ctl}")
        _write(parent / "cgroup.subtree_control", f"+{ctl}")
    group = parent / name
    try:
        group.mkdir(exist_ok=True)
    except OSError:
        return None, {}
    done: dict[str, str] = {}
    if limits.memory is not None and _write(group / "memory.max", str(limits.memory_bytes)):
        _write(group / "memory.swap.max", "0")
        done["memory"] = "cgroup v2"
    if limits.cpus is not None and _write(group / "cpu.max", f"{int(limits.cpus * 100_000)} 100000"):
        done["cpus"] = "cgroup v2"
    if limits.pids_limit is not None and _write(group / "pids.max", str(limits.pids_limit)):
        done["pids_limit"] = "cgroup v2"
    return group, done


def host_limits(key: str, limits: Limits) -> HostLimits:
    """Prepare cgroups (or rlimits) for a host session named `key`; the agent joins them at exec."""
    out = HostLimits()
    if not limits.any():
        return out
    name = _group_name(key)
    procs: list[str] = []
    version = _cgroup_version()
    if version == 1:
        plans: list[tuple[str, str, dict[str, str]]] = []
        if limits.memory is not None:
            size = str(limits.memory_bytes)
            # memsw first would fail while it is below the memory limit; the order below is the safe one.
            plans.append(("memory", "memory", {"memory.limit_in_bytes": size, "memory.memsw.limit_in_bytes": size}))
        if limits.cpus is not None:
            plans.append(("cpus", "cpu", {"cpu.cfs_period_us": "100000",
                                          "cpu.cfs_quota_us": str(int(limits.cpus * 100_000))}))
        if limits.pids_limit is not None:
            plans.append(("pids_limit", "pids", {"pids.max": str(limits.pids_limit)}))
        for what, controller, files in plans:
            group = _v1_group(controller, name, files)
            if group is not None:
                out.applied[what] = "cgroup v1"
                out.cgroups.append(str(group))
                procs.append(str(group / "cgroup.procs"))
    elif version == 2:
        group, done = _v2_group(name, limits)
        if group is not None and done:
            out.applied.update(done)
            out.cgroups.append(str(group))
            procs.append(str(group / "cgroup.procs"))
    if procs:
        out.prefix = ["sh", "-c", _JOIN_CGROUPS, "trails-limits", *procs, "--"]
    rlimits: list[str] = []
    if limits.memory is not None and "memory" not in out.applied and shutil.which("prlimit"):
        # Address space, not resident memory: the nearest the kernel offers without cgroups.
        rlimits.append(f"--as={limits.memory_bytes}")
        out.applied["memory"] = "rlimit (address space)"
    if limits.pids_limit is not None and "pids_limit" not in out.applied and os.getuid() != 0 and \
            shutil.which("prlimit"):
        rlimits.append(f"--nproc={limits.pids_limit}")
        out.applied["pids_limit"] = "rlimit (processes of the user)"
    if rlimits:
        out.prefix += ["prlimit", *rlimits, "--"]
    for key_name in ("cpus", "memory", "pids_limit"):
        if getattr(limits, key_name) is not None and key_name not in out.applied:
            out.notes.append(f"{key_name} could not be applied here (no writable cgroup, no rlimit for it)")
    return out


def release_host(cgroups: list[str], timeout: float = 2.0) -> None:
    """Remove a session's cgroups once its processes are gone (best effort: empty groups are harmless)."""
    deadline = time.monotonic() + timeout
    pending = [Path(p) for p in cgroups]
    while pending:
        pending = [p for p in pending if not _rmdir(p)]
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


# --- disk use ------------------------------------------------------------------------------------


def disk_usage(path: Path) -> int:
    """Bytes the directory occupies on disk (allocated blocks, symlinks not followed)."""
    total = 0
    stack = [str(path)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += st.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def disk_report(path: Path, config: EffectiveConfig) -> dict[str, Any]:
    warn_mb = config.project.disk_warn_mb or config.user.disk_warn_mb or DEFAULT_DISK_WARN_MB
    used = disk_usage(path)
    report: dict[str, Any] = {"path": str(path), "bytes": used, "mb": round(used / (1 << 20), 1), "warn_mb": warn_mb}
    if used > warn_mb << 20:
        report["warning"] = f"{path} uses {used >> 20} MB, over the {warn_mb} MB warning size (disk_warn_mb)"
    return report
