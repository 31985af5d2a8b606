"""What the settlement tests share: the fake channels' statements into the store, hub
orders walked through the real hub, and the differences as a test reads them."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from reservation.clients.channels.fake_statements import Payout, render
from reservation.clients.channels.statements import parse
from reservation.records.schema import settlement_differences as d
from reservation.server.app import App
from reservation.settlement import statements
from reservation.settlement.lines import CST, SettlementLine, Statement, digest_of
from reservation.settlement.run import RunResult, run
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, key, sync

SHOP = "shop-1"
PRICE = 1999


def today(offset_days: int = 0) -> str:
    return (datetime.now(CST).date() + timedelta(days=offset_days)).isoformat()


def import_statement(engine: Engine, channel: str, day: str, *payouts: Payout) -> str:
    """The fake channel's file for the day, read by the channel's parser, stored."""
    content = render(channel, day, payouts)
    lines = [SettlementLine(**asdict(x)) for x in parse(channel, content)]
    statements.store(engine, Statement(channel, SHOP, day, f"{channel}-{day}.csv",
                                       digest_of(content), lines))
    return digest_of(content)


async def paid(stub: object, *order_ids: str, channel: str = "jd") -> None:
    orders = []
    for oid in order_ids:
        o = channel_order(oid, "PAID", ("SKU-1", 1), channel=channel)
        o.total = o.paid = PRICE
        orders.append(o)
    await sync(stub, *orders)


async def ship(stub: object, oid: str, tracking: str, channel: str = "jd") -> None:
    await stub.ReportShipment(opb.ReportShipmentRequest(  # type: ignore[attr-defined]
        key=key(oid, channel=channel), shipment=opb.Shipment(carrier="SF",
                                                             tracking_number=tracking)),
        timeout=10)


async def settle(app: App, day: str, **kw: int) -> RunResult:
    """The follower catches up (the hub's orders in SQL), then a run of the day."""
    assert app.follower is not None and app.records is not None
    await app.follower.catch_up()
    return await asyncio.to_thread(run, app.records, day, **kw)


def differences(engine: Engine) -> dict[str, tuple[str, str]]:
    """diff_id -> (class, state)."""
    with engine.connect() as c:
        return {r.diff_id: (r[1], r.state)
                for r in c.execute(select(d.c.diff_id, d.c["class"], d.c.state))}


def open_classes(engine: Engine) -> dict[str, str]:
    """order key -> class, of the open differences."""
    with engine.connect() as c:
        return {r.order_key: r[1] for r in c.execute(
            select(d.c.order_key, d.c["class"]).where(d.c.state == "OPEN"))}
