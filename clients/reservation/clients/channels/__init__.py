"""Channel adapters: one module per channel, each a mapping table plus fetch and push
(see base.py). A module that defines `ADAPTER` is found here by itself, so a seventh
channel is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from reservation.clients.channels.base import Adapter

# Shared machinery, not channels.
_NOT_CHANNELS = {"base", "http", "poller", "store", "fake_server", "pushback", "sync", "run",
                 "samples", "fake_listings", "fake_statements", "statements", "settlement"}


def adapters() -> dict[str, Adapter]:
    """Channel code -> its adapter, for every module here that defines ADAPTER."""
    found: dict[str, Adapter] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name in _NOT_CHANNELS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        adapter = getattr(module, "ADAPTER", None)
        if isinstance(adapter, Adapter):
            found[adapter.name] = adapter
    return found


def adapter(name: str) -> Adapter:
    found = adapters()
    if name not in found:
        raise KeyError(f"no adapter for channel {name!r} (known: {', '.join(sorted(found))})")
    return found[name]
