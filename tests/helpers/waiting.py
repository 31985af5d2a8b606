"""Waiting for a condition with a deadline: tests wait for what they expect to happen,
never for a fixed time (a loaded machine makes them slower, not flaky)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool],
                     what: str, deadline_s: float = 15.0, every_s: float = 0.02) -> T:
    """Call `probe` until `done(result)`, at most `deadline_s`; the last result, or
    AssertionError naming `what` and the last value. Tests wait for a condition, never
    for a fixed time: a loaded machine makes them slower, not flaky."""
    end = time.monotonic() + deadline_s
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"waited {deadline_s} s for {what}; last seen: {value!r}")
        await asyncio.sleep(every_s)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def past(epoch_ms: int) -> None:
    """Return once the clock (the one Redis reads: same machine) is past `epoch_ms`."""
    async def clock() -> int:
        return now_ms()
    await wait_until(clock, lambda t: t > epoch_ms, f"the clock to pass {epoch_ms}")
