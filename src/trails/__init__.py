"""trails: run many AI coding agents at once on one codebase, each isolated, steered from one place.

The public engine API is `trails.core.engine.Engine`; front ends live under `trails.ui`.
"""

__version__ = "0.1.0"
