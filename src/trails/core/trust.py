"""Which repositories you trust to run what their own settings define (agent profiles; later, hooks).

Trust is recorded per repository root in `$TRAILS_HOME/trusted-repositories.json` (owner-only),
with a digest of the files that say what the repository would run (TRUSTED_FILES). When one of them
changes — a pull brings a new `.trails/settings.json` — the trust lapses until you trust the
repository again. Nothing here runs on a `trails new` unless the repository defines an agent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from trails.core import paths
from trails.core.errors import ConfigError, UntrustedRepository

# Files whose content a trust covers, relative to the repository root. What else a repository may
# make trails run (hooks, say) belongs here too, so that a change to it needs trust again.
TRUSTED_FILES: tuple[str, ...] = (".trails/settings.json",)
STORE_NAME = "trusted-repositories.json"

State = Literal["trusted", "changed", "untrusted"]


@dataclass(frozen=True)
class TrustRecord:
    root: str
    digest: str  # fingerprint() of the repository when it was trusted
    trusted_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def store_path() -> Path:
    return paths.trails_home() / STORE_NAME


def fingerprint(repo_root: Path) -> str:
    """A digest of the repository's TRUSTED_FILES (an absent file counts as absent, not empty)."""
    digest = hashlib.sha256()
    for rel in TRUSTED_FILES:
        digest.update(rel.encode() + b"\0")
        try:
            data = (repo_root / rel).read_bytes()
        except FileNotFoundError:
            digest.update(b"absent\0")
            continue
        except OSError as exc:
            raise ConfigError(f"{repo_root / rel}: cannot read: {exc.strerror}") from None
        digest.update(b"%d\0" % len(data) + data)
    return "sha256:" + digest.hexdigest()


def _key(repo_root: Path) -> str:
    return str(Path(repo_root).resolve())


def _read() -> dict[str, TrustRecord]:
    path = store_path()
    try:
        data = json.loads(path.read_bytes())
        return {root: TrustRecord(root, str(entry["digest"]), float(entry["trusted_at"]))
                for root, entry in data["repositories"].items()}
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        # Never replaced silently: it says which repositories you trusted.
        raise ConfigError(f"{path}: damaged (not the list of trusted repositories trails wrote)",
                          hint="fix or delete it; then trust your repositories again") from None


def _write(records: dict[str, TrustRecord]) -> None:
    path = store_path()
    body = json.dumps({"repositories": {r.root: {"digest": r.digest, "trusted_at": r.trusted_at}
                                        for r in records.values()}}, indent=2, sort_keys=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(body + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None


def state(repo_root: Path) -> State:
    record = _read().get(_key(repo_root))
    if record is None:
        return "untrusted"
    return "trusted" if record.digest == fingerprint(repo_root) else "changed"


def is_trusted(repo_root: Path) -> bool:
    """Trusted, and none of its TRUSTED_FILES changed since."""
    return state(repo_root) == "trusted"


def require(repo_root: Path | None, what: str) -> None:
    """Raise UntrustedRepository (saying `what` it asks to run) unless the repository is trusted."""
    found: State = state(repo_root) if repo_root is not None else "untrusted"
    if found == "trusted":
        return
    why = ("it changed since you trusted it" if found == "changed"
           else "you have not trusted this repository")
    where = repo_root or "the repository"
    raise UntrustedRepository(
        f"{what}, and {why}: its commands would run on your machine",
        hint=f"read {where}/.trails/settings.json, then run `trails trust {where}` to allow it",
    )


def trust(repo_root: Path) -> TrustRecord:
    """Trust the repository as its files are now."""
    from trails.core.locks import file_lock

    record = TrustRecord(_key(repo_root), fingerprint(repo_root), time.time())
    with file_lock(STORE_NAME):
        records = _read()
        records[record.root] = record
        _write(records)
    return record


def revoke(repo_root: Path) -> bool:
    """Stop trusting the repository; False when it was not trusted."""
    from trails.core.locks import file_lock

    with file_lock(STORE_NAME):
        records = _read()
        if records.pop(_key(repo_root), None) is None:
            return False
        _write(records)
    return True


def records() -> list[TrustRecord]:
    return sorted(_read().values(), key=lambda r: r.root)
