"""How every command runs its coroutine: on uvloop, the server's event loop of choice."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


def run(coro_factory: Callable[[], Coroutine[Any, Any, int | None]]) -> int:
    try:
        import uvloop

        result = uvloop.run(coro_factory())
    except ImportError:  # pragma: no cover - uvloop is a dependency; Windows lacks it
        result = asyncio.run(coro_factory())
    return int(result or 0)
