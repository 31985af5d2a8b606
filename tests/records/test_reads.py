"""GetOrder, GetOrderHistory and ListOrders answer the same whether an order is in Redis
or only in the records store; ListOrders' page token continues across both.

An order leaves Redis here the way eviction takes it out: its record and history go,
once the records store has applied its last event."""

from __future__ import annotations

import grpc
import pytest

from reservation.server.app import App
from reservation.storage import orders as order_keys
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import get_order, history, key
from tests.helpers.records import (
    CLOSED,
    QUERIES,
    N,
    all_pages,
    channel_of,
    closing_orders,
    follower_of,
    hub_of,
)


async def _leave_redis(app: App, oid: str) -> None:
    hub = hub_of(app)
    ref = order_ref(channel_of(oid), "shop-1", oid)
    shard = await hub.orders.locate(ref, None)
    assert shard is not None
    await hub.store.client.delete(order_keys.record(shard, ref), order_keys.history(shard, ref))
    assert not await hub.orders.exists(ref)


async def test_an_order_reads_the_same_before_and_after_it_leaves_redis(
        quiet_app: App, order_stub) -> None:
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    before = {oid: (await get_order(order_stub, oid, channel=channel_of(oid)),
                    await history(order_stub, oid, channel=channel_of(oid))) for oid in CLOSED}
    lists = {(size, tuple(q.items())): await all_pages(order_stub, size, **q)
             for size in (1, 3, 100) for q in QUERIES}
    assert len(lists[(100, ())]) == N
    assert [o.order_id for o in lists[(100, (("state", "CLOSED"),))]] == CLOSED
    for oid in CLOSED:
        await _leave_redis(quiet_app, oid)
    for oid in CLOSED:
        # Every field of the order and of every event.
        assert (await get_order(order_stub, oid, channel=channel_of(oid)),
                await history(order_stub, oid, channel=channel_of(oid))) == before[oid]
    for (size, q), listed in lists.items():
        assert await all_pages(order_stub, size, **dict(q)) == listed, (size, q)


async def test_history_pages_from_the_records_store(quiet_app: App, order_stub) -> None:
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    whole = await history(order_stub, "C00", channel="pdd")
    await _leave_redis(quiet_app, "C00")
    pages = []
    for offset in range(len(whole)):
        reply = await order_stub.GetOrderHistory(opb.GetOrderHistoryRequest(
            key=key("C00", channel="pdd"), offset=offset, page_size=1), timeout=10)
        pages += list(reply.events)
    assert pages == whole


async def test_an_order_in_neither_store_is_not_found(quiet_app: App, order_stub) -> None:
    for call in (order_stub.GetOrder(opb.GetOrderRequest(key=key("NOPE")), timeout=10),
                 order_stub.GetOrderHistory(opb.GetOrderHistoryRequest(key=key("NOPE")),
                                            timeout=10)):
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await call
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
