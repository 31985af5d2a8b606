"""Token verification that no caller can turn against the others.

A right token costs one hash and a dict lookup (Directory.fast). A wrong one must not
cost more than that on the event loop, or a client sending random tokens stalls every
call of every other caller (scrypt is ~80 ms of CPU on purpose). So:

- what Directory.fast cannot decide (a token it has never seen while scrypt principals
  exist) is verified in a small thread pool of its own, off the event loop
  (hashlib.scrypt releases the GIL) and at the lowest CPU priority, with at most
  `queue` verifications waiting: beyond that the call is refused RESOURCE_EXHAUSTED at
  once instead of piling up;
- every failed authentication spends a token of its peer's bucket (`rate` a second,
  `burst` saved up; peers are told apart by address, ports ignored); a peer with an
  empty bucket gets RESOURCE_EXHAUSTED with the wait until its next token for anything
  the fast path does not know to be right: no scrypt for it, and no log record either.
  A right token is never refused by this (callers behind one NAT address are not
  locked out by one of them mistyping);
- each refusal is reported to `on_failure(reason)` (the server counts them in
  `reservation_auth_failures_total{reason}`).

Why not an index by a fast keyed digest for scrypt tokens: the server cannot compute
it for a token it has never seen without a keyed digest stored beside the scrypt hash,
and that digest would let whoever reads the file (and the key) test guesses at its
speed, which is what scrypt is there to prevent.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import math
import os
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from reservation.access.limits import TokenBucket
from reservation.access.principals import SLOW, Directory, Principal
from reservation.errors import ResourceExhausted, Unauthenticated

MAX_PEERS = 10_000
"""Peers whose failure buckets are kept (the least recently failing one goes first)."""


def peer_address(peer: str) -> str:
    """grpc's peer string without the port: "ipv4:10.0.0.1:5123" -> "ipv4:10.0.0.1",
    "ipv6:[::1]:5123" -> "ipv6:[::1]"; anything else as it is."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("[") and "]" in rest:
        return f"{kind}:{rest[:rest.index(']') + 1]}"
    if kind == "ipv4" and ":" in rest:
        return f"{kind}:{rest.rsplit(':', 1)[0]}"
    return peer


class FailureBudget:
    """Failed authentications per peer address: a token bucket each, at most MAX_PEERS
    of them (an attacker with many addresses cannot grow this without bound)."""

    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: collections.OrderedDict[str, TokenBucket] = collections.OrderedDict()

    def _bucket(self, peer: str) -> TokenBucket:
        found = self._buckets.get(peer)
        if found is None:
            found = self._buckets[peer] = TokenBucket(self.rate, self.burst, self.clock)
            while len(self._buckets) > MAX_PEERS:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(peer)
        return found

    def wait(self, peer: str) -> float:
        """0 if the peer may fail once more now; else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        bucket = self._bucket(peer)
        bucket.refill()
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def spend(self, peer: str) -> None:
        if self.rate > 0:
            self._bucket(peer).take()


def _lowest_priority() -> None:
    """Run this (scrypt) thread at nice 19: it releases the GIL, but its 80 ms of CPU and
    16 MB of memory traffic would still take a core from the event loop on a small box;
    at the lowest priority the loop preempts it. Linux sets this per thread; elsewhere
    the call fails and the thread keeps the process's priority."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


class Verifier:
    def __init__(self, rate: float, burst: int, workers: int = 1, queue: int = 8,
                 retry_after_ms: int = 100,
                 on_failure: Callable[[str], None] = lambda reason: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = FailureBudget(rate, burst, clock)
        self.queue = queue
        self.retry_after_ms = retry_after_ms
        self.on_failure = on_failure
        self._pool = concurrent.futures.ThreadPoolExecutor(
            workers, thread_name_prefix="scrypt", initializer=_lowest_priority)
        self._waiting = 0

    async def principal(self, directory: Directory, token: str, peer: str) -> Principal:
        """The token's principal, or Unauthenticated / ResourceExhausted (see above)."""
        found = directory.fast(token)
        if isinstance(found, Principal):
            return found
        address = peer_address(peer)
        self._within_budget(address)
        if found is SLOW:
            if self._waiting >= self.queue:
                self.on_failure("busy")
                raise ResourceExhausted("too many token verifications waiting",
                                        retry_after_ms=self.retry_after_ms)
            self._waiting += 1
            try:
                verified = await asyncio.get_running_loop().run_in_executor(
                    self._pool, directory.slow, token)
            finally:
                self._waiting -= 1
            directory.remember(token, verified)
            if verified is not None:
                return verified
        self.refuse(peer, "unknown_token", "missing or wrong bearer token")

    def failed(self, peer: str, reason: str) -> None:
        """A failed authentication or authorisation: ResourceExhausted if the peer's
        budget is spent, else spend it and count it."""
        address = peer_address(peer)
        self._within_budget(address)
        self.budget.spend(address)
        self.on_failure(reason)

    def spend(self, peer: str) -> bool:
        """Spend one of the peer's failures if it has one left; whether it had."""
        address = peer_address(peer)
        if self.budget.wait(address):
            return False
        self.budget.spend(address)
        return True

    def refuse(self, peer: str, reason: str, message: str) -> NoReturn:
        """failed(), then Unauthenticated(message)."""
        self.failed(peer, reason)
        raise Unauthenticated(message)

    def _within_budget(self, address: str) -> None:
        wait_s = self.budget.wait(address)
        if wait_s:
            self.on_failure("peer_limited")
            # Whole 100 ms: the refusal's details repeat and are built once (errors.py).
            raise ResourceExhausted(f"too many failed authentications from {address}",
                                    retry_after_ms=100 * math.ceil(wait_s * 10))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
