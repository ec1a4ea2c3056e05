"""Who is asking: the context every engine operation receives instead of reading the process's own.

The engine serves many front ends from one server process, so it never learns the cwd or the
environment from `os` (they are the server's, not the caller's). Trust decides what may weaken
isolation: the owner at a terminal (`user`) may open a container's network; a session's own agent
(`agent`, over MCP) may not, whatever it sends; a `web` token may be read-only.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from trails.core.errors import NotPermitted


class Trust(StrEnum):
    USER = "user"
    WEB = "web"
    AGENT = "agent"


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    trust: Trust = Trust.USER
    cwd: str = "/"
    env: dict[str, str] = msgspec.field(default_factory=dict)
    session: str | None = None  # agent callers: the session whose agent is asking
    read_only: bool = False  # web callers holding a read-only token
    # A session's own credential (TRAILS_MCP_TOKEN, trails.core.mcpwire): the server takes the caller to
    # be that session's agent, whatever else the frame says, and refuses one that matches no session.
    credential: str | None = None

    @property
    def label(self) -> str:
        """How the audit log and events name the caller: user, web, web:read-only or agent:NAME."""
        if self.trust is Trust.AGENT:
            return f"agent:{self.session or '?'}"
        if self.trust is Trust.WEB and self.read_only:
            return "web:read-only"
        return self.trust.value

    def refuse_weakening(self, option: str, what: str) -> None:
        """Raise for a caller that may not weaken isolation (an agent); `option` is the request field."""
        if self.trust is Trust.AGENT:
            raise NotPermitted(f"{what} is not available to an agent ({self.label}): "
                               "only the user may weaken isolation",
                               hint="ask the user to run it from their own terminal", field=option)

    def refuse_read_only(self, action: str) -> None:
        if self.read_only:
            raise NotPermitted(f"{action} needs a token that may change things; this one is read-only",
                               hint="use the full-access token", field=None)
