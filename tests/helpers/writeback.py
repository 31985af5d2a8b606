"""Real traffic through the gRPC API, and the two views the write-back tests compare:
the service's counters (GetStock) and a ledger's totals."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import grpc
import redis.asyncio as aioredis

from reservation.clients.wms.ledger import Ledger
from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.reservations import (
    confirm,
    levels,
    line,
    load,
    ms,
    order,
    release,
)
from tests.helpers.waiting import wait_until

# The write-back tests' visibility timeout (tests/writeback/conftest.py): short, so a
# redelivery test waits a fraction of a second.
VISIBILITY_MS = 300
SKUS = ("wb-apple", "wb-pear", "wb-plum", "wb-fig", "wb-kiwi")
WAREHOUSES = ("sh", "bj")
Totals = dict[tuple[str, str], tuple[int, int, int, int, int]]


class Traffic:
    """Loads, reserves (short holds, so some expire), confirms, releases, sets stock lower."""

    def __init__(self, stubs, seed: int = 7) -> None:
        self.stubs = stubs
        self.rng = random.Random(seed)
        self.orders: list[str] = []
        self.count = 0

    async def load(self) -> None:
        await load(self.stubs, *[(s, w, 40) for s in SKUS for w in WAREHOUSES])

    async def op(self) -> None:
        self.count += 1
        roll = self.rng.random()
        try:
            if roll < 0.55 or not self.orders:
                oid = f"o{self.count}"
                sku = self.rng.choice(SKUS)
                await self.stubs.rs.Reserve(order(
                    oid, line(sku, self.rng.randint(1, 3)), buyer=f"b{self.count}",
                    hold_ttl_ms=self.rng.randint(150, 900)), timeout=10)
                self.orders.append(oid)
            elif roll < 0.75:
                await confirm(self.stubs, self.rng.choice(self.orders))
            elif roll < 0.9:
                await release(self.stubs, self.rng.choice(self.orders))
            else:
                # SET may set available lower than it is: a negative STOCK_LOADED.
                mode = self.rng.choice([apb.LOAD_MODE_ADD, apb.LOAD_MODE_SET])
                low = 1 if mode == apb.LOAD_MODE_ADD else 0
                await load(self.stubs, (self.rng.choice(SKUS), self.rng.choice(WAREHOUSES),
                                        self.rng.randint(low, 10)), mode=mode)
        except grpc.aio.AioRpcError as exc:
            # Confirming an expired hold is refused: a business outcome, not a test failure.
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise

    async def burst(self, n: int) -> None:
        await asyncio.gather(*(self.op() for _ in range(n)))


async def counters(stubs, skus=SKUS) -> Totals:
    out: Totals = {}
    for sku in skus:
        for wh, lv in (await levels(stubs, sku)).items():
            out[(sku, wh)] = (lv.loaded, lv.available, lv.held, lv.confirmed, lv.returned)
    return out


async def settled(stubs, skus=SKUS, deadline_s: float = 30.0) -> Totals:
    """Counters once every hold has expired or been handled (nothing held any more)."""
    return await wait_until(lambda: counters(stubs, skus),
                            lambda now: all(v[2] == 0 for v in now.values()),
                            "every hold to settle", deadline_s)


def ledger_totals(ledger: Ledger) -> Totals:
    return {(t.sku, t.warehouse_id): (t.loaded, t.available, t.held, t.confirmed, t.returned)
            for t in ledger.totals()}


async def caught_up(wb, group: str = "") -> bool:
    stats = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(group=group))
    return stats.pending == 0 and stats.undelivered == 0


# How each write-back event type moves the counters (a reference ledger).
MOVES = {
    "STOCK_LOADED": {"a": 1, "l": 1},
    "HELD": {"a": -1, "h": 1},
    "CONFIRMED": {"h": -1, "c": 1},
    "RELEASED": {"h": -1, "a": 1},
    "EXPIRED": {"h": -1, "a": 1},
    "RETURNED": {"a": -1, "r": 1},
}


async def replay_write_back(redis_url: str, shards: int) -> dict[tuple[str, str], dict[str, int]]:
    ledger: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for shard in range(shards):
            for _, ev in await client.xrange(keys.write_back(shard)):
                for counter, sign in MOVES.get(ev["t"], {}).items():
                    ledger[(ev["sku"], ev["wh"])][counter] += sign * int(ev["q"])
    finally:
        await client.aclose()
    return ledger


def pull_request(consumer: str = "wms-1", max_events: int = 100, wait_ms: int = 0,
                 group: str = "") -> wpb.PullBatchRequest:
    return wpb.PullBatchRequest(consumer=consumer, max_events=max_events, wait=ms(wait_ms),
                                group=group)
