"""The trails server's wire protocol: newline-delimited JSON frames over a Unix socket.

One server per TRAILS_HOME listens on `$TRAILS_HOME/server.sock` (a home too long for a Unix socket
path gets `$TMPDIR/trails-<uid>/<digest>.sock` instead: see `socket_path`). Only the owner may talk
to it: the server checks each client's uid (SO_PEERCRED), and a client checks, before it sends
anything, that the socket's directory is its own and closed to others and that the listener runs as
its own user (trails.core.ownsock).

Every frame is one JSON object on one line (msgspec-encoded; a frame never holds a raw newline).
A client sends requests; several may be under way on one connection, told apart by `id`:

    {"id": 1, "op": "show", "caller": {"trust": "user", "cwd": "/src/app", "env": {...}},
     "params": {"name": "s1"}}

`op` names the operation and `params` holds its request's fields (trails.api.types: one request
type per operation, e.g. `Show`). `caller` is who asks (trails.api.caller.Caller); over this socket
the server takes the trust as `user` whatever is sent, since only the owner can connect — unless the
caller says it acts for less (`web`, read-only or not; `agent`), which it keeps. The server
answers each request with zero or more progress frames, then exactly one result or error frame:

    {"id": 1, "progress": {"type": "job", "job": 7}}             a long operation's job id (cancel it)
    {"id": 1, "progress": {"type": "line", "text": "building image…"}}
    {"id": 1, "result": {...}}                                   the request type's result type
    {"id": 1, "error": {"code": "session_not_found", "message": "…", "hint": "…", "field": "name",
                        "exit_code": 1}}

`{"op": "subscribe", "params": {"since": 40}}` streams every stored event with id > 40, then live
ones, exactly once and in id order, as `{"id": n, "event": {"id": 41, "ts": …, "session": "s1",
"kind": "status", "caller": "user", "data": {...}}}` frames until it is cancelled or the client
hangs up. `{"op": "cancel", "params": {"job": 7}}` (on any connection) cancels job 7: it ends with
an error frame of code `cancelled`. A client that hangs up cancels its own jobs.

Other operations the server answers: `ping` (its pid and version), `nudge` (the state database
changed: the supervisor rescans, the event feed publishes), `server_status`, `server_stop`.

Agents' hooks (trails/hookreport.py) send `hook_event` to a second socket, the hook socket
(trails.core.hookwire), which answers nothing else; its caller is whichever session's token the
report holds (`agent:<session>`), never the user.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import msgspec

from trails.api.caller import Caller
from trails.api.types import ApiError, Request
from trails.core.errors import InvalidInput
from trails.core.locks import held_elsewhere

SOCKET_NAME = "server.sock"
LOCK_NAME = "server.lock"
MONITOR_LOCK_NAME = "monitor.lock"  # held while the server's supervisor watches sessions
LOG_NAME = "server.log"
SERVER_ERROR_PREFIX = "trails-server: error: "  # how the server's log starts a line that says why it stopped
MAX_FRAME = 64 * 1024 * 1024  # a diff or an output log can be large; anything bigger is refused
_MAX_UNIX_PATH = 100


def stop_line(error: ApiError) -> str:
    """The log line a server that could not start ends with: the prefix, then the error as JSON, so the
    client that started it raises the same error (its code included) instead of a generic one."""
    return SERVER_ERROR_PREFIX + msgspec.json.encode(error).decode()


def read_stop_line(line: str) -> ApiError | str:
    """What `stop_line` wrote (the error), or the line's text when it is not one (an older server, a crash)."""
    text = line.removeprefix(SERVER_ERROR_PREFIX)
    try:
        return msgspec.json.decode(text, type=ApiError)
    except msgspec.DecodeError:  # a ValidationError too
        return text


