"""The MCP socket (`mcp.sock` in the hook directory, core.mcpwire): how a container's agent reaches
trails' MCP server without the home's own socket or a network port.

A connection's first line is a credential. One that is no live session's is refused (a line saying
so, then the connection closes): nothing runs, and no caller here is ever the user. For one that is,
the server runs this installation's `trails mcp` with the connection as its stdin and stdout and the
credential in its environment, so it is that session's agent to the server like any other.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from trails.core import mcpwire, ownsock
from trails.core.models import Session
from trails.server.service import Service

HANDSHAKE_SECONDS = 5.0  # a relay sends its credential at once: one that sends nothing is let go
MAX_LINE = 512
# What an agent's session put in the server's environment says nothing about a relayed agent.
_NOT_PASSED = ("TRAILS_SESSION", "TRAILS_HOOK_TOKEN", "TRAILS_HOOK_SOCKET", mcpwire.TOKEN_ENV)


class McpSocket:
    """The listener and one thread per relay while it hands its connection over."""

    def __init__(self, home: Path, service: Service, listener: socket.socket) -> None:
        self.home = home
        self.service = service
        self.listener: socket.socket | None = listener

    def serve(self, stopping: threading.Event) -> None:
        listener = self.listener
        if listener is not None:
            ownsock.serve_own(listener, stopping, self.relay, timeout=HANDSHAKE_SECONDS, name="trails-mcp-relay")

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                os.unlink(mcpwire.socket_path(self.home))
            listener.close()

    def relay(self, sock: socket.socket) -> None:
        """Check the connection's credential and hand the connection to a `trails mcp` of its session."""
        with sock:
            try:
                credential = _read_line(sock).decode()
                session = self._session_of(credential)
            except (OSError, UnicodeDecodeError) as exc:
                with contextlib.suppress(OSError):
                    sock.sendall(f"refused: {exc}\n".encode())
                return
            if session is None:
                with contextlib.suppress(OSError):
                    sock.sendall(b"refused: this MCP credential is no live session's\n")
                return
            sock.setblocking(True)  # the child reads and writes it as plain blocking stdio
            sock.sendall(mcpwire.ACCEPTED + b"\n")
            env = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED}
            env.update(mcpwire.server_env(self.home))
            env.update({"TRAILS_SESSION": session.name, mcpwire.TOKEN_ENV: credential})
            try:
                child = subprocess.Popen(list(mcpwire.server_command()), stdin=sock.fileno(), stdout=sock.fileno(),
                                         env=env, cwd=session.workdir if os.path.isdir(session.workdir) else "/")
            except OSError as exc:
                print(f"trails-server: cannot start trails mcp for {session.name}: {exc}", file=sys.stderr,
                      flush=True)
                return
        child.wait()  # reaped here; the connection is the child's alone now (ours is closed)

    def _session_of(self, credential: str) -> Session | None:
        """The live session whose agent holds `credential` (the rule service.credentialed applies)."""
        if not credential:
            return None
        with self.service.engines.engine() as engine:
            return engine.store.session_by_token(mcpwire.TOKEN_KEY, mcpwire.digest(credential))


def _read_line(sock: socket.socket) -> bytes:
    """The first line, a byte at a time: what follows it belongs to the MCP stream."""
    line = b""
    while len(line) < MAX_LINE:
        byte = sock.recv(1)
        if not byte or byte == b"\n":
            return line
        line += byte
    raise OSError("the credential line is too long")
