"""The two workloads and their correctness checks (oversold = 0, the stock invariant).

(a) flash: 1 hot SKU in 3 warehouses, 100k units, 50k buyers, a per-buyer limit.
(b) broad: 10k SKUs, mixed multi-line orders, then confirms and releases.
`scale` shrinks units, buyers, SKUs and orders alike (the test suite uses a tiny one).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from reservation.domain.models import FlashSale, StockItem
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb

CHANNELS = ("tmall", "jd", "pdd", "douyin", "wechat", "pos")
HOT = "HOT-SKU-1"


@dataclass(frozen=True)
class Flash:
    scale: float = 1.0
    per_buyer_limit: int = 3

    @property
    def units(self) -> int:
        return max(30, int(100_000 * self.scale))

    @property
    def buyers(self) -> int:
        return max(10, int(50_000 * self.scale))

    def items(self) -> list[StockItem]:
        u = self.units
        return [StockItem(HOT, "wh-east", u * 40 // 100), StockItem(HOT, "wh-south", u * 35 // 100),
                StockItem(HOT, "wh-west", u - u * 40 // 100 - u * 35 // 100)]

    def sale(self, sale_id: str, now_ms: int) -> FlashSale:
        return FlashSale(sale_id, tuple(self.items()), now_ms - 1000, now_ms + 3_600_000,
                         per_buyer_limit=self.per_buyer_limit, hold_ttl_ms=3_600_000)

    def requests(self, tag: str, count: int, seed: int = 1) -> list[pb.ReserveRequest]:
        rnd = random.Random(seed)
        return [pb.ReserveRequest(
            channel=CHANNELS[i % len(CHANNELS)], order_id=f"{tag}-{i}",
            buyer_id=f"buyer-{rnd.randrange(self.buyers)}",
            lines=[types_pb.OrderLine(sku=HOT, quantity=1 if rnd.random() < 0.8 else 2)])
            for i in range(count)]


@dataclass(frozen=True)
class Broad:
    scale: float = 1.0

    @property
    def skus(self) -> list[str]:
        return [f"SKU-{i:05d}" for i in range(max(20, int(10_000 * self.scale)))]

    def items(self, seed: int = 2) -> list[StockItem]:
        rnd = random.Random(seed)
        out = []
        for sku in self.skus:
            for wh in rnd.sample(("wh-east", "wh-south", "wh-west"), rnd.randint(1, 3)):
                out.append(StockItem(sku, wh, rnd.randint(5, 60)))
        return out

    def requests(self, tag: str, count: int, seed: int = 3) -> list[pb.ReserveRequest]:
        rnd, skus = random.Random(seed), self.skus
        out = []
        for i in range(count):
            lines = [types_pb.OrderLine(sku=s, quantity=rnd.randint(1, 3))
                     for s in rnd.sample(skus, rnd.choice((1, 1, 1, 2, 2, 3, 4)))]
            out.append(pb.ReserveRequest(channel=CHANNELS[i % len(CHANNELS)],
                                         order_id=f"{tag}-{i}", buyer_id=f"b{i}", lines=lines))
        return out


@dataclass
class Check:
    """Counters summed over every SKU and warehouse, and what broke."""

    loaded: int = 0
    available: int = 0
    held: int = 0
    confirmed: int = 0
    returned: int = 0
    oversold: int = 0
    broken: list[str] | None = None

    def add(self, sku: str, levels: Sequence[types_pb.StockLevel]) -> None:
        self.broken = self.broken or []
        for lv in levels:
            self.loaded += lv.loaded
            self.available += lv.available
            self.held += lv.held
            self.confirmed += lv.confirmed
            self.returned += lv.returned
            if lv.loaded != lv.available + lv.held + lv.confirmed + lv.returned:
                self.broken.append(f"{sku}/{lv.warehouse_id}: loaded {lv.loaded} != a+h+c+r")
            if min(lv.available, lv.held, lv.confirmed, lv.returned) < 0:
                self.broken.append(f"{sku}/{lv.warehouse_id}: a counter is negative")
            over = lv.held + lv.confirmed - lv.loaded
            if over > 0:
                self.oversold += over

    def expect(self, what: str, got: int, want: int) -> None:
        if got != want:
            self.broken = (self.broken or []) + [f"{what}: counters say {got}, clients {want}"]

    @property
    def ok(self) -> bool:
        return self.oversold == 0 and not self.broken
