"""How a session's agent proves who it is to trails' MCP server (`trails mcp`, issue #12).

Each launch of an agent gets a new random credential, TRAILS_MCP_TOKEN in its environment beside
TRAILS_SESSION; the session's row keeps only its SHA-256 (`extra["mcp_token"]`), as for the hook
token (core.hookwire). `trails mcp` sends it as its caller's `credential`; the server maps it to
`agent:<session>` (a credential that matches no live session is refused, never taken for the user).
A `trails mcp` with no credential in its environment at all is the owner's own: a `user` caller.
"""

from __future__ import annotations

from collections.abc import Mapping

from trails.core import hookwire

TOKEN_ENV = "TRAILS_MCP_TOKEN"
TOKEN_KEY = "mcp_token"  # in a session's extra: the digest of its agent's current credential
SWITCH_ENV = "TRAILS_MCP"  # "off" in the environment of `trails new`: its agent gets no credential
_OFF = frozenset({"off", "0", "no", "false"})


def turned_off(env: Mapping[str, str]) -> bool:
    return env.get(SWITCH_ENV, "").strip().lower() in _OFF


def new_credential() -> tuple[str, str]:
    """(credential, its digest): the credential goes to the agent's environment, the digest to the row."""
    return hookwire.new_token()


def digest(credential: str) -> str:
    return hookwire.digest(credential)
