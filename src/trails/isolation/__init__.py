"""Isolation providers behind one interface; a new provider is one new module listed here."""

from __future__ import annotations

import importlib

from trails.core.models import Mode
from trails.isolation.base import HostContext, IsolationProvider

_MODULES = {
    Mode.DIRECT: "trails.isolation.direct",
    Mode.WORKTREE: "trails.isolation.worktree",
    Mode.CONTAINER: "trails.isolation.container",
}


def provider_for(mode: Mode, host: HostContext) -> IsolationProvider:
    # Imported on demand so `trails ls` never pays for the Docker client.
    module = importlib.import_module(_MODULES[mode])
    provider: IsolationProvider = module.Provider(host)
    return provider