def socket_path(home: Path) -> Path:
    """Where this home's server listens. Unix socket paths are short, so long homes get a /tmp path."""
    path = home / SOCKET_NAME
    if len(str(path)) <= _MAX_UNIX_PATH:
        return path
    import hashlib

    from trails.core import ownsock

    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:16]
    tmp = Path(os.environ.get("TMPDIR") or "/tmp")  # as the shell has it (tempfile caches its answer)
    return ownsock.owned_dir(tmp / f"trails-{os.getuid()}") / f"{digest}.sock"


def lock_held(path: Path) -> bool:
    """True when some process holds an exclusive flock on `path` (a server or its monitor runs)."""
    try:
        handle = open(path)  # noqa: SIM115 - a shared lock needs no write access: works on a read-only home
    except OSError:
        return False
    with handle:
        return held_elsewhere(handle)


def server_pid(home: Path) -> int | None:
    """The pid the running server wrote into its lock file (None when none runs)."""
    if not lock_held(home / LOCK_NAME):
        return None
    with contextlib.suppress(OSError, ValueError):
        return int((home / LOCK_NAME).read_text().strip())
    return None


# --- frames -------------------------------------------------------------------------------------------


class RequestFrame(msgspec.Struct, kw_only=True):
    id: int
    op: str
    caller: Caller | None = None
    params: msgspec.Raw = msgspec.Raw(b"{}")


_EMPTY = msgspec.Raw()


class ReplyFrame(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the server sends: exactly one of progress, result, error, event is set (an unset Raw is empty)."""

    id: int = 0
    progress: msgspec.Raw = _EMPTY
    result: msgspec.Raw = _EMPTY
    error: ApiError | None = None
    event: msgspec.Raw = _EMPTY


def _as_text(value: object) -> object:
    # What a free-form part may hold that JSON has no type for (a Path in a run's event, say).
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


_encoder = msgspec.json.Encoder(enc_hook=_as_text)
_request_decoder = msgspec.json.Decoder(RequestFrame)
_reply_decoder = msgspec.json.Decoder(ReplyFrame)


def encode(obj: object) -> bytes:
    return _encoder.encode(obj)


def request_frame(req_id: int, request: Request[object], caller: Caller) -> bytes:
    """One request frame. A field holding a lone surrogate (what Python makes of bytes that are not
    UTF-8, in argv say) cannot be JSON text: InvalidInput naming that field, as the engine would."""
    try:
        params = msgspec.Raw(_encoder.encode(request))
    except UnicodeEncodeError:
        raise _not_text(request) from None
    return _encoder.encode(RequestFrame(id=req_id, op=request.op_name(), caller=caller, params=params)) + b"\n"


def _not_text(request: Request[object]) -> InvalidInput:
    for name in request.__struct_fields__:
        value = getattr(request, name)
        try:
            _encoder.encode(value)
        except UnicodeEncodeError:
            return InvalidInput(f"{name}: {value!r} contains a lone surrogate (bytes that are not UTF-8), "
                                "which is not text", field=name)
    return InvalidInput("the request contains a lone surrogate (bytes that are not UTF-8), which is not text")


def encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def decode_request(line: bytes) -> RequestFrame:
    return _request_decoder.decode(line)


def decode_reply(line: bytes) -> ReplyFrame:
    return _reply_decoder.decode(line)


def reply(req_id: int, *, progress: object = None, result: object = None, error: ApiError | None = None,
          event: object = None) -> bytes:
    """One reply frame, its payload encoded once (msgspec Structs or plain JSON data)."""
    frame = ReplyFrame(id=req_id, progress=_raw(progress), result=_raw(result), error=error, event=_raw(event))
    return _encoder.encode(frame) + b"\n"


def _raw(value: object) -> msgspec.Raw:
    return _EMPTY if value is None else msgspec.Raw(_encoder.encode(value))


class FrameReader:
    """Lines from a stream socket, one frame each; None at end of stream."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()

    def read(self) -> bytes | None:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[:end + 1]
                return line
            if len(self._buf) > MAX_FRAME:
                raise ValueError(f"a frame longer than {MAX_FRAME} bytes")
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self._buf += chunk
