"""The demo's second act: a flash sale's orders through the whole order flow.

Six fake channels (reservation/clients/channels/fake_server.py, on 127.0.0.1, and a POS
folder) produce orders in their own payload shapes; the real adapters poll them and sync
them to the hub (which reserves at arrival, confirms on payment, routes, and holds for
review what it cannot serve); buyers pay or abandon; a WMS ships every routed order and
reports its tracking number; the adapters push the numbers back to their channels. The
summary shows per channel the funnel, the on-time rate, the orders held for review,
oversold = 0, and that every tracking number reached its channel exactly once.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reservation.clients import _grpc
from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.pushback import PushBack
from reservation.clients.channels.samples import Sample, build
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink
from reservation.interception.rules import SEED_DOCUMENT
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as pb

CHANNELS = ("taobao", "jd", "pdd", "douyin", "wechat", "pos")
GROUPS = "audit," + ",".join(f"feed-{c}" for c in CHANNELS)
"""The order event groups the server needs for this act (one feed per adapter)."""
STOCK = [("HOODIE", "WH-SHANGHAI", 90), ("HOODIE", "WH-BEIJING", 40),
         ("MUG", "WH-SHANGHAI", 120), ("SOCKS", "WH-GUANGZHOU", 100)]
PRICES = {"HOODIE": 19900, "MUG": 4900, "SOCKS": 1900}
ADDRESSES = [("浙江省", "杭州市", "西湖区", "文三路 90 号"), ("北京市", "北京市", "朝阳区", "建国路 88 号"),
             ("广东省", "深圳市", "南山区", "科技园南区 1 栋"), ("上海市", "上海市", "浦东新区", "世纪大道 1 号"),
             ("四川省", "成都市", "武侯区", "天府大道 100 号")]
PAY_RATE = 0.75
DUPLICATE_RATE = 0.03  # the same buyer and address on two channels: held as a duplicate
VAGUE_RATE = 0.04      # "near the school gate": intercepted for address confirmation
SHOP = "flagship"


@dataclass
class Flow:
    orders: dict[str, list[Sample]] = field(default_factory=dict)
    shipped: dict[str, set[tuple[str, str]]] = field(default_factory=dict)


def make_orders(per_channel: int, rng: random.Random, now: float) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {c: [] for c in CHANNELS}
    n = 0
    for channel in CHANNELS:
        for i in range(per_channel):
            n += 1
            sku = rng.choice(sorted(PRICES))
            phone, address = f"139{n:08d}", rng.choice(ADDRESSES)
            if rng.random() < VAGUE_RATE:
                address = (*address[:3], "学校门口附近")
            if n > 1 and rng.random() < DUPLICATE_RATE:  # same buyer as order n-1 elsewhere
                phone = f"139{n - per_channel if n > per_channel else n - 1:08d}"
            out[channel].append(Sample(
                order_id=f"{channel[:2].upper()}{i:05d}", state="PENDING_PAYMENT",
                lines=((sku, rng.choice((1, 1, 2)), PRICES[sku]),), phone=phone,
                address=address, created_s=now - 120, modified_s=now - 120))
    return out


def _publish(fake: FakeChannels, orders: dict[str, list[Sample]], now: float) -> None:
    for channel, samples in orders.items():
        if channel == "pos":  # the store's daily file lands once, with final states
            rows = [row for s in samples if s.state != "PENDING_PAYMENT"
                    for row in build("pos", s)["rows"]]
            if rows:
                fake.write_pos_file("orders_today.csv", rows, int(now * 1000))
            continue
        for s in samples:
            if channel == "jd" and s.state != "PAID":
                continue  # JD shows an order once paid, never before
            fake.put(channel, build(channel, s))


def _pay_or_abandon(orders: dict[str, list[Sample]], rng: random.Random,
                    now: float) -> dict[str, list[Sample]]:
    return {c: [Sample(s.order_id, "PAID" if rng.random() < PAY_RATE else "CANCELLED",
                       s.lines, s.phone, s.address, s.created_s, now - 60)
                for s in samples] for c, samples in orders.items()}


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
    async with _grpc.aio_channel(target) as channel:
        admin = admin_grpc.AdminServiceStub(channel)
        rs, hub = rs_grpc.ReservationServiceStub(channel), ogrpc.OrderServiceStub(channel)
        icpt = igrpc.InterceptionServiceStub(channel)
        await icpt.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
            document_json=json.dumps(SEED_DOCUMENT, ensure_ascii=False),
            comment="seed 004", actor="demo"), timeout=10)
        await admin.LoadStock(admin_pb.LoadStockRequest(
            items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q) for s, w, q in STOCK],
            mode=admin_pb.LOAD_MODE_ADD),
            timeout=10)
        sync_channel = _grpc.channel(target)
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
            _publish(fake, orders, now)
            await poll_all()                        # unpaid orders arrive: stock held
            orders = _pay_or_abandon(orders, rng, now)
            _publish(fake, orders, now)
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
