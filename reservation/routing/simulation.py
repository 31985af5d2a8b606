"""A candidate rule set against orders: SimulateRouting (this service's recent orders,
before and after) and BacktestRouting (recorded orders against what was decided and
shipped). Both decide on today's stock, loads and warehouses: the service keeps no
history of them.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from reservation.errors import InvalidArgument, NotFound
from reservation.routing import backtest, router, rules
from reservation.routing.decision import Decision
from reservation.routing.freshness import CHINA
from reservation.routing.geography import Place
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse
from reservation.storage.routing import RECENT_KEPT, RecentBuffer, RoutingStore

SAMPLE_DEFAULT = 1000
BACKTEST_CHUNK = 2000
"""Orders decided per kernel call in a backtest; the event loop runs between chunks."""


@dataclass(frozen=True)
class Simulation:
    orders: int
    changed: int
    changes: Mapping[tuple[str, str], int]
    current_version: int

    @property
    def match_ratio(self) -> float:
        return 1.0 if self.orders == 0 else (self.orders - self.changed) / self.orders


class Sources(Protocol):
    """What a simulation reads through the routing service (service.Routing)."""

    @property
    def db(self) -> RoutingStore: ...

    @property
    def recent(self) -> RecentBuffer: ...

    async def current(self) -> tuple[RuleSet, list[Warehouse]]: ...

    async def loads(self) -> dict[str, int]: ...

    def resolve(self, order: RouteOrder, field: str = "") -> Place: ...

    def place(self, order: RouteOrder, field: str = "") -> Place: ...


async def simulate(src: Sources, document: Mapping[str, Any],
                   sample_size: int = 0) -> Simulation:
    if not 0 <= sample_size <= 10_000:
        raise InvalidArgument("sample_size", "must be 0 (1000) .. 10000")
    current, whs = await src.current()
    candidate = rules.parse(document, whs)
    await src.recent.flush()  # this replica's latest orders too
    recent = newest_per_order([recalled(r) for r in await src.db.recent(RECENT_KEPT)],
                              sample_size or SAMPLE_DEFAULT)
    if not recent:
        return Simulation(0, 0, {}, current.version)
    places = [src.resolve(o) for o in recent]
    before = await _decide(src, recent, places, current, whs)
    after = await _decide(src, recent, places, candidate, whs)
    changes: Counter[tuple[str, str]] = Counter()
    for b, a in zip(before, after, strict=True):
        was, now = "+".join(b.warehouses()), "+".join(a.warehouses())
        if was != now:
            changes[(was, now)] += 1
    return Simulation(len(recent), sum(changes.values()), dict(changes), current.version)


async def _decide(src: Sources, orders: Sequence[RouteOrder], places: Sequence[Place],
                  ruleset: RuleSet, whs: Sequence[Warehouse]) -> list[Decision]:
    skus = sorted({ln.sku for o in orders for ln in o.lines})
    stock, loads = await asyncio.gather(src.db.available(skus), src.loads())
    if not whs:
        raise NotFound("no warehouses: put some first (reservation warehouses put)")
    return router.route_many(orders, places, ruleset, whs, stock, loads)


async def run_backtest(src: Sources, document: Mapping[str, Any],
                       samples: Sequence[backtest.Sample]) -> backtest.Report:
    """What the candidate rule set would have decided for `samples` (validated by the
    caller), against their recorded decisions and shipping warehouses. Stock, loads and
    warehouses are today's: the service keeps no history of them."""
    if len(samples) > backtest.MAX_SAMPLE:
        raise InvalidArgument("orders", f"holds {len(samples)} orders, at most "
                              f"{backtest.MAX_SAMPLE}")
    _, whs = await src.current()
    if not whs:
        raise NotFound("no warehouses: put some first (reservation warehouses put)")
    candidate = rules.parse(document, whs)
    report = backtest.Report()
    placed: list[tuple[RouteOrder, Place, list[backtest.Sample]]] = []
    unplaced: list[str] = []
    for order, members in backtest.group(samples).items():
        try:
            placed.append((order, src.place(order), members))
        except InvalidArgument:
            report.unplaced += len(members)
            unplaced += [m.order.order_id for m in members][:max(0, 3 - len(unplaced))]
    report.distinct = len(placed)
    skus = sorted({ln.sku for o, _, _ in placed for ln in o.lines})
    tab = router.table(whs)
    stock = await src.db.available(skus)
    loads = await src.loads() if tab.needs_loads else {}
    by_id = {w.warehouse_id: w for w in whs}
    for k in range(0, len(placed), BACKTEST_CHUNK):
        part = placed[k:k + BACKTEST_CHUNK]
        decisions = router.route_many([o for o, _, _ in part], [p for _, p, _ in part],
                                      candidate, whs, stock, loads, tab, explain=False)
        for (_, p, members), d in zip(part, decisions, strict=True):
            backtest.tally(report, members, d, p, by_id)
        await asyncio.sleep(0)  # a long backtest does not stall the calls beside it
    report.notes.append(
        f"decided on stock and loads as of now ({datetime.now(CHINA):%Y-%m-%d %H:%M} "
        "China time) and today's warehouses: the service keeps no history of them")
    if report.unplaced:
        report.notes.append(f"{report.unplaced} orders not decided: routing cannot "
                            f"place their destination (e.g. {', '.join(unplaced)})")
    return report


def newest_per_order(orders: Sequence[RouteOrder], limit: int) -> list[RouteOrder]:
    """The samples, newest first, one per order id (an order routed five times is one
    sample, as it was last seen); orders without an id are each their own."""
    seen: set[tuple[str, str]] = set()
    out = []
    for o in orders:
        key = (o.channel, o.order_id)
        if o.order_id and key in seen:
            continue
        seen.add(key)
        out.append(o)
        if len(out) == limit:
            break
    return out


def remembered(order: RouteOrder) -> bytes:
    """The order as JSON (orjson writes the dataclasses field by field, UTF-8)."""
    return orjson.dumps(order)


def recalled(raw: str) -> RouteOrder:
    data = json.loads(raw)
    data["lines"] = tuple(RouteLine(**ln) for ln in data["lines"])
    data["destination"] = Destination(**data["destination"])
    return RouteOrder(**data)
