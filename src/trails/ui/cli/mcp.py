"""`trails mcp`: trails' MCP server for an agent (or the owner's own MCP client), over stdio."""

from __future__ import annotations

from trails.ui.cli.framework import command, option


@command(help="Serve trails' coordination tools over MCP (stdio): messages, claims, artifacts, sessions.")
@option("--as", dest="as_session", default=None,
        help="The session to act for (the owner's own client; an agent always acts for its own session).")
def mcp(as_session: str | None) -> None:
    from trails.ui.mcp.server import serve

    serve(as_session)
