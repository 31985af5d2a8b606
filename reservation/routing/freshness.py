"""What a replica knows between its reads of Redis, and when it reads again.

A routing decision needs the stock of its SKUs and (where a daily capacity is set) today's
loads. Reading them for every call is what routing paid per order, so the service keeps
what it last read and decides on that while it is younger than REFRESH_S, plus the holds
this replica made since (Loads, StockSeen), except near a hard stop, where a fresh read
decides. Concurrent callers of one read share it (SingleFlight). The day the loads count
is China time's (today()).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from reservation.routing.decision import Decision
from reservation.routing.router import Table

# Warehouses count "today" in China time (UTC+8, no daylight saving).
CHINA = timezone(timedelta(hours=8))
REFRESH_S = 0.2
"""Routing reads the rule set and warehouse versions, and today's loads (every shard's
counter), at most this often; in between a decision uses the rules and warehouses it
holds, and the last loads read plus this replica's own routed holds since. A put
through this replica applies to its next call; through another, within REFRESH_S."""
NEAR_THRESHOLD = 0.05
"""... except near a hard stop: a warehouse within this share of its threshold (or
within this replica's routed holds in flight) is decided on a fresh read."""
SKUS_KEPT = 4096  # SKUs whose last read stock is kept (past it, the stale ones go)


_today: tuple[int, str] = (-1, "")


def today(now: datetime | None = None) -> str:
    """yyyymmdd in China time. Without `now`, kept per minute of Unix time (every
    routed order asks, and strftime is not free): a day in UTC+8 starts on a minute
    boundary, so a kept value never straddles midnight."""
    global _today
    if now is not None:
        return now.astimezone(CHINA).strftime("%Y%m%d")
    minute = int(time.time()) // 60
    if _today[0] != minute:
        _today = (minute, datetime.now(CHINA).strftime("%Y%m%d"))
    return _today[1]


class SingleFlight:
    """Concurrent callers of one read share the read in flight instead of each sending
    their own: 50 concurrent Route calls read today's loads (a command per shard) once.
    A caller never gets a value read before it asked... except from a read already in
    flight when it asked, which is as fresh as the decision-then-hold race allows anyway."""

    def __init__(self, read: Callable[[], Awaitable[Any]]) -> None:
        self._read = read
        self._task: asyncio.Future[Any] | None = None

    async def __call__(self) -> Any:
        if self._task is None:
            task = asyncio.ensure_future(self._read())
            task.add_done_callback(self._clear)
            self._task = task
        # shield: one caller's cancellation does not cancel the others' read.
        return await asyncio.shield(self._task)

    def _clear(self, task: asyncio.Future[Any]) -> None:
        if self._task is task:
            self._task = None
        if not task.cancelled():
            task.exception()  # retrieved: an error reaches every waiter, not the loop's log


class Loads:
    """Today's routed orders per warehouse as routing sees them between reads: the last
    read of the counters plus the holds this replica made since. A hold counts here only
    if it started after that read came back (else the read may already hold it: no
    double count); the ones that straddle a read show at the next one."""

    def __init__(self) -> None:
        self.day = ""
        self.read_at = -math.inf
        self.asked_at = -math.inf  # a read in flight: the others wait for its answer
        self.generation = 0
        self.counts: dict[str, int] = {}
        self.in_flight = 0

    def stale(self, tab: Table, threshold: float, day: str, now: float) -> bool:
        if day != self.day or now - max(self.read_at, self.asked_at) >= REFRESH_S:
            return True
        for w, cap in zip(tab.ids, tab.capacity, strict=True):
            if cap:
                limit = threshold * cap
                margin = max(1.0, NEAR_THRESHOLD * limit, float(self.in_flight))
                if self.counts.get(w, 0) >= limit - margin:
                    return True
        return False

    def read(self, counts: Mapping[str, int], day: str, now: float) -> None:
        self.day, self.read_at, self.counts = day, now, dict(counts)
        self.generation += 1

    def started(self) -> int:
        self.in_flight += 1
        return self.generation

    def done(self, generation: int, day: str, warehouses: Sequence[str]) -> None:
        self.in_flight -= 1
        if generation == self.generation and day == self.day:
            for w in warehouses:
                self.counts[w] = self.counts.get(w, 0) + 1


STOCK_MARGIN = 10
ACTIVE_SKUS = 256
"""Reserve with a destination decides on the stock read in the last REFRESH_S (minus
this replica's routed holds since) only with room to spare: every allocation leaves at
least this many units (or this replica's routed orders in flight, if more) above the
warehouse's safety stock, and the order is fully allocated; otherwise it reads again."""


class StockSeen:
    """Available units per SKU and warehouse from recent reads, for Reserve with a
    destination: the reserve script re-checks stock atomically and tries the routed
    candidates in order, so a stale view changes only which warehouse is tried first,
    never what is held... within STOCK_MARGIN, where a fresh read decides instead (a
    view can only run ahead of Redis by what other replicas and plain Reserves took in
    the last REFRESH_S). Holds this replica made since a read are taken off the view,
    as in Loads."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, int, dict[str, int]]] = {}
        self.used: dict[str, float] = {}  # SKU -> when a decision last asked for it
        self.refreshed_at = -math.inf     # when the SKUs routed lately were last read
        self.generation = 0
        self.in_flight = 0

    def view(self, skus: Sequence[str], now: float) -> dict[str, dict[str, int]] | None:
        out = {}
        for sku in skus:
            self.used[sku] = now
            entry = self.entries.get(sku)
            if entry is None or now - entry[0] >= REFRESH_S:
                return None
            out[sku] = entry[2]
        return out

    def active(self, now: float) -> list[str]:
        """The SKUs decisions asked for in the last REFRESH_S (at most ACTIVE_SKUS, the
        latest): the periodic read refreshes them all, so an order of a SKU sold
        steadily finds a recent view instead of reading on its own."""
        recent = [(t, sku) for sku, t in self.used.items() if now - t < REFRESH_S]
        self.used = {sku: t for t, sku in recent}
        return [sku for _, sku in sorted(recent, reverse=True)[:ACTIVE_SKUS]]

    def read(self, stock: Mapping[str, Mapping[str, int]], now: float) -> None:
        self.generation += 1
        for sku, counts in stock.items():
            self.entries[sku] = (now, self.generation, dict(counts))
        if len(self.entries) > SKUS_KEPT:  # SKUs no longer ordered: dropped
            for sku in [k for k, e in self.entries.items() if now - e[0] >= REFRESH_S]:
                del self.entries[sku]

    def roomy(self, decision: Decision, stock: Mapping[str, Mapping[str, int]],
              tab: Table) -> bool:
        if not decision.routed:
            return False
        margin = max(STOCK_MARGIN, self.in_flight)
        for line in decision.lines:
            counts = stock.get(line.sku, {})
            for wh, q in line.allocations:
                j = tab.index[wh]
                if counts.get(wh, 0) - tab.safety[j] - q < margin:
                    return False
        return True

    def started(self) -> int:
        self.in_flight += 1
        return self.generation

    def done(self, generation: int, held: Sequence[tuple[str, str, int]]) -> None:
        self.in_flight -= 1
        for sku, wh, q in held:
            entry = self.entries.get(sku)
            if entry is not None and entry[1] <= generation:  # read before the hold began
                entry[2][wh] = entry[2].get(wh, 0) - q
