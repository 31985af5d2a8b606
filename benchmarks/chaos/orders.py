"""Order-hub traffic during the faults: what channel adapters and the WMS do to orders,
and what each call was told.

Each order goes through one life, as adapters send it: it arrives unpaid
(PENDING_PAYMENT), then is left to expire, cancelled, or paid; a paid order stays
paid, is refunded before shipping, or ships (the WMS's ReportShipment, or the channel
reporting SHIPPED, a jump the hub walks) and may be delivered. Every document goes
out with up to 4 tries (the same document again: the hub answers UNCHANGED for a
repeat), and a third of them is sent once more afterwards (a resend of the same
document, as channels' pushes do). A quarter of the orders span two shards (the hub's
saga: the other shard's hold first, then the anchor script). Every acknowledged
answer (outcome, state, version) is recorded; the checkers compare it with the hub's
record, its history and the stock afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import grpc

from benchmarks.chaos.workload import WAREHOUSES, Client, Traffic, run_workers, sku_pairs
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as opb_grpc

HUB_PAIRS = sku_pairs(2, "OH")
HUB_SINGLES = ["OH-S0", "OH-S1"]
HUB_STOCK = {**{s: 100_000 for p in HUB_PAIRS for s in p}, **{s: 100_000 for s in HUB_SINGLES}}
"""Ample: no order of the hub is refused for stock, so its units follow its state alone."""
HUB_CHANNELS = ("jd", "pdd", "douyin")
SHOP = "chaos"
OUTCOME = {v: k.removeprefix("SYNC_OUTCOME_") for k, v in opb.SyncOutcome.items()}


@dataclass
class Told:
    """One acknowledged answer about an order."""

    call: str  # "sync PAID", "shipment", "resend PAID", ...
    outcome: str
    state: str
    version: int


@dataclass
class HubRecord:
    channel: str
    order_id: str
    lines: list[tuple[str, int]]
    multi: bool
    told: list[Told] = field(default_factory=list)
    unanswered: int = 0
    """Calls about it whose outcome stayed unknown (every try failed)."""
    refused: list[str] = field(default_factory=list)
    """Calls the hub refused (REFUSED or an error code), with why."""

    @property
    def key(self) -> opb.OrderKey:
        return opb.OrderKey(channel=self.channel, shop=SHOP, order_id=self.order_id)


class Documents:
    """The documents one order's adapter sends, a second apart on the channel's clock."""

    def __init__(self, rec: HubRecord, n: int, start_ms: int) -> None:
        self.rec, self.n, self.start_ms, self.step = rec, n, start_ms, 0
        self.paid = False

    def next(self, state: str) -> opb.ChannelOrder:
        self.step += 1
        self.paid = self.paid or state == "PAID"
        items = [opb.OrderItem(sku=s, quantity=q, price=1000) for s, q in self.rec.lines]
        total = sum(q * 1000 for _, q in self.rec.lines)
        o = opb.ChannelOrder(
            channel=self.rec.channel, shop=SHOP, order_id=self.rec.order_id, state=state,
            raw_status=state.lower(), receiver_phone=f"139{self.n:08d}",
            address=opb.Address(province="Zhejiang", city="Hangzhou", district="Xihu",
                                detail=f"{self.n} West Lake Rd"),
            lines=items, total=total, paid=total if self.paid else 0)
        o.created_at.FromMilliseconds(self.start_ms)
        o.modified_at.FromMilliseconds(self.start_ms + self.step * 1000)
        if self.paid:
            o.paid_at.FromMilliseconds(self.start_ms + 1000)
        return o


class Life:
    """One order's adapter: sends its documents and records what it was told."""

    def __init__(self, client: Client, traffic: Traffic, rec: HubRecord, n: int,
                 rng: random.Random) -> None:
        self.client, self.traffic, self.rec, self.rng = client, traffic, rec, rng
        self.docs = Documents(rec, n, int(time.time() * 1000))
        self.last: opb.ChannelOrder | None = None

    def _tell(self, call: str, outcome: int, order_state: str, version: int) -> None:
        self.rec.told.append(Told(call, OUTCOME[outcome], order_state, version))

    async def sync(self, state: str) -> bool:
        """Send the next document; True when the hub's answer came back."""
        self.last = self.docs.next(state)
        return await self._send(f"sync {state}", self.last)

    async def resend(self) -> bool:
        assert self.last is not None
        return await self._send(f"resend {self.last.state}", self.last)

    async def _call(self, method: str, request: object) -> object | None:
        """The answer; None when every try failed (unknown: counted as unanswered) or the
        hub refused (recorded; counted in traffic.errors by the client)."""
        try:
            reply = await self.client.call(method, request, self.traffic)
        except grpc.aio.AioRpcError as exc:
            self.rec.refused.append(f"{method}: {exc.code().name} {exc.details()}")
            return None
        self.rec.unanswered += reply is None
        return reply

    async def _send(self, call: str, doc: opb.ChannelOrder) -> bool:
        reply = await self._call("SyncOrders", opb.SyncOrdersRequest(orders=[doc]))
        if reply is None:
            return False
        [r] = reply.results  # type: ignore[attr-defined]
        if r.outcome == opb.SYNC_OUTCOME_REFUSED:
            self.traffic.errors[f"SyncOrders REFUSED {r.refused_code}"] += 1
            self.rec.refused.append(f"{call}: {r.refused_reason}")
            return False
        self._tell(call, r.outcome, r.state, r.version)
        return True

    async def ship(self) -> bool:
        """The WMS reports the parcel (the same tracking number on every try)."""
        shipment = opb.Shipment(carrier="SF", tracking_number=f"SF{self.docs.n:010d}")
        reply = await self._call("ReportShipment", opb.ReportShipmentRequest(
            key=self.rec.key, shipment=shipment, actor="wms"))
        if reply is None:
            return False
        o = reply.order  # type: ignore[attr-defined]
        self._tell("shipment", reply.outcome, o.state, o.version)  # type: ignore[attr-defined]
        return True

    async def pause(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, 0.2))
        if self.last is not None and self.rng.random() < 0.3:
            await self.resend()


