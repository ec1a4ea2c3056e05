"""A recording proxy on loopback between an agent and its API (AgentLens's capture_api_requests).

Every request is forwarded to the upstream base URL as it came and its response streamed back as
it goes; each exchange is appended to `api_captures.jsonl` in the session directory with its
headers (credentials redacted), request body and response body.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_SECRET_HEADERS = {"x-api-key", "authorization", "proxy-authorization", "cookie", "set-cookie"}
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
                "content-length", "host", "accept-encoding"}


class CaptureProxy:
    def __init__(self, upstream: str, log: Path) -> None:
        self.upstream = urlsplit(upstream.rstrip("/"))
        self.log = log
        self._lock = threading.Lock()
        self._seq = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen on 127.0.0.1 (a free port) and return the base URL to give the agent."""
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="trails-capture", daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            with self.log.open("a") as fh:
                fh.write(json.dumps(entry) + "\n")

    def connection(self) -> http.client.HTTPConnection:
        host = self.upstream.hostname or "localhost"
        if self.upstream.scheme == "https":
            return http.client.HTTPSConnection(host, self.upstream.port, timeout=600)
        return http.client.HTTPConnection(host, self.upstream.port, timeout=600)


class _Handler(BaseHTTPRequestHandler):
    owner: CaptureProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the capture file is the log
        return

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def _forward(self) -> None:
        owner = self.owner
        started = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        path = (owner.upstream.path or "") + self.path
        entry: dict[str, Any] = {"time": started, "method": self.command, "path": self.path,
                                 "request_headers": _redact(headers), "request": _body(body)}
        chunks: list[bytes] = []
        try:
            conn = owner.connection()
            conn.request(self.command, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            self.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() not in _HOP_HEADERS:
                    self.send_header(key, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while self.command != "HEAD":
                chunk = resp.read1(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            entry.update(status=resp.status, response_headers=_redact(dict(resp.getheaders())))
            conn.close()
        except OSError as exc:
            entry.update(status=None, error=str(exc))
            if not chunks:
                self.send_error(502, f"capture proxy: upstream {owner.upstream.geturl()} failed: {exc}")
        entry.update(response=_body(b"".join(chunks)), duration_s=round(time.time() - started, 3))
        owner.record(entry)


def _redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def _body(data: bytes) -> Any:
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text  # a server-sent event stream, kept as it came
