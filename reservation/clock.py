"""Wall-clock time in milliseconds, the unit of every timestamp the service stores.

The Lua scripts read Redis's own clock (TIME) for holds and expiry; Python uses this for
what it decides before a script runs (a sale's window, response timestamps)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
