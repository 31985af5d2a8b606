"""The invariants under concurrency, against real Redis:
per SKU and warehouse loaded = available + held + confirmed + returned, nothing negative,
never more units out than loaded, and every change in the write-back stream exactly once
(replaying the streams gives the counters)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import grpc
import pytest

from reservation.settings import Settings
from tests.helpers.reservations import (
    CONFIRMED,
    REJECTED,
    RESERVED,
    assert_invariant,
    confirm,
    levels,
    line,
    load,
    order,
    release,
    reserve,
    settled_orders,
)
from tests.helpers.writeback import replay_write_back


async def test_100_units_and_500_concurrent_orders_give_exactly_100_holds(stubs):
    await load(stubs, ("HOT", "W1", 60), ("HOT", "W2", 40))
    answers = await asyncio.gather(*(
        reserve(stubs, order(f"o{i}", line("HOT"), buyer=f"b{i}", channel="douyin"))
        for i in range(500)))
    states = [a.state for a in answers]
    assert states.count(RESERVED) == 100
    assert states.count(REJECTED) == 400
    by_wh = await levels(stubs, "HOT")
    assert_invariant(by_wh)
    assert sum(lv.held for lv in by_wh.values()) == 100
    assert sum(lv.available for lv in by_wh.values()) == 0


@pytest.mark.slow
async def test_random_orders_releases_confirms_and_expiries_keep_every_invariant(
        stubs, redis_url):
    rng = random.Random(2026)
    skus = [f"SKU-{i}" for i in range(6)]
    warehouses = ["WH-SH", "WH-BJ", "WH-GZ"]
    await load(stubs, *[(s, w, rng.randint(5, 30)) for s in skus for w in warehouses])

    async def one(i: int) -> None:
        lines = [line(sku, rng.randint(1, 4), rng.choice(["", "", *warehouses]))
                 for sku in rng.sample(skus, rng.randint(1, 3))]
        ttl = rng.choice([200, 400, 60_000])
        r = await reserve(stubs, order(f"o{i}", *lines, buyer=f"b{i % 40}", hold_ttl_ms=ttl))
        if r.state != RESERVED:
            return
        await asyncio.sleep(rng.random() * 0.3)
        action = rng.random()
        try:
            if action < 0.4:
                await confirm(stubs, f"o{i}")
            elif action < 0.7:
                await release(stubs, f"o{i}")
        except grpc.aio.AioRpcError as exc:  # it may have expired meanwhile
            assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION

    await asyncio.gather(*(one(i) for i in range(400)))
    finals = await settled_orders(stubs, [f"o{i}" for i in range(400)])
    counters = {sku: await levels(stubs, sku) for sku in skus}
    held_by_orders: dict[tuple[str, str], int] = defaultdict(int)
    confirmed_by_orders: dict[tuple[str, str], int] = defaultdict(int)
    for r in finals:
        for a in r.allocations:
            if r.state == RESERVED:
                held_by_orders[(a.sku, a.warehouse_id)] += a.quantity
            elif r.state == CONFIRMED:
                confirmed_by_orders[(a.sku, a.warehouse_id)] += a.quantity
    ledger = await replay_write_back(redis_url, Settings().shards)
    for sku, by_wh in counters.items():
        assert_invariant(by_wh)
        for wh, lv in by_wh.items():
            # No order reserved twice, no unit counted twice: orders explain the counters.
            assert lv.held == held_by_orders[(sku, wh)], (sku, wh)
            assert lv.confirmed == confirmed_by_orders[(sku, wh)], (sku, wh)
            assert lv.confirmed + lv.held <= lv.loaded
            # Every change reached the write-back stream exactly once.
            replay = ledger[(sku, wh)]
            assert (replay["a"], replay["h"], replay["c"], replay["r"], replay["l"]) == (
                lv.available, lv.held, lv.confirmed, lv.returned, lv.loaded), (sku, wh)
