"""The whole reservation flow on a real 3-master local Redis Cluster, over real gRPC.

The same code must run on one Redis and on a cluster (DESIGN.md: virtual shards with hash
tags). These tests pick SKUs whose shards live on different cluster nodes, so single-line
orders, cross-shard orders, sales and the sweeper all meet several nodes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import pytest
import redis
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.server.app import App, start_app
from reservation.settings import Settings
from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb
from tests.helpers.redis_servers import LocalRedisCluster
from tests.helpers.server import Stubs, test_settings
from tests.helpers.shards import node_of, skus_on_distinct_nodes

RESERVED = types_pb.RESERVATION_STATE_RESERVED
CONFIRMED = types_pb.RESERVATION_STATE_CONFIRMED
RELEASED = types_pb.RESERVATION_STATE_RELEASED
EXPIRED = types_pb.RESERVATION_STATE_EXPIRED
REJECTED = types_pb.RESERVATION_STATE_REJECTED
WAIT_S = 15.0  # bound for polling loops (expiry is swept within about a second)


@pytest.fixture
async def cluster_app(redis_cluster_url: str) -> AsyncIterator[App]:
    running = await start_app(test_settings(redis_cluster_url, redis_cluster=True))
    yield running
    await running.stop(grace=0)


@pytest.fixture
async def cstubs(cluster_app: App) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(cluster_app.target) as channel:
        yield Stubs(channel)


@pytest.fixture
def skus(redis_cluster: LocalRedisCluster) -> list[str]:
    return skus_on_distinct_nodes(redis_cluster, 3)


def item(sku: str, wh: str, qty: int) -> types_pb.StockItem:
    return types_pb.StockItem(sku=sku, warehouse_id=wh, quantity=qty)


async def load(stubs: Stubs, *items: types_pb.StockItem) -> admin_pb.LoadStockResponse:
    return await stubs.admin.LoadStock(
        admin_pb.LoadStockRequest(mode=admin_pb.LOAD_MODE_SET, items=items))


def order(oid: str, *lines: tuple[str, int], buyer: str = "b",
          hold_ttl_ms: int = 0) -> pb.ReserveRequest:
    req = pb.ReserveRequest(channel="web", order_id=oid, buyer_id=buyer,
                            lines=[types_pb.OrderLine(sku=s, quantity=q) for s, q in lines])
    if hold_ttl_ms:
        req.hold_ttl.FromMilliseconds(hold_ttl_ms)
    return req


async def reserve(stubs: Stubs, oid: str, *lines: tuple[str, int], **kw: Any) -> pb.Reservation:
    return (await stubs.rs.Reserve(order(oid, *lines, **kw), timeout=10)).reservation


async def levels(stubs: Stubs, sku: str) -> dict[str, types_pb.StockLevel]:
    resp = await stubs.rs.GetStock(pb.GetStockRequest(sku=sku), timeout=10)
    return {lv.warehouse_id: lv for lv in resp.levels}


async def avail_held(stubs: Stubs, sku: str) -> dict[str, tuple[int, int]]:
    return {wh: (lv.available, lv.held) for wh, lv in (await levels(stubs, sku)).items()}


async def assert_invariant(stubs: Stubs, skus: Sequence[str]) -> None:
    for sku in skus:
        for wh, lv in (await levels(stubs, sku)).items():
            assert lv.loaded == lv.available + lv.held + lv.confirmed + lv.returned, (sku, wh)
            assert min(lv.available, lv.held, lv.confirmed, lv.returned) >= 0, (sku, wh)


async def get(stubs: Stubs, oid: str) -> pb.Reservation:
    reply = await stubs.rs.GetReservation(
        pb.GetReservationRequest(channel="web", order_id=oid), timeout=10)
    return reply.reservation


def test_chosen_skus_live_on_three_different_nodes(
        redis_cluster: LocalRedisCluster, skus: list[str]) -> None:
    assert len({node_of(redis_cluster, s) for s in skus}) == 3


async def test_load_stock_writes_each_sku_on_its_own_node(
        redis_cluster: LocalRedisCluster, cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus), item(skus[0], "WH-2", 5))
    for sku in skus:
        shard = keys.shard_of(sku, Settings().shards)
        owner = node_of(redis_cluster, sku)
        # Ask the owning node itself, not the cluster client: where does the key live?
        with redis.Redis(host="127.0.0.1", port=owner) as r:
            assert r.exists(keys.stock(shard, sku)) == 1
    assert await avail_held(cstubs, skus[0]) == {"WH-1": (10, 0), "WH-2": (5, 0)}


async def test_single_line_order_is_reserved_on_cluster(cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, item(skus[0], "WH-1", 10))
    r = await reserve(cstubs, "o1", (skus[0], 3))
    assert r.state == RESERVED
    assert [(a.sku, a.warehouse_id, a.quantity) for a in r.allocations] == [(skus[0], "WH-1", 3)]
    assert await avail_held(cstubs, skus[0]) == {"WH-1": (7, 3)}


async def test_multi_line_order_across_nodes_holds_every_line(
        cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    r = await reserve(cstubs, "o1", (skus[0], 1), (skus[1], 2), (skus[2], 3))
    assert r.state == RESERVED
    assert sorted((a.sku, a.quantity) for a in r.allocations) == \
        sorted([(skus[0], 1), (skus[1], 2), (skus[2], 3)])
    for sku, qty in zip(skus, (1, 2, 3)):
        assert await avail_held(cstubs, sku) == {"WH-1": (10 - qty, qty)}


async def test_multi_line_order_across_nodes_holds_nothing_when_one_line_fails(
        cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    r = await reserve(cstubs, "o1", (skus[0], 1), (skus[1], 2), (skus[2], 11))
    assert r.state == REJECTED
    assert r.failed_sku == skus[2]
    for sku in skus:
        assert await avail_held(cstubs, sku) == {"WH-1": (10, 0)}


async def test_all_or_nothing_rolls_back_earlier_nodes_when_the_last_shard_refuses_on_cluster(
        cstubs: Stubs, skus: list[str]) -> None:
    # The refusing line is in the highest of the three shards (on its own node), so the
    # parts on the other two nodes are held first and must be given back.
    by_shard = sorted(skus, key=lambda s: keys.shard_of(s, Settings().shards))
    last = by_shard[-1]
    await load(cstubs, *(item(s, "WH-1", 1 if s == last else 10) for s in skus))
    r = await reserve(cstubs, "o1", (last, 2), (by_shard[0], 1), (by_shard[1], 1))
    assert (r.state, r.failed_sku) == (REJECTED, last)
    for sku in skus:
        assert await avail_held(cstubs, sku) == {"WH-1": (1 if sku == last else 10, 0)}


async def test_repeated_multi_line_order_returns_the_same_reservation_on_cluster(
        cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    first = await reserve(cstubs, "o1", (skus[0], 1), (skus[1], 1))
    again = await reserve(cstubs, "o1", (skus[0], 1), (skus[1], 1))
    assert again.reservation_id == first.reservation_id
    assert await avail_held(cstubs, skus[1]) == {"WH-1": (9, 1)}


async def test_confirm_makes_a_cross_node_hold_permanent(cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    await reserve(cstubs, "o1", (skus[0], 2), (skus[1], 1))
    reply = await cstubs.rs.Confirm(pb.ConfirmRequest(channel="web", order_id="o1"), timeout=10)
    assert reply.reservation.state == CONFIRMED
    lv = (await levels(cstubs, skus[0]))["WH-1"]
    assert (lv.available, lv.held, lv.confirmed) == (8, 0, 2)
    lv = (await levels(cstubs, skus[1]))["WH-1"]
    assert (lv.available, lv.held, lv.confirmed) == (9, 0, 1)


async def test_release_returns_the_units_of_a_cross_node_hold(
        cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    await reserve(cstubs, "o1", (skus[0], 2), (skus[2], 4))
    reply = await cstubs.rs.Release(pb.ReleaseRequest(channel="web", order_id="o1"), timeout=10)
    assert reply.reservation.state == RELEASED
    assert await avail_held(cstubs, skus[0]) == {"WH-1": (10, 0)}
    assert await avail_held(cstubs, skus[2]) == {"WH-1": (10, 0)}


async def test_unconfirmed_hold_expires_and_its_units_return_on_cluster(
        cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    await reserve(cstubs, "o1", (skus[0], 2), (skus[1], 3), hold_ttl_ms=300)
    deadline = time.monotonic() + WAIT_S
    while (r := await get(cstubs, "o1")).state != EXPIRED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert r.state == EXPIRED
    assert await avail_held(cstubs, skus[0]) == {"WH-1": (10, 0)}
    assert await avail_held(cstubs, skus[1]) == {"WH-1": (10, 0)}


async def test_confirm_after_expiry_is_refused_on_cluster(cstubs: Stubs, skus: list[str]) -> None:
    await load(cstubs, item(skus[0], "WH-1", 10))
    await reserve(cstubs, "o1", (skus[0], 1), hold_ttl_ms=200)
    deadline = time.monotonic() + WAIT_S
    while (await get(cstubs, "o1")).state != EXPIRED and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await cstubs.rs.Confirm(pb.ConfirmRequest(channel="web", order_id="o1"), timeout=10)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def sale_request(sale_id: str, items: Sequence[types_pb.StockItem], limit: int = 0,
                 ends_in_s: int = 3600) -> admin_pb.StartFlashSaleRequest:
    now_ms = int(time.time() * 1000)
    starts, ends = Timestamp(), Timestamp()
    starts.FromMilliseconds(now_ms - 1000)
    ends.FromMilliseconds(now_ms + ends_in_s * 1000)
    return admin_pb.StartFlashSaleRequest(sale_id=sale_id, items=items, starts_at=starts,
                                          ends_at=ends, per_buyer_limit=limit,
                                          hold_ttl=Duration(seconds=60),
                                          create_skus=True)  # the test's SKUs are new


async def test_flash_sale_over_several_nodes_sells_its_quota(
        cstubs: Stubs, skus: list[str]) -> None:
    reply = await cstubs.admin.StartFlashSale(
        sale_request("s1", [item(s, "WH-1", 5) for s in skus], limit=2), timeout=10)
    assert len(reply.sale.items) == 3
    r = await reserve(cstubs, "o1", (skus[0], 2), (skus[2], 1), buyer="u1")
    assert r.state == RESERVED
    over = await reserve(cstubs, "o2", (skus[0], 1), buyer="u1")
    assert (over.state, over.reject_reason) == (
        REJECTED, types_pb.REJECT_REASON_BUYER_LIMIT_EXCEEDED)
    got = await cstubs.admin.GetFlashSale(admin_pb.GetFlashSaleRequest(sale_id="s1"), timeout=10)
    held = {(i.sku, i.level.held) for i in got.sale.items}
    assert held == {(skus[0], 2), (skus[1], 0), (skus[2], 1)}


async def test_a_sales_gate_limits_and_blocks_on_every_node(
        cstubs: Stubs, skus: list[str]) -> None:
    request = sale_request("gate", [item(s, "WH-1", 5) for s in skus])
    request.buyer_rate.orders = 1
    request.buyer_rate.per.FromMilliseconds(3_600_000)
    await cstubs.admin.StartFlashSale(request, timeout=10)
    await cstubs.admin.UpdateBlocklist(admin_pb.UpdateBlocklistRequest(add=[
        admin_pb.BlockEntry(kind=admin_pb.BLOCK_KIND_BUYER, value="mallory")]), timeout=10)
    for n, sku in enumerate(skus):  # one allowance per SKU, each on its own node
        assert (await reserve(cstubs, f"g{n}", (sku, 1), buyer="u1")).state == RESERVED
        over = await reserve(cstubs, f"h{n}", (sku, 1), buyer="u1")
        assert over.reject_reason == types_pb.REJECT_REASON_RATE_LIMITED
        blocked = await reserve(cstubs, f"m{n}", (sku, 1), buyer="mallory")
        assert blocked.reject_reason == types_pb.REJECT_REASON_BLOCKED


async def test_stopping_a_flash_sale_returns_unsold_units_on_every_node(
        cstubs: Stubs, skus: list[str]) -> None:
    await cstubs.admin.StartFlashSale(sale_request("s1", [item(s, "WH-1", 5) for s in skus]),
                                      timeout=10)
    await reserve(cstubs, "o1", (skus[1], 2))
    reply = await cstubs.admin.StopFlashSale(admin_pb.StopFlashSaleRequest(sale_id="s1"),
                                             timeout=10)
    assert reply.sale.state == admin_pb.FLASH_SALE_STATE_STOPPED
    for sku in skus:
        lv = (await levels(cstubs, sku))["WH-1"]
        expected_held = 2 if sku == skus[1] else 0
        assert (lv.available, lv.held, lv.returned) == (0, expected_held, 5 - expected_held)
    late = await reserve(cstubs, "o2", (skus[0], 1))
    assert late.reject_reason == types_pb.REJECT_REASON_NOT_ON_SALE


async def reserve_concurrently(stubs: Stubs, skus: list[str]) -> list[pb.Reservation]:
    """300 orders at once over 3 SKUs x 2 warehouses of 20 units; every 4th spans nodes."""
    await load(stubs, *(item(s, wh, 20) for s in skus for wh in ("WH-1", "WH-2")))
    requests = []
    for i in range(300):
        lines = [(skus[i % 3], 1)]
        if i % 4 == 0:
            lines.append((skus[(i + 1) % 3], 1))
        requests.append(order(f"c{i}", *lines, buyer=f"u{i}"))
    replies = await asyncio.gather(*(stubs.rs.Reserve(r, timeout=10) for r in requests))
    return [r.reservation for r in replies]


async def test_concurrent_orders_sell_each_unit_at_most_once_on_cluster(
        cstubs: Stubs, skus: list[str]) -> None:
    """300 orders race for 120 units: none is sold twice, and the counters hold what the
    orders hold. A unit may stay unsold: a two-SKU order holds its first part, its
    second is refused, and it gives the first back (all or nothing) after every order
    that wanted that unit was refused already. So what stays unsold of a SKU is at most
    the refused two-SKU orders with a line of it."""
    orders = await reserve_concurrently(cstubs, skus)
    sold = {s: 0 for s in skus}
    given_back = {s: 0 for s in skus}
    for i, r in enumerate(orders):
        if r.state == RESERVED:
            for a in r.allocations:
                sold[a.sku] += a.quantity
        elif i % 4 == 0:  # a two-SKU order (reserve_concurrently), refused
            given_back[skus[i % 3]] += 1
            given_back[skus[(i + 1) % 3]] += 1
    for sku in skus:
        assert 40 - given_back[sku] <= sold[sku] <= 40
        lv = await levels(cstubs, sku)
        assert sum(x.held for x in lv.values()) == sold[sku]
        assert {wh: x.held + x.available for wh, x in lv.items()} == {"WH-1": 20, "WH-2": 20}


async def test_counters_match_orders_after_concurrent_confirms_and_releases_on_cluster(
        cstubs: Stubs, skus: list[str]) -> None:
    reserved = [r.order_id for r in await reserve_concurrently(cstubs, skus)
                if r.state == RESERVED]
    await asyncio.gather(*(cstubs.rs.Release(pb.ReleaseRequest(channel="web", order_id=o))
                           for o in reserved[::3]))
    await asyncio.gather(*(cstubs.rs.Confirm(pb.ConfirmRequest(channel="web", order_id=o))
                           for o in reserved[1::3]))
    final = [await get(cstubs, o) for o in reserved]
    await assert_invariant(cstubs, skus)
    for sku in skus:
        for kind, state in (("held", RESERVED), ("confirmed", CONFIRMED)):
            counted = sum(getattr(lv, kind) for lv in (await levels(cstubs, sku)).values())
            expected = sum(a.quantity for r in final if r.state == state
                           for a in r.allocations if a.sku == sku)
            assert (sku, kind, counted) == (sku, kind, expected)


async def test_scripts_reload_after_every_node_flushes_its_script_cache(
        redis_cluster: LocalRedisCluster, cstubs: Stubs, skus: list[str]) -> None:
    # What a failover or restart looks like to the client: NOSCRIPT on whichever node.
    await load(cstubs, *(item(s, "WH-1", 10) for s in skus))
    assert (await reserve(cstubs, "o1", (skus[0], 1))).state == RESERVED
    for node in redis_cluster.nodes:
        with redis.Redis(host="127.0.0.1", port=node.port) as r:
            r.script_flush()
    r2 = await reserve(cstubs, "o2", (skus[0], 1), (skus[1], 1), (skus[2], 1))
    assert r2.state == RESERVED
    await assert_invariant(cstubs, skus)
