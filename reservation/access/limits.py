"""Limits per caller (a token bucket and a concurrency cap) and the server-wide
in-flight cap. Refusals are ResourceExhausted carrying how long to wait before retrying.

Single event loop: plain counters, no locks. Each server process (each `--workers`
worker) counts its own calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from reservation.errors import ResourceExhausted


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; one token per call."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self.tokens = float(self.burst)
        self.stamp = clock()

    def refill(self) -> None:
        """Add the tokens earned since the last look."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> float:
        """0 if a token was taken; else the seconds until one will be there."""
        self.refill()
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Limit:
    rate: float = 0.0        # calls a second; 0: no rate limit
    burst: int = 0           # bucket size; 0: one second of rate
    max_in_flight: int = 0   # concurrent calls; 0: no cap


class CallerLimiter:
    """Admits or refuses one principal's calls against its Limit."""

    def __init__(self, limit: Limit, retry_after_ms: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.retry_after_ms = retry_after_ms
        self.in_flight = 0
        self.bucket = (TokenBucket(limit.rate, limit.burst or max(1, int(limit.rate)), clock)
                       if limit.rate > 0 else None)

    @contextmanager
    def admitted(self, who: str) -> Iterator[None]:
        if self.limit.max_in_flight and self.in_flight >= self.limit.max_in_flight:
            raise ResourceExhausted(f"{who} has {self.in_flight} calls in flight "
                                    f"(limit {self.limit.max_in_flight})",
                                    retry_after_ms=self.retry_after_ms)
        if self.bucket is not None:
            wait_s = self.bucket.take()
            if wait_s:
                raise ResourceExhausted(f"{who} is over its rate of {self.limit.rate:g}/s",
                                        retry_after_ms=max(1, round(wait_s * 1000)))
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1


class InFlightCap:
    """The server-wide cap: beyond `cap` concurrent calls, new ones are shed at once
    (cheaper for everyone than queueing them until their deadlines pass)."""

    def __init__(self, cap: int, retry_after_ms: int) -> None:
        self.cap = cap
        self.retry_after_ms = retry_after_ms
        self.in_flight = 0
        self.shed = 0

    @contextmanager
    def admitted(self) -> Iterator[None]:
        if self.in_flight >= self.cap:
            self.shed += 1
            raise ResourceExhausted(f"server busy ({self.cap} calls in flight)",
                                    retry_after_ms=self.retry_after_ms)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
