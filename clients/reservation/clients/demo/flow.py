"""One run of the order flow: fake channels, buyers, the real adapters, the hub, a WMS,
tracking numbers back; with or without the stock-sync workers telling the listings.

Buyers order in waves against the channels' listings, as on a real platform: a listing
that shows too little stops the buyer, and an order takes its units off the listing at
once. The sellers listed every SKU on every channel with the whole stock. Without stock
sync the listings only ever go down by their own channel's orders, so the channels
together sell more than there is and the hub holds the paid orders it cannot serve for
review; with it, after each wave the workers push what the service may sell (the demo's
listing rule gives each online channel 16% and keeps the rest for the store).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.api import connection
from reservation.clients.channels import adapter
from reservation.clients.channels.fake_server import FakeChannels, Pushed
from reservation.clients.channels.poller import Backoff, Poller
from reservation.clients.channels.pushback import PushBack
from reservation.clients.channels.samples import (
    CHANNELS,
    PRICES,
    Sample,
    make_orders,
    pay_or_abandon,
)
from reservation.clients.channels.stock import ListingRow
from reservation.clients.channels.store import AdapterStore
from reservation.clients.channels.sync import GrpcSink
from reservation.clients.stocksync.store import StockSyncStore
from reservation.clients.stocksync.worker import StockSync, group_name
from reservation.clients.wms import orders as wms_orders
from reservation.clients.wms.puller import Puller
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import admin_service_pb2_grpc as admin_grpc
from reservation.v1 import listing_service_pb2 as lpb
from reservation.v1 import listing_service_pb2_grpc as lgrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import reservation_service_pb2_grpc as rs_grpc
from reservation.v1 import types_pb2 as pb

STOCK = [("HOODIE", "WH-SHANGHAI", 90), ("HOODIE", "WH-BEIJING", 40),
         ("MUG", "WH-SHANGHAI", 120), ("SOCKS", "WH-GUANGZHOU", 100)]
SHOP = "flagship"
ONLINE = tuple(c for c in CHANNELS if c != "pos")
"""The channels with listings (the store sells what is on its shelf)."""
WAVES = 4
LISTING_RULES = {"rules": [{"name": "demo: even online, the rest kept for the store",
                            "when": {"sku_prefix": sorted(PRICES)},
                            "then": {"shares": {**dict.fromkeys(ONLINE, 16), "pos": "rest"}}}]}


def tag(sync_on: bool) -> str:
    return "on" if sync_on else "off"


def shop_of(sync_on: bool) -> str:
    """Each run is a shop of its own (its orders and listings apart from the other's)."""
    return f"{SHOP}-{tag(sync_on)}"


def listing_groups() -> list[str]:
    """The write-back groups the server needs for the run with stock sync."""
    return [group_name(c, shop_of(True)) for c in ONLINE]


@dataclass
class RunResult:
    sync_on: bool
    attempts: dict[str, int]
    placed: dict[str, list[Sample]]
    blocked: Counter[str]
    orders: list[opb.Order] = field(default_factory=list)
    shipped: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    stocks: dict[str, rs_pb.GetStockResponse] = field(default_factory=dict)
    at_channel: list[Pushed] = field(default_factory=list)
    """Every tracking number a channel accepted."""
    refused: Counter[str] = field(default_factory=Counter)
    """Orders each adapter refused to map."""
    stats: opb.GetFulfilmentStatsResponse = field(
        default_factory=opb.GetFulfilmentStatsResponse)
    elapsed: float = 0.0

    def unserved(self, channel: str) -> int:
        """Paid orders the hub holds for review with no stock held for them."""
        return sum(o.channel == channel and o.paid > 0 and o.state == "ON_HOLD"
                   and not o.reservation_state.startswith(("CONFIRMED", "RESERVED"))
                   for o in self.orders)


async def one_run(target: str, seed: int, per_channel: int, sync_on: bool) -> RunResult:
    with tempfile.TemporaryDirectory(prefix=f"reservation-demo-{tag(sync_on)}-") as tmp:
        fake = FakeChannels(pos_dir=Path(tmp) / "pos").start()
        store = AdapterStore(Path(tmp) / "adapters.db")
        try:
            result = await _flow(target, random.Random(seed), per_channel, sync_on, fake,
                                 store, Path(tmp))
            result.at_channel = [*fake.accepted, *fake.pos_pushed()]
            result.refused = Counter({c: len(store.refused(c)) for c in CHANNELS})
            return result
        finally:
            store.close()
            fake.stop()


async def _flow(target: str, rng: random.Random, per_channel: int, sync_on: bool,
                fake: FakeChannels, store: AdapterStore, tmp: Path) -> RunResult:
    t0 = time.perf_counter()
    suffix, shop = f"-{tag(sync_on).upper()}", shop_of(sync_on)
    async with connection.aio_channel(target) as channel:
        hub = ogrpc.OrderServiceStub(channel)
        await _set_scene(channel, fake, suffix, sync_on)
        sync_channel = connection.channel(target)
        syncs = _stock_syncs(fake, sync_channel, shop, suffix, tmp) if sync_on else []
        try:
            sink = GrpcSink(sync_channel, store)
            pollers = [Poller(adapter(c), fake.api(c), shop, store, sink, lookback_s=3600,
                              backoff=Backoff(base_s=0.05)) for c in CHANNELS]

            async def poll_all() -> None:
                await asyncio.gather(*(asyncio.to_thread(p.poll_once) for p in pollers))
                await asyncio.gather(*(asyncio.to_thread(_sync_all, *s) for s in syncs))

            await poll_all()   # with stock sync: the listings show what may sell, first
            now = time.time()
            attempts = make_orders(per_channel, rng, now, sku_suffix=suffix)
            result = RunResult(sync_on, {c: len(v) for c, v in attempts.items()},
                               {c: [] for c in CHANNELS}, Counter())
            for wave in range(WAVES):
                _buyers_order(fake, attempts, wave, result)
                fake.publish(result.placed, now)
                await poll_all()                 # unpaid orders arrive: stock held
            orders = pay_or_abandon(result.placed, rng, now)
            fake.publish(orders, now)
            await poll_all()                     # paid: confirmed, routed; the rest released
            result.placed = orders
            result.shipped = await _wms_ships(hub, shop)
            pushers = [PushBack(adapter(c), fake.api(c), sync_channel, store, f"demo-{c}",
                                wait_s=0.2) for c in CHANNELS]
            await asyncio.gather(*(asyncio.to_thread(
                _drain, p, len(result.shipped[p.adapter.name])) for p in pushers))
        finally:
            sync_channel.close()
            for s, _ in syncs:
                s.store.close()
        rs = rs_grpc.ReservationServiceStub(channel)
        result.orders = [o for o in await _list(hub) if o.shop == shop]
        result.stats = await hub.GetFulfilmentStats(opb.GetFulfilmentStatsRequest(
            day=time.strftime("%Y-%m-%d", time.gmtime()), by_channel=True), timeout=10)
        result.stocks = {sku: await rs.GetStock(rs_pb.GetStockRequest(sku=sku + suffix),
                                                timeout=10) for sku in sorted(PRICES)}
    result.elapsed = time.perf_counter() - t0
    return result


async def _set_scene(channel: grpc.aio.Channel, fake: FakeChannels, suffix: str,
                     sync_on: bool) -> None:
    """The stock (this run's SKUs), the listing rule, and every SKU listed on every
    online channel with the whole stock, as a seller lists it."""
    admin = admin_grpc.AdminServiceStub(channel)
    await admin.LoadStock(admin_pb.LoadStockRequest(
        items=[pb.StockItem(sku=s + suffix, warehouse_id=w, quantity=q) for s, w, q in STOCK],
        mode=admin_pb.LOAD_MODE_ADD), timeout=10)
    if sync_on:
        await lgrpc.ListingServiceStub(channel).PutListingRules(
            lpb.PutListingRulesRequest(document_json=json.dumps(LISTING_RULES),
                                       comment="demo", actor="demo"), timeout=10)
    totals = Counter[str]()
    for sku, _, qty in STOCK:
        totals[sku + suffix] += qty
    for c in ONLINE:
        fake.listings.list_items(c, [(f"{c}-{sku}", f"S-{sku}", sku, qty)
                                     for sku, qty in totals.items()])


def _stock_syncs(fake: FakeChannels, channel: grpc.Channel, shop: str, suffix: str,
                 tmp: Path) -> list[tuple[StockSync, Puller]]:
    # The other run's SKUs pass the same write-back streams: unmapped here, and said so
    # once each by the workers' log, which the demo's summary does not need.
    logging.getLogger("reservation.clients.stocksync").setLevel(logging.ERROR)
    out = []
    for c in ONLINE:
        mapping = {sku + suffix: ListingRow(sku + suffix, f"{c}-{sku}{suffix}",
                                            f"S-{sku}{suffix}") for sku in PRICES}
        sync = StockSync(adapter(c), fake.api(c), shop, channel,
                         StockSyncStore(tmp / f"stocksync-{c}.db"), mapping)
        out.append((sync, Puller(channel, sync, f"demo-{c}", group_name(c, shop),
                                 wait_s=0.1)))
    return out


def _sync_all(sync: StockSync, puller: Puller) -> None:
    """Pull the stock changes and push the listings until nothing is left."""
    while True:
        pulled = puller.step()
        while sync.step():
            pass
        if not pulled:
            return


def _buyers_order(fake: FakeChannels, attempts: dict[str, list[Sample]], wave: int,
                  result: RunResult) -> None:
    """This wave's buyers: an online buyer orders only what the listing shows (and takes
    it off); a store sale happens at the counter."""
    for c in CHANNELS:
        for s in attempts[c][wave::WAVES]:
            if c == "pos" or all(fake.listings.take(c, sku, q) for sku, q, _ in s.lines):
                result.placed[c].append(s)
            else:
                result.blocked[c] += 1


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


async def _wms_ships(hub: ogrpc.OrderServiceStub, shop: str) -> dict[str, set[tuple[str, str]]]:
    """What a WMS does: every routed order is picked, packed and handed to a carrier;
    it reports its own state (OUTBOUND_DONE) and the shipment."""
    routed = [o for o in await _list(hub, "ROUTED") if o.shop == shop]
    shipped: dict[str, set[tuple[str, str]]] = {c: set() for c in CHANNELS}
    gate = asyncio.Semaphore(50)

    async def ship(o: opb.Order) -> None:
        tracking = f"SF{abs(hash((o.channel, o.shop, o.order_id))) % 10**12:012d}"
        left = Timestamp()
        left.GetCurrentTime()
        async with gate:
            await hub.ReportWarehouseState(opb.ReportWarehouseStateRequest(
                key=opb.OrderKey(channel=o.channel, shop=o.shop, order_id=o.order_id),
                state=wms_orders.STATUSES["OUTBOUND_DONE"], raw_status="OUTBOUND_DONE",
                reported_at=left, actor="wms:demo"), timeout=10)
            await hub.ReportShipment(opb.ReportShipmentRequest(
                key=opb.OrderKey(channel=o.channel, shop=o.shop, order_id=o.order_id),
                shipment=opb.Shipment(carrier="SF", tracking_number=tracking),
                actor="wms:demo"), timeout=10)
        shipped[o.channel].add((o.order_id, tracking))

    await asyncio.gather(*(ship(o) for o in routed))
    return shipped
