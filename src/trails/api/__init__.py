"""The typed API between trails' server and its front ends: caller context, requests, results, events.

A leaf package: it imports nothing of trails but `trails.core.errors` and `trails.core.models`, so
every layer (the core's operations return its types) and every front end (which sees only these
types and the client) can use it.
"""
