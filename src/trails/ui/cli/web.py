"""`trails web`: the web dashboard (trails.ui.web), served until interrupted."""

from __future__ import annotations

from trails.ui.cli.common import echo, note
from trails.ui.cli.framework import command, flag, option


def _port(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0–65535; 0: any free one)")
    return int(text)


@command(help="Serve the web dashboard (binds 127.0.0.1; prints the URL with its access token).")
@option("--port", type=_port, default=None, help="The port (default 8780; 0: any free one).")
@option("--host", default=None, help="The address to bind (default 127.0.0.1; any other is printed with a warning).")
@flag("--open", dest="open_browser", help="Open the page in a browser.")
@flag("--read-only", help="Every token only watches: no actions, no typing.")
@option("--runs", dest="runs_dir", default="runs", help="Where runs are listed and started (default ./runs).")
def web(port: int | None, host: str | None, open_browser: bool, read_only: bool, runs_dir: str) -> None:
    from trails.ui.web.serve import DEFAULT_HOST, DEFAULT_PORT, serve

    serve(host=host or DEFAULT_HOST, port=DEFAULT_PORT if port is None else port, read_only=read_only,
          open_browser=open_browser, runs_dir=runs_dir, say=echo, warn=note)
