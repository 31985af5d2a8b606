"""`reservation-clients demo`: a flash sale's orders through the whole order flow, against
a running service (`reservation demo` runs it as its second act, on its private server).

Six fake channels (reservation/clients/channels/fake_server.py, on 127.0.0.1, and a POS
folder) produce orders in their own payload shapes; the real adapters poll them and sync
them to the hub (which reserves at arrival, confirms on payment, routes, and holds for
review what it cannot serve); buyers pay or abandon; a WMS ships every routed order and
reports its tracking number; the adapters push the numbers back to their channels. The
summary shows per channel the funnel, the on-time rate, the orders held for review,
oversold = 0, and that every tracking number reached its channel exactly once.

The service needs an order event group per adapter's feed (GROUPS below, in
RESERVATION_ORDER_EVENT_GROUPS); the interception rules in force are the service's own
(the server's demo puts the seed rules before this act).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reservation.api import connection
from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.pushback import PushBack
from reservation.clients.channels.samples import (
    CHANNELS,
    PRICES,
    Sample,
    make_orders,
    pay_or_abandon,
)
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as pb

GROUPS = "audit," + ",".join(f"feed-{c}" for c in CHANNELS)
"""The order event groups the server needs for this act (one feed per adapter)."""
STOCK = [("HOODIE", "WH-SHANGHAI", 90), ("HOODIE", "WH-BEIJING", 40),
         ("MUG", "WH-SHANGHAI", 120), ("SOCKS", "WH-GUANGZHOU", 100)]
SHOP = "flagship"


def add_arguments(p: argparse.ArgumentParser) -> None:
    # A demo server: plaintext, no token (the act loads stock and reads every order).
    p.add_argument("--target", default=connection.DEFAULT_TARGET, help="service address")
    p.add_argument("--per-channel", type=int, default=60, help="orders per channel")
    p.add_argument("--seed", type=int, default=7, help="random seed of the orders")


def main(args: argparse.Namespace) -> int:
    console = Console(width=150)
    return asyncio.run(run(args.target, console, random.Random(args.seed), args.per_channel))


async def run(target: str, console: Console, rng: random.Random,
              per_channel: int = 60) -> int:
    """The order flow against a running server (with GROUPS); 0 when every check holds."""
    with tempfile.TemporaryDirectory(prefix="reservation-demo-channels-") as tmp:
        fake = FakeChannels(pos_dir=Path(tmp) / "pos").start()
        store = AdapterStore(Path(tmp) / "adapters.db")
        try:
            return await _run(target, console, rng, per_channel, fake, store)
        finally:
            store.close()
            fake.stop()


async def _run(target: str, console: Console, rng: random.Random, per_channel: int,
               fake: FakeChannels, store: AdapterStore) -> int:
    t0 = time.perf_counter()
    async with connection.aio_channel(target) as channel:
        admin = admin_grpc.AdminServiceStub(channel)
        rs, hub = rs_grpc.ReservationServiceStub(channel), ogrpc.OrderServiceStub(channel)
        icpt = igrpc.InterceptionServiceStub(channel)
        await admin.LoadStock(admin_pb.LoadStockRequest(
            items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q) for s, w, q in STOCK],
            mode=admin_pb.LOAD_MODE_ADD),
            timeout=10)
        sync_channel = connection.channel(target)
        try:
            sink = GrpcSink(sync_channel, store)
            pollers = {c: Poller(adapter(c), fake.api(c), SHOP, store, sink, lookback_s=3600,
                                 backoff=Backoff(base_s=0.05))
                       for c in CHANNELS}

            async def poll_all() -> None:
                await asyncio.gather(*(asyncio.to_thread(p.poll_once)
                                       for p in pollers.values()))

            now = time.time()
            orders = make_orders(per_channel, rng, now)
            fake.publish(orders, now)
            await poll_all()                        # unpaid orders arrive: stock held
            orders = pay_or_abandon(orders, rng, now)
            fake.publish(orders, now)
            await poll_all()                        # paid: confirmed and routed; abandoned:
            #                                         released
            shipped = await _wms_ships(hub)          # the WMS ships what was routed
            pushers = [PushBack(adapter(c), fake.api(c), sync_channel, store, f"demo-{c}",
                                wait_s=0.2) for c in CHANNELS]
            await asyncio.gather(*(asyncio.to_thread(_drain, p, len(shipped[p.adapter.name]))
                                   for p in pushers))
        finally:
            sync_channel.close()
        listed = await _list(hub)
        stats = await hub.GetFulfilmentStats(opb.GetFulfilmentStatsRequest(
            day=time.strftime("%Y-%m-%d", time.gmtime())), timeout=10)
        stocks = {sku: await rs.GetStock(rs_pb.GetStockRequest(sku=sku), timeout=10)
                  for sku in sorted(PRICES)}
        reviews = await icpt.ListReviews(ipb.ListReviewsRequest(page_size=1000), timeout=10)
        healing = await icpt.GetReviewStats(ipb.GetReviewStatsRequest(), timeout=10)
    elapsed = time.perf_counter() - t0
    intercepted = Counter(r.key.channel for r in reviews.reviews)
    code = _report(console, orders, listed, shipped, fake, stats, stocks, store, elapsed,
                   intercepted)
    rules = Counter(r.rule for r in reviews.reviews)
    console.print("intercepted before printing (open reviews): " + (", ".join(
        f"{n} {rule}" for rule, n in rules.most_common()) or "none")
        + f"; {healing.closed_automatically} closed by the channel without a person "
          f"(self-healing rate {healing.self_healing_rate:.0%} of closed reviews)")
    return code


def _drain(p: PushBack, expected: int, timeout_s: float = 30.0) -> None:
    """Push until the channel has every shipment the WMS reported. (An empty pull is not
    an empty feed: the order event streams hold every group's entries, and a pull that
    met only other groups' entries answers empty and resumes further on next time.)"""
    deadline = time.monotonic() + timeout_s
    while p.pushed < expected and time.monotonic() < deadline:
        p.step()


async def _list(hub: ogrpc.OrderServiceStub, state: str = "") -> list[opb.Order]:
    out: list[opb.Order] = []
    token = ""
    while True:
        page = await hub.ListOrders(opb.ListOrdersRequest(state=state, page_size=1000,
                                                          page_token=token), timeout=30)
        out += page.orders
        token = page.next_page_token
        if not token:
            return out


async def _wms_ships(hub: ogrpc.OrderServiceStub) -> dict[str, set[tuple[str, str]]]:
    """What a WMS does: every routed order is picked, packed and handed to a carrier."""
    routed = await _list(hub, "ROUTED")
    shipped: dict[str, set[tuple[str, str]]] = {c: set() for c in CHANNELS}
    gate = asyncio.Semaphore(50)

    async def ship(o: opb.Order) -> None:
        tracking = f"SF{abs(hash((o.channel, o.order_id))) % 10**12:012d}"
        async with gate:
            await hub.ReportShipment(opb.ReportShipmentRequest(
                key=opb.OrderKey(channel=o.channel, shop=o.shop, order_id=o.order_id),
                shipment=opb.Shipment(carrier="SF", tracking_number=tracking),
                actor="wms:demo"), timeout=10)
        shipped[o.channel].add((o.order_id, tracking))

    await asyncio.gather(*(ship(o) for o in routed))
    return shipped


def _report(console: Console, orders: dict[str, list[Sample]], listed: list[opb.Order],
            shipped: dict[str, set[tuple[str, str]]], fake: FakeChannels,
            stats: opb.GetFulfilmentStatsResponse,
            stocks: dict[str, rs_pb.GetStockResponse], store: AdapterStore,
            elapsed: float, intercepted: Counter[str]) -> int:
    by_channel: dict[str, Counter[str]] = {c: Counter() for c in CHANNELS}
    for o in listed:
        by_channel[o.channel][o.state] += 1
    on_time: dict[str, tuple[float, int]] = {}
    for row in stats.rows:
        if row.channel and row.paid:
            rate, paid = on_time.get(row.channel, (0.0, 0))
            on_time[row.channel] = (rate + row.on_time_rate * row.paid, paid + row.paid)
    at_channel: dict[str, set[tuple[str, str]]] = {c: set() for c in CHANNELS}
    pushes: Counter[str] = Counter()
    for p in [*fake.accepted, *fake.pos_pushed()]:
        at_channel[p.channel].add((p.order_id, p.tracking_number))
        pushes[p.channel] += 1

    table = Table(title="order flow by channel")
    for col in ("channel", "orders", "paid", "abandoned", "in hub", "shipped",
                "held for review", "intercepted", "on time", "tracking at channel",
                "refused by adapter"):
        table.add_column(col, justify="left" if col == "channel" else "right")
    ok = True
    for c in CHANNELS:
        states = by_channel[c]
        paid = sum(s.state == "PAID" for s in orders[c])
        rate, n_paid = on_time.get(c, (0.0, 0))
        reached = at_channel[c] == shipped[c] and pushes[c] == len(shipped[c])
        ok = ok and reached
        table.add_row(c, str(len(orders[c])), str(paid), str(len(orders[c]) - paid),
                      str(sum(states.values())), str(states["SHIPPED"]), str(states["ON_HOLD"]),
                      str(intercepted[c]), f"{rate / n_paid:.0%}" if n_paid else "-",
                      f"{len(at_channel[c])}/{len(shipped[c])}" + ("" if reached else " !"),
                      str(len(store.refused(c))))
    console.print(table)
    oversold = 0
    for stock in stocks.values():
        loaded = sum(lv.loaded for lv in stock.levels)
        taken = sum(lv.held + lv.confirmed for lv in stock.levels)
        consistent = all(lv.loaded == lv.available + lv.held + lv.confirmed + lv.returned
                         and min(lv.available, lv.held, lv.confirmed, lv.returned) >= 0
                         for lv in stock.levels)
        oversold += max(0, taken - loaded) + (0 if consistent else 1)
    ok = ok and oversold == 0
    total = sum(len(v) for v in orders.values())
    console.print(f"{total} channel orders synced, shipped and pushed back in {elapsed:.1f} s; "
                  f"oversold = {oversold}; every tracking number reached its channel once: "
                  f"{'yes' if ok else 'NO'}")
    return 0 if ok else 1
