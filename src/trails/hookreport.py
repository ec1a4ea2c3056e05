"""The hook reporter: what an agent's own hooks run to tell the trails server what the agent is doing.

    python -I -S hookreport.py [EVENT] [PAYLOAD]

Claude Code and Codex hand each hook its event as JSON on stdin (a Codex `notify` program gets it as
the last argument). This sends `{session, token, event, tool, input, detail}` to the server's hook socket
($TRAILS_HOOK_SOCKET, answering nothing but `hook_event`), authenticated by the session's token
($TRAILS_HOOK_TOKEN, from the session's environment file, never a command line).

It must never hold up or fail the agent: the standard library only (no trails import, so it starts
in a few tens of milliseconds, inside a container too), a short deadline for the whole exchange,
nothing on stdout (a Claude hook's output could be read as a decision), and exit status 0 always.
Like trails' own client, it sends nothing unless the socket's directory is this user's alone and
the listener runs as this user.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import stat
import struct
import sys
import time

DEADLINE_SECONDS = 1.0  # the whole exchange; the agent waits for its hook
MAX_INPUT = 256 * 1024  # a tool's input beyond this is cut (a Write of a large file, say)
DETAIL_KEYS = ("source", "reason", "notification_type", "message", "prompt", "type", "error",
               "last-assistant-message", "last_assistant_message")


def _payload(argv: list[str]) -> dict[str, object]:
    text = ""
    if len(argv) > 1 and argv[-1].lstrip().startswith("{"):  # codex notify: the JSON is an argument
        text = argv[-1]
    elif not sys.stdin.isatty():
        ready, _, _ = select.select([sys.stdin], [], [], DEADLINE_SECONDS / 2)
        if ready:
            text = sys.stdin.read(4 * MAX_INPUT)
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def _params(argv: list[str]) -> dict[str, object]:
    data = _payload(argv)
    event = data.get("hook_event_name") or data.get("type")
    if not isinstance(event, str):
        event = argv[1] if len(argv) > 1 and not argv[1].lstrip().startswith("{") else "unknown"
    tool_input = data.get("tool_input")
    if tool_input is not None and len(json.dumps(tool_input)) > MAX_INPUT:
        tool_input = {"truncated": True}
    detail = {k: str(v)[:2000] for k, v in data.items() if k in DETAIL_KEYS and v is not None}
    return {"session": os.environ.get("TRAILS_SESSION", ""), "token": os.environ.get("TRAILS_HOOK_TOKEN", ""),
            "event": event[:100], "tool": data.get("tool_name") if isinstance(data.get("tool_name"), str) else None,
            "input": tool_input if isinstance(tool_input, dict) else None, "detail": detail}


def _safe_listener(sock: socket.socket, path: str) -> bool:
    st = os.lstat(os.path.dirname(path) or ".")
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return False
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
    return int(uid) == os.getuid()


def report(argv: list[str]) -> None:
    start = time.monotonic()
    path = os.environ.get("TRAILS_HOOK_SOCKET")
    if not path or not os.environ.get("TRAILS_HOOK_TOKEN"):
        return
    frame = json.dumps({"id": 1, "op": "hook_event", "params": _params(argv)}).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(DEADLINE_SECONDS)
        sock.connect(path)
        if not _safe_listener(sock, path):
            return
        sock.sendall(frame)
        # The answer says the server has the event in hand: waiting for it keeps the events of one
        # agent in the order the agent ran its hooks.
        while time.monotonic() - start < DEADLINE_SECONDS:
            sock.settimeout(max(0.01, DEADLINE_SECONDS - (time.monotonic() - start)))
            chunk = sock.recv(4096)
            if not chunk or b"\n" in chunk:
                return


def main() -> None:
    with contextlib.suppress(BaseException):  # whatever went wrong, the agent goes on
        report(sys.argv)
    os._exit(0)


if __name__ == "__main__":
    main()
