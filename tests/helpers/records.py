"""What the records tests share: a walk of orders through the hub, and handles on the
app's parts."""

from __future__ import annotations

import asyncio
import time

import grpc
from sqlalchemy import Engine, func, select

from reservation.ordersync.hub import OrderHub
from reservation.records.follower import Follower
from reservation.records.schema import order_events
from reservation.records.store import Records
from reservation.server.app import App
from reservation.server.convert_orders import to_order
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.orders import channel_order, get_order, history, key, move, sync
from tests.helpers.reservations import load
from tests.helpers.server import Stubs
from tests.helpers.waiting import wait_until

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


async def all_in_store(target: str, records: Records, ids: list[str]) -> None:
    """Wait until the records store has every order of `ids` (jd, shop-1) with as many
    events as the hub's history, then check each row against GetOrder, field by field."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = order_service_pb2_grpc.OrderServiceStub(channel)
        want = {oid: len(await history(stub, oid)) for oid in ids}

        async def behind() -> list[str]:
            late = []
            for oid in ids:
                found = await asyncio.to_thread(records.get, order_ref("jd", "shop-1", oid))
                if found is None or found[1] != want[oid]:
                    late.append(oid)
            return late

        await wait_until(behind, lambda late: not late, "every order in the records store",
                         deadline_s=60)
        for oid in ids:
            found = await asyncio.to_thread(records.get, order_ref("jd", "shop-1", oid))
            assert found is not None
            assert to_order(found[0]) == await get_order(stub, oid)
            assert len(await asyncio.to_thread(records.history, order_ref("jd", "shop-1", oid),
                                               0, 1000)) == want[oid]


def each_event_once(engine: Engine) -> None:
    """No audit event is in the store twice."""
    with engine.connect() as c:
        total = c.execute(select(func.count()).select_from(order_events)).scalar_one()
        distinct = c.execute(select(func.count(func.distinct(order_events.c.event_id)))
                             ).scalar_one()
    assert total == distinct


async def order_round(target: str, prefix: str, n: int, state: str, first: bool,
                      close: bool = False) -> list[str]:
    """Orders prefix-0 .. prefix-(n-1) synced in `state` through the server at `target`
    in batches of 10 (the stock loaded first when `first`); with `close`, every third
    cancelled and closed. Their ids."""
    ids = [f"{prefix}-{i}" for i in range(n)]
    async with grpc.aio.insecure_channel(target) as channel:
        if first:
            await load(Stubs(channel), ("SKU-1", "WH-A", 10_000))
        stub = order_service_pb2_grpc.OrderServiceStub(channel)
        for start in range(0, n, 10):
            await sync(stub, *(channel_order(oid, state, phone=f"1380000{i:04d}")
                               for i, oid in enumerate(ids[start:start + 10], start)))
        for oid in ids[::3] if close else []:
            await move(stub, oid, "CANCELLED")
            await move(stub, oid, "CLOSED")
    return ids