async def one_life(client: Client, n: int, rng: random.Random, traffic: Traffic) -> None:
    channel = rng.choice(HUB_CHANNELS)
    if rng.random() < 0.25:
        a, b = rng.choice(HUB_PAIRS)
        lines, multi = [(a, rng.randint(1, 2)), (b, rng.randint(1, 2))], True
    else:
        lines, multi = [(rng.choice(HUB_SINGLES), rng.randint(1, 3))], False
    rec = HubRecord(channel, f"h-{n}", lines, multi)
    traffic.hub[rec.order_id] = rec
    life = Life(client, traffic, rec, n, rng)
    if not await life.sync("PENDING_PAYMENT") and rng.random() < 0.5:
        return  # the adapter gave up on it; the order may or may not exist
    await life.pause()
    roll = rng.random()
    if roll < 0.15:
        return  # never paid: its hold expires
    if roll < 0.3:
        await life.sync("CANCELLED")
        await life.pause()
        return
    await life.sync("PAID")
    await life.pause()
    roll = rng.random()
    if roll < 0.2:
        return
    if roll < 0.35:
        await life.sync("REFUND_REQUESTED")
        await life.pause()
        await life.sync("REFUNDED")
        return
    if roll < 0.7:
        await life.ship()
        await life.pause()
        if rng.random() < 0.5:
            await life.sync("SHIPPED")  # the channel learns of it too
    else:
        await life.sync("SHIPPED")  # the channel's word first: a jump the hub walks
    await life.pause()
    if rng.random() < 0.4:
        await life.sync("DELIVERED")


async def run_hub_workers(targets: list[str], rng: random.Random, workers: int,
                          stop: asyncio.Event, traffic: Traffic) -> None:
    await run_workers(targets, rng, workers, stop, traffic, one_life,
                      opb_grpc.OrderServiceStub)


def stock_items() -> list[tuple[str, str, int]]:
    """(sku, warehouse, quantity) the hub's SKUs are loaded with."""
    return [(sku, wh, qty) for sku, qty in HUB_STOCK.items() for wh in WAREHOUSES]
