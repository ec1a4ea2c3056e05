"""The web dashboard: an HTTP and WebSocket API over the trails server, and the page that uses it.

A client of this home's trails server like the CLI (every call a typed request as a `web` caller,
read-only with a read-only token); see security.py for who may call, api.py for the endpoints,
sockets.py for the event and terminal streams, serve.py for `trails web`.
"""
