"""The MCP relay: what an agent in a container starts as its `trails` MCP server (stdio).

    python -I -S mcp_relay.py SOCKET

It connects to the server's MCP socket (`mcp.sock` in the hook directory every container has
mounted read-only), sends the session's credential ($TRAILS_MCP_TOKEN, from the agent's environment,
never a command line) as its first line, and once the server answers `ok` (it then runs `trails mcp`
on the host with the connection as its stdin and stdout) copies its own stdin to the socket and the
socket to its stdout until either side closes. A refusal is told on stderr, with exit status 1.

The standard library only (no trails import: the container has no trails), and like the hook
reporter it sends nothing unless the socket's directory is this user's alone and the listener runs
as this user.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import sys
import threading

TOKEN_ENV = "TRAILS_MCP_TOKEN"
ACCEPTED = b"ok"  # the server's answer to a credential it took; anything else says why not
HANDSHAKE_SECONDS = 10.0
CHUNK = 64 * 1024


def _safe_listener(sock: socket.socket, path: str) -> bool:
    st = os.lstat(os.path.dirname(path) or ".")
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return False
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return int(uid) == os.getuid()


def _read_line(sock: socket.socket) -> bytes:
    """One line, a byte at a time: what follows it is the MCP stream's, not ours to take."""
    line = b""
    while len(line) < 4096:
        byte = sock.recv(1)
        if not byte or byte == b"\n":
            break
        line += byte
    return line


def _stdin_to(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := os.read(0, CHUNK):
            sock.sendall(chunk)
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)  # the client closed: `trails mcp` sees its stdin end


def relay(path: str) -> int:
    credential = os.environ.get(TOKEN_ENV, "")
    if not credential:
        print(f"trails mcp relay: no {TOKEN_ENV} in the environment", file=sys.stderr)
        return 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(HANDSHAKE_SECONDS)
        sock.connect(path)
        if not _safe_listener(sock, path):
            print(f"trails mcp relay: {path} is not this user's trails server", file=sys.stderr)
            return 1
        sock.sendall(credential.encode() + b"\n")
        answer = _read_line(sock)
        if answer != ACCEPTED:
            print(f"trails mcp relay: refused: {answer.decode(errors='replace') or 'closed'}", file=sys.stderr)
            return 1
        sock.settimeout(None)
        threading.Thread(target=_stdin_to, args=(sock,), daemon=True).start()
        while chunk := sock.recv(CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(1, view):]
    return 0


def main() -> None:
    if len(sys.argv) != 2:
        print("usage: mcp_relay.py SOCKET", file=sys.stderr)
        sys.exit(2)
    try:
        code = relay(sys.argv[1])
    except OSError as exc:
        print(f"trails mcp relay: {sys.argv[1]}: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    os._exit(code)  # the stdin reader may still be blocked in its read


if __name__ == "__main__":
    main()
