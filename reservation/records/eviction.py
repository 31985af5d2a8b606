"""Eviction: a closed order leaves Redis once it is past the hot window and the records
store has every one of its events.

The records store says which orders closed before the window (`closed_before`), with
the version and the number of events it has of each; one script in Redis
(OrderStore.archive) takes out the order's document, history and index entry only if
its record is still at that version with that many events, so an order that changed
since, or whose last events the follower has not applied (stopped, behind), stays.
Then what nothing reads any more goes (OrderStore.drop_evicted: its stock hold records,
which only a change of the order used, and its FindOrders entries, which the records
store answers), and last its locator moves into a shared bucket (evict_locator), where
it lives out the channels' resend horizon (RESERVATION_ORDER_RETENTION_MS): a resent
order answers UNCHANGED instead of arriving again. The record's version and `gone`
mark stay a day more (EVICTED_GRACE_MS). Every step is safe to repeat, and the order is
marked evicted in the store only after the last, so a round stopped halfway is finished
by the next one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from reservation import clock as clock_
from reservation.errors import Unavailable
from reservation.logs import Throttled
from reservation.ordersync import finding
from reservation.ordersync.hub import OrderHub
from reservation.records.database import first_line
from reservation.records.store import Records
from reservation.storage.orders import EVICTED

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
        done = [ref for ref, version, events in candidates
                if await self._evict(ref, version, events)]
        await asyncio.to_thread(self.records.mark_evicted, done, now)
        return len(done)

    async def _evict(self, ref: str, version: int, events: int) -> bool:
        """One order out of Redis; False when the store is behind Redis's record."""
        orders = self.hub.orders
        shard = await orders.locate(ref, None)
        if shard is None or shard == EVICTED:
            return True  # nothing of it left in Redis, or evicted before
        if await orders.archive(shard, ref, version, events) == "changed":
            return False  # the store is behind; next round
        found = await asyncio.to_thread(self.records.get, ref)
        if found is not None:
            order = found[0]
            await orders.drop_evicted(ref, self.hub.holds_of(order), finding.all_names(order))
        await orders.evict_locator(ref, shard)
        return True

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
