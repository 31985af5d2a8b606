"""FindOrders over both stores: an order closed and gone from Redis (record, history and
its lookup entries) is found in the records store by the buyer's phone, its order
number and its tracking number, beside the buyer's orders Redis still has, and nothing
of another buyer; on SQLite and PostgreSQL. The same once the evictor took it out of
Redis (its lookup entries dropped: the records store answers for it)."""

from __future__ import annotations

import pytest

from reservation import clock
from reservation.records.eviction import Evictor
from reservation.records.store import Records
from reservation.server.app import App
from reservation.storage import orders as order_keys
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, key, move, sync
from tests.helpers.records import engine_of, follower_of, hub_of

ANN, BOB = "13800000001", "13900000002"


async def _gone_from_redis(app: App, channel: str, oid: str) -> None:
    """The order leaves Redis whole, as if it had closed before the lookup index
    existed: its record, history and every FindOrders entry."""
    hub = hub_of(app)
    ref = order_ref(channel, "shop-1", oid)
    shard = await hub.orders.locate(ref, None)
    assert shard is not None
    client = hub.store.client
    await client.delete(order_keys.record(shard, ref), order_keys.history(shard, ref))
    async for name in client.scan_iter(match="rsv:{*}:ofind:*"):
        await client.zrem(name, ref)
    assert not await hub.orders.exists(ref)


async def _found(stub, **ask: str) -> list[tuple[str, str, str, str]]:
    reply = await stub.FindOrders(opb.FindOrdersRequest(**ask), timeout=10)
    return sorted((f.order.channel, f.order.order_id, f.order.state, f.tracking_number)
                  for f in reply.orders)


async def _evicted(app: App, channel: str, oid: str) -> None:
    """The order leaves Redis by the evictor, its clock 8 days on (past the window)."""
    hub = hub_of(app)
    await Evictor(hub, Records(engine_of(app)),
                  clock=lambda: clock.now_ms() + 8 * 24 * 3600 * 1000).evict_all()
    ref = order_ref(channel, "shop-1", oid)
    assert not await hub.orders.exists(ref)
    client = hub.store.client
    assert [name async for name in client.scan_iter(match="rsv:{*}:ofind:*")
            if await client.zscore(name, ref) is not None] == []


@pytest.mark.parametrize("leave", [_gone_from_redis, _evicted])
async def test_an_order_only_in_the_records_store_is_found_with_the_buyers_others(
        quiet_app: App, order_stub, leave) -> None:  # type: ignore[no-untyped-def]
    await sync(order_stub, channel_order("OLD", "PAID", ("SKU-1", 1), phone=ANN,
                                         detail="1 Lake Rd"),
               channel_order("NEW", "PAID", ("SKU-2", 1), channel="pdd", phone=ANN,
                             detail="2 Hill St"),
               channel_order("BOBS", "PAID", ("SKU-1", 1), phone=BOB, detail="9 Far Rd"))
    await order_stub.ReportShipment(opb.ReportShipmentRequest(
        key=key("OLD"), shipment=opb.Shipment(carrier="ZTO", tracking_number="ZT-1")),
        timeout=10)
    await move(order_stub, "OLD", "DELIVERED", actor="wms")
    await move(order_stub, "OLD", "CLOSED")
    await follower_of(quiet_app).catch_up()
    await leave(quiet_app, "jd", "OLD")

    old = ("jd", "OLD", "CLOSED", "ZT-1")
    assert await _found(order_stub, phone=ANN) == [old, ("pdd", "NEW", "ROUTED", "")]
    assert await _found(order_stub, order_number="OLD") == [old]
    assert await _found(order_stub, tracking_number="ZT-1") == [old]
    assert await _found(order_stub, phone=BOB) == [("jd", "BOBS", "ROUTED", "")]
    reply = await order_stub.FindOrders(opb.FindOrdersRequest(tracking_number="ZT-1"),
                                        timeout=10)
    assert reply.orders[0].last_actor == "operator:ann"  # its last event, from SQL
