"""The web's access tokens: one that may do everything the owner may, one that may only watch.

Each is a random string in an owner-only file of TRAILS_HOME (`web-token`, `web-token-read-only`),
made on first use and kept, so a bookmarked URL keeps working across restarts. Delete a file to
revoke its token: the next `trails web` makes a new one.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from trails.core import paths

FULL_FILE = "web-token"
READ_ONLY_FILE = "web-token-read-only"


class Access(Enum):
    FULL = "full"
    READ_ONLY = "read-only"


def _load(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise paths.unusable(exc, "read") from None
    if len(token) < 32:  # missing, empty or not one of ours: a new one
        token = secrets.token_urlsafe(32)
        try:
            paths.write_private(path, token + "\n")
        except OSError as exc:
            raise paths.unusable(exc) from None
    else:
        paths.private_file(path)  # tightened, should someone have opened it up
    return token


@dataclass(frozen=True)
class Tokens:
    full: str
    read_only: str

    @classmethod
    def of_home(cls, home: Path) -> Tokens:
        return cls(full=_load(home / FULL_FILE), read_only=_load(home / READ_ONLY_FILE))

    def access(self, token: str | None) -> Access | None:
        """What `token` grants (compared in constant time), None when it is neither."""
        if not token:
            return None
        given = token.encode()
        if hmac.compare_digest(given, self.full.encode()):
            return Access.FULL
        if hmac.compare_digest(given, self.read_only.encode()):
            return Access.READ_ONLY
        return None
