"""The coalescer against real Redis: one pipeline per loop turn, each caller its own answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from reservation.domain.models import OrderLine, ReserveCommand, State, StockItem
from reservation.domain.shards import shard_of
from reservation.errors import AlreadyExists, Unavailable
from reservation.reserving.reservations import Reservations
from reservation.settings import Settings
from reservation.stock.levels import Inventory
from reservation.storage import keys
from reservation.storage.coalesce import Coalescer
from reservation.storage.store import Store, connect


async def make_store(url: str, **overrides: Any) -> tuple[Store, Reservations, Inventory]:
    settings = Settings(redis_url=url, **overrides)
    store = Store(connect(settings, url), settings)
    return store, Reservations(store, settings), Inventory(store, settings)


@pytest.fixture
async def domain(redis_url: str) -> AsyncIterator[tuple[Store, Reservations, Inventory]]:
    store, reservations, inventory = await make_store(redis_url)
    yield store, reservations, inventory
    await store.close()


def cmd(oid: str, *lines: tuple[str, int], buyer: str = "b") -> ReserveCommand:
    return ReserveCommand("web", oid, buyer, tuple(OrderLine(s, q) for s, q in lines))


async def test_many_concurrent_commands_share_one_pipeline_with_own_results(
        redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    coalescer = Coalescer(client, {}, max_inflight=1)
    await client.set("text", "not a number")
    futures = [coalescer.command("incr", f"n{i % 10}") for i in range(200)]
    futures.append(coalescer.command("incr", "text"))
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert coalescer.stats["pipelines"] == 1 and coalescer.stats["calls"] == 201
    assert isinstance(results[-1], ResponseError)  # only that caller sees the error
    assert sorted(Counter(results[:-1]).values()) == [10] * 20  # counts 1..20 per key
    await client.aclose()


async def test_concurrent_reserves_of_one_shard_fold_into_few_script_calls(
        domain: tuple[Store, Reservations, Inventory]) -> None:
    store, reservations, inventory = domain
    await inventory.load([StockItem("HOT", "w1", 70), StockItem("HOT", "w2", 30)], "SET")
    out = await asyncio.gather(*(reservations.reserve(cmd(f"o{i}", ("HOT", 1)))
                                 for i in range(400)))
    states = Counter(r.state for r in out)
    assert states == {State.RESERVED: 100, State.REJECTED: 300}
    # 400 claims + a handful of reserve_many calls, not 400 reserve calls.
    assert store._coalescer.stats["commands"] < 420
    stock = await inventory.get("HOT")
    assert [(lv.available, lv.held) for lv in stock.levels] == [(0, 70), (0, 30)]
    again = await asyncio.gather(*(reservations.reserve(cmd(f"o{i}", ("HOT", 1)))
                                   for i in range(400)))
    assert [r.reservation_id for r in again] == [r.reservation_id for r in out]
    assert [r.state for r in again] == [r.state for r in out]


async def test_reserves_of_many_shards_fold_into_one_call_on_one_redis(
        domain: tuple[Store, Reservations, Inventory]) -> None:
    store, reservations, inventory = domain
    skus = [f"S{i}" for i in range(40)]
    shards = {shard_of(s, store.settings.shards) for s in skus}
    assert len(shards) > 20  # the orders really span many shards
    await inventory.load([StockItem(s, "w1", 3) for s in skus], "SET")
    before = store._coalescer.stats["commands"]
    orders = [cmd(f"m{i}", (skus[i % 40], 1)) for i in range(160)]
    out = await asyncio.gather(*(reservations.reserve(c) for c in orders))
    # 160 orders over 40 SKUs: 3 units each, so 120 held and 40 refused, whatever the
    # order they ran in; as a handful of bulk calls, not one (or more) per shard.
    assert Counter(r.state for r in out) == {State.RESERVED: 120, State.REJECTED: 40}
    assert store._coalescer.stats["commands"] - before < len(shards)
    for sku in skus:  # each SKU's counters and holds stay in its own shard
        levels = (await inventory.get(sku)).levels
        assert [(lv.available, lv.held) for lv in levels] == [(0, 3)]
    raw = store.client
    for c, r in zip(orders, out, strict=True):
        if r.state is State.RESERVED:
            shard = shard_of(c.lines[0].sku, store.settings.shards)
            assert await raw.exists(keys.hold(shard, keys.order_ref("web", c.order_id)))
    again = await asyncio.gather(*(reservations.reserve(c) for c in orders))
    assert [(r.reservation_id, r.state) for r in again] == [
        (r.reservation_id, r.state) for r in out]


async def test_each_caller_gets_its_own_error_in_a_folded_batch(
        domain: tuple[Store, Reservations, Inventory]) -> None:
    _, reservations, inventory = domain
    await inventory.load([StockItem("A", "w1", 10)], "SET")
    await reservations.reserve(cmd("taken", ("A", 1)))
    calls = [reservations.reserve(cmd(f"o{i}", ("A", 1))) for i in range(5)]
    calls.insert(2, reservations.reserve(cmd("taken", ("A", 2))))
    out = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(out[2], AlreadyExists)
    assert [o.state for i, o in enumerate(out) if i != 2] == [State.RESERVED] * 5


async def test_scripts_are_reloaded_after_script_flush(
        redis_url: str, domain: tuple[Store, Reservations, Inventory]) -> None:
    _, reservations, inventory = domain
    await inventory.load([StockItem("A", "w1", 50)], "SET")
    async with aioredis.Redis.from_url(redis_url) as raw:
        await raw.script_flush()
    out = await asyncio.gather(*(reservations.reserve(cmd(f"o{i}", ("A", 1)))
                                 for i in range(20)))
    assert all(r.state == State.RESERVED for r in out)


async def test_unreachable_redis_fails_every_caller_with_unavailable() -> None:
    store, reservations, _ = await make_store("redis://127.0.0.1:1/0", redis_timeout_ms=300)
    out = await asyncio.gather(*(reservations.reserve(cmd(f"o{i}", ("A", 1)))
                                 for i in range(10)), return_exceptions=True)
    assert all(isinstance(o, Unavailable) for o in out)
    await store.close()


async def test_calls_queued_past_max_inflight_are_sent_when_one_returns(
        redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    coalescer = Coalescer(client, {}, max_inflight=1)

    async def later(i: int) -> Any:
        await asyncio.sleep(0)  # a second loop turn, while the first pipeline is out
        return await coalescer.command("incr", "n")

    first = coalescer.command("incr", "n")
    rest = await asyncio.gather(first, *(later(i) for i in range(50)))
    assert sorted(rest) == list(range(1, 52))
    assert coalescer.stats["pipelines"] == 2
    await client.aclose()


async def test_works_on_redis_cluster(redis_cluster_url: str) -> None:
    store, reservations, inventory = await make_store(redis_cluster_url, redis_cluster=True)
    await store.client.script_flush()  # NOSCRIPT on every node: reload must work there too
    skus = [f"S{i}" for i in range(20)]
    await inventory.load([StockItem(s, "w1", 3) for s in skus], "SET")
    out = await asyncio.gather(*(reservations.reserve(cmd(f"o{i}", (skus[i % 20], 1)))
                                 for i in range(100)))
    assert Counter(r.state for r in out) == {State.RESERVED: 60, State.REJECTED: 40}
    multi = await reservations.reserve(cmd("multi", ("S0", 1), ("S1", 1)))
    assert multi.state == State.REJECTED
    await store.close()
