"""What the records tests share: a walk of orders through the hub, and handles on the
app's parts."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from reservation.ordersync.hub import OrderHub
from reservation.records.follower import Follower
from reservation.server.app import App
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.orders import channel_order, key, move, sync

WALKED = (("A1", "jd"), ("A2", "jd"), ("A3", "jd"), ("A4", "pdd"))
"""The orders walk() makes, (order id, channel), all of shop-1."""


async def walk(stub: order_service_pb2_grpc.OrderServiceStub) -> None:
    """Orders in different states: paid and shipped with a tracking number, pending,
    cancelled and closed, two lines and held for review (A4 has A1's phone and address
    on another channel: a suspected duplicate)."""
    await sync(stub, channel_order("A1", "PAID", ("SKU-1", 2)),
               channel_order("A2", "PENDING_PAYMENT", ("SKU-2", 1)),
               channel_order("A3", "PENDING_PAYMENT", ("SKU-1", 1)),
               channel_order("A4", "PAID", ("SKU-1", 1), ("SKU-2", 3), channel="pdd"))
    await stub.ReportShipment(opb.ReportShipmentRequest(
        key=key("A1"), shipment=opb.Shipment(carrier="SF", tracking_number="SF-7001")),
        timeout=10)
    await move(stub, "A3", "CANCELLED")
    await move(stub, "A3", "CLOSED")


def engine_of(app: App) -> Engine:
    assert app.records is not None
    return app.records


def follower_of(app: App) -> Follower:
    assert app.follower is not None
    return app.follower


def hub_of(app: App) -> OrderHub:
    assert app.orders is not None
    return app.orders


async def redis_history(app: App, oid: str, channel: str = "jd") -> list[str]:
    hub = hub_of(app)
    ref = order_ref(channel, "shop-1", oid)
    shard = await hub.orders.locate(ref, None)
    assert shard is not None
    return await hub.orders.history(shard, ref, 0, 10_000)


N = 12
CLOSED = [f"C{i:02d}" for i in range(N) if i % 3 != 1]  # eight of twelve


async def closing_orders(stub: order_service_pb2_grpc.OrderServiceStub) -> None:
    """Twelve orders created a second apart in the last hour (older ones would be past
    the order index's retention) on two channels; eight cancelled and closed."""
    hour_ago = int(time.time()) - 3600
    await sync(stub, *(channel_order(f"C{i:02d}", "PENDING_PAYMENT", ("SKU-1", 1),
                                     channel="jd" if i % 2 else "pdd", created_s=hour_ago + i,
                                     modified_s=hour_ago + i, phone=f"1380000{i:04d}")
                       for i in range(N)))
    for oid in CLOSED:
        channel = channel_of(oid)
        await move(stub, oid, "CANCELLED", channel=channel)
        await move(stub, oid, "CLOSED", channel=channel)


def channel_of(oid: str) -> str:
    return "jd" if int(oid[1:]) % 2 else "pdd"


async def all_pages(stub: order_service_pb2_grpc.OrderServiceStub, size: int,
                     **where: str) -> list[opb.Order]:
    out, token = [], ""
    while True:
        page = await stub.ListOrders(opb.ListOrdersRequest(page_size=size, page_token=token,
                                                           **where), timeout=10)
        out += list(page.orders)
        token = page.next_page_token
        if not token:
            return out


QUERIES = [{}, {"state": "CLOSED"}, {"state": "PENDING_PAYMENT"}, {"channel": "jd"},
           {"channel": "pdd", "state": "CLOSED"}]
