"""Samples what lives in Redis into the metrics gauges, every SAMPLE_PERIOD_S.

Queue depth, dead letters and write-back lag are properties of the shared Redis, not of
a process, so sampling them a few times a minute is enough; a failed sample (Redis
away) keeps the last values and is retried next period, while health reports the outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import Gauge

from reservation.clock import now_ms
from reservation.domain.models import SaleState
from reservation.errors import ReservationError
from reservation.guard import Guard
from reservation.ordersync.overdue import OverdueWatch
from reservation.records.follower import Follower
from reservation.server import metrics
from reservation.stock.levels import Inventory
from reservation.stock.sales import Sales
from reservation.storage.records import GROUP as RECORDS_GROUP
from reservation.storage.store import Store
from reservation.writeback import WriteBack

log = logging.getLogger(__name__)

HotSkus = Callable[[], Awaitable[Sequence[str]]]


async def active_sale_skus(sales: Sales) -> list[str]:
    """The hot SKUs: those of the flash sales running now, first sales first."""
    now = now_ms()
    skus: dict[str, None] = {}
    for sale in await sales.list():
        if sale.state(now) == SaleState.ACTIVE:
            skus.update(dict.fromkeys(item.sku for item in sale.items))
    return list(skus)


async def _sample_groups(stream: WriteBack, kind: str, pending: Gauge, undelivered: Gauge,
                         oldest_age: Gauge, dead_letters: Gauge | None = None) -> None:
    """The lag of every consumer group of one kind of stream, whether the stream's cap
    broke it, and how long nothing pulled it, into its gauges."""
    now = now_ms()
    for group in stream.groups:
        stats = await stream.stats(group)
        pending.labels(group).set(stats.pending)
        undelivered.labels(group).set(stats.undelivered)
        oldest_age.labels(group).set(stats.oldest_unacknowledged_age_ms / 1000)
        metrics.stream_group_broken.labels(kind, group).set(len(stats.broken_shards))
        idle = max(0, now - stats.read_at_ms) if stats.read_at_ms else 0
        metrics.stream_group_idle.labels(kind, group).set(idle / 1000)
        if dead_letters is not None:
            dead_letters.labels(group).set(stats.dead_lettered)


class GaugeSampler:
    def __init__(self, store: Store, inventory: Inventory, write_back: WriteBack,
                 hot_skus: HotSkus | None = None, guard: Guard | None = None,
                 order_events: WriteBack | None = None,
                 records: Follower | None = None,
                 overdue: OverdueWatch | None = None) -> None:
        self.store = store
        self.overdue = overdue
        self._overdue: set[tuple[str, str]] = set()
        self.inventory = inventory
        self.write_back = write_back
        self.order_events = order_events
        self.records = records
        self.hot_skus = hot_skus
        self.guard = guard
        self._open: set[tuple[str, str]] = set()

    async def sample(self) -> None:
        """One round: every gauge from Redis (also what tests call)."""
        shards = range(self.store.settings.shards)
        rows = await asyncio.gather(*(self.store.backlog(shard) for shard in shards))
        metrics.queue_depth.set(sum(queued for queued, _ in rows))
        metrics.dead_letters.set(sum(dead for _, dead in rows))
        await _sample_groups(self.write_back, "write_back", metrics.write_back_pending,
                             metrics.write_back_undelivered, metrics.write_back_oldest_age,
                             metrics.write_back_dead_letters)
        if self.order_events is not None:  # the order hub's groups: audit, feed-<channel>
            await _sample_groups(self.order_events, "order_events",
                                 metrics.order_events_pending,
                                 metrics.order_events_undelivered,
                                 metrics.order_events_oldest_age)
        if self.records is not None:  # the records store reads the streams by its cursor
            oldest, broken = await self.records.standing()
            age = 0 if oldest is None else max(0, now_ms() - oldest)
            metrics.order_events_oldest_age.labels(RECORDS_GROUP).set(age / 1000)
            metrics.stream_group_broken.labels("order_events", RECORDS_GROUP).set(len(broken))
        if self.guard is not None:
            await self._sample_breakers(self.guard)
        if self.overdue is not None:
            await self._sample_overdue(self.overdue)
        if self.hot_skus is not None:
            for sku in list(await self.hot_skus())[:metrics.HOT_SKUS]:
                await self._sample_sku(sku)

    async def _sample_sku(self, sku: str) -> None:
        stock = await self.inventory.get(sku)
        for level in stock.levels:
            for counter in ("available", "held", "confirmed", "returned", "loaded"):
                metrics.hot_sku_stock.labels(sku, level.warehouse_id, counter).set(
                    getattr(level, counter))
        metrics.hot_sku_queue.labels(sku).set(stock.queue_depth)

    async def _sample_breakers(self, guard: Guard) -> None:
        """1 per OPEN breaker; a breaker that closed since the last sample drops to 0."""
        now_open = {(b.sku, b.channel) for b in await guard.open_breakers()}
        for sku, channel in now_open | self._open:
            metrics.breaker_open.labels(sku, channel).set(1 if (sku, channel) in now_open else 0)
        self._open = now_open

    async def _sample_overdue(self, overdue: OverdueWatch) -> None:
        """Per node and channel; a pair with none overdue any more drops to 0."""
        counts = (await overdue.last()).pairs()
        for node, channel in set(counts) | self._overdue:
            metrics.overdue_orders.labels(node, channel).set(counts.get((node, channel), 0))
        self._overdue = set(counts)

    async def run(self) -> None:
        while True:
            try:
                await self.sample()
            except ReservationError as exc:
                log.debug("metrics sample skipped: %s", exc)
            await asyncio.sleep(metrics.SAMPLE_PERIOD_S)
