"""Eviction: a closed order leaves Redis once it is past the hot window and the records
store has every one of its events.

The records store says which orders closed before the window (`closed_before`), with
the version and the number of events it has of each; one script in Redis
(OrderStore.archive) takes out the order's document, history and index entry only if
its record is still at that version with that many events, so an order that changed
since, or whose last events the follower has not applied (stopped, behind), stays. What
stays in Redis is small and lives out the channels' resend horizon
(RESERVATION_ORDER_RETENTION_MS): the record's version and a `gone` mark (a resent order
answers UNCHANGED instead of arriving again), the locator, the duplicate-suspicion
entry, and the stock hold records (they expire on their own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from reservation import clock as clock_
from reservation.errors import Unavailable
from reservation.logs import Throttled
from reservation.ordersync.hub import OrderHub
from reservation.records.database import first_line
from reservation.records.store import Records

log = logging.getLogger(__name__)

BATCH = 500
"""Orders looked at per round."""
PERIOD_S = 60.0
"""How often the background task looks for orders past the window."""


class Evictor:
    def __init__(self, hub: OrderHub, records: Records,
                 clock: Callable[[], int] = clock_.now_ms) -> None:
        self.hub = hub
        self.records = records
        self.clock = clock
        """Time the hot window is measured from; a seam for tests."""

    async def evict_once(self, batch: int = BATCH) -> int:
        """One round; how many orders it settled (left Redis now, or had already)."""
        now = self.clock()
        cutoff = now - self.hub.settings.order_hot_window_ms
        candidates = await asyncio.to_thread(self.records.closed_before, cutoff, batch)
        done = []
        for ref, version, events in candidates:
            shard = await self.hub.orders.locate(ref, None)
            outcome = "gone" if shard is None else await self.hub.orders.archive(
                shard, ref, version, events)
            if outcome != "changed":  # 'changed': the store is behind; next round
                done.append(ref)
        await asyncio.to_thread(self.records.mark_evicted, done, now)
        return len(done)

    async def evict_all(self) -> int:
        """Rounds until one finds nothing more to do."""
        total = 0
        while (n := await self.evict_once()) > 0:
            total += n
        return total

    async def run(self) -> None:
        trouble = Throttled(log)
        while True:
            try:
                await self.evict_all()
                trouble.ok()
            except Unavailable as exc:
                trouble.warning("records eviction: redis unavailable: %s", exc)
            except SQLAlchemyError as exc:
                trouble.warning("records eviction: the records store failed: %s", first_line(exc))
            await asyncio.sleep(PERIOD_S)
