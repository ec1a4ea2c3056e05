"""trails' MCP server (issue #12): a thin client of the trails server, run by `trails mcp` over stdio."""
