"""Overdue orders: an open order that has sat at a node (its state) longer than the
threshold for that node and its channel (RESERVATION_ORDER_OVERDUE, data: paid but not
routed after 15 min, a label printed 2 h without shipping, shipped 24 h without
delivery, a channel's own threshold winning over the node's).

One replica per period (a lease) reads every order created within the look-back from
the shards' order indexes, evaluates each with the hub's clock, and stores the result:
the count per node and channel (the reservation_overdue_orders gauge) and the most
overdue orders (ListOverdueOrders). An order is flagged at the first evaluation after
it crosses its threshold, so within one period (30 s by default), and leaves the list
at the first evaluation after it moves on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from reservation.errors import InvalidArgument, ReservationError
from reservation.ordersync import codec
from reservation.ordersync.model import CHANNELS, Order
from reservation.ordersync.states import OrderState
from reservation.settings import ConfigError, Settings
from reservation.storage.overdue import OverdueStore

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub

log = logging.getLogger(__name__)
S = OrderState

NODE_STATES: dict[str, OrderState] = {
    "paid": S.PAID, "routed": S.ROUTED, "allocated": S.ALLOCATED, "printed": S.PRINTED,
    "shipped": S.SHIPPED, "on_hold": S.ON_HOLD, "refund_requested": S.REFUND_REQUESTED}
"""Each node of RESERVATION_ORDER_OVERDUE is the state an order sits in (see node_of)."""
_NODE_OF = {state: node for node, state in NODE_STATES.items()}
KEPT = 1000
"""Most overdue orders kept per evaluation (the counts are exact)."""
PAGE = 500
TOP = 10
"""What ListOverdueOrders answers by default: the supervisors' top 10."""


@dataclass(frozen=True)
class OverdueOrder:
    channel: str
    shop: str
    order_id: str
    node: str
    state: str
    since_ms: int
    """When the order reached the node (paid, routed and shipped: their own times)."""
    threshold_ms: int
    overdue_ms: int
    """How far past its threshold it was at the evaluation."""


@dataclass(frozen=True)
class Evaluation:
    at_ms: int = 0
    """The hub's clock at the evaluation; 0: none stored yet."""
    scanned: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """"node/channel" -> overdue orders there."""
    orders: tuple[OverdueOrder, ...] = ()
    """The most overdue first (at most KEPT)."""

    def pairs(self) -> dict[tuple[str, str], int]:
        """(node, channel) -> overdue orders there."""
        return {(node, channel): n for where, n in self.counts.items()
                for node, _, channel in [where.partition("/")]}

    def encode(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def decode(cls, raw: str) -> Evaluation:
        d = json.loads(raw)
        return cls(d["at_ms"], d["scanned"], d["counts"],
                   tuple(OverdueOrder(**o) for o in d["orders"]))


class Thresholds:
    """(node, channel) -> ms, a channel's own threshold before the node's."""

    def __init__(self, table: Mapping[tuple[str, str], int]) -> None:
        for node, channel in table:
            if node not in NODE_STATES:  # settings.OVERDUE_NODES and NODE_STATES disagree
                raise ConfigError(f"RESERVATION_ORDER_OVERDUE: unknown node {node!r}")
            if channel and channel not in CHANNELS:
                raise ConfigError(f"RESERVATION_ORDER_OVERDUE: {node}/{channel} names no "
                                  f"channel the hub knows ({', '.join(CHANNELS)})")
        self.table = dict(table)

    def of(self, node: str, channel: str) -> int | None:
        return self.table.get((node, channel), self.table.get((node, "")))


def since(order: Order, node: str) -> int:
    """When the order reached the node: the payment, routing and shipment times where
    the order has them, else when it entered its state (else its last change)."""
    own = {"paid": order.paid_at_ms, "routed": order.routed_at_ms,
           "shipped": order.shipped_at_ms}.get(node, 0)
    return own or order.state_at_ms or order.updated_at_ms


def node_of(order: Order) -> str | None:
    """Where the order sits. A paid order held before it was ever routed is at `paid`
    (paid but not routed, as the fulfilment figures count it), not at `on_hold`."""
    if order.state == S.ON_HOLD and order.paid and not order.routed_at_ms:
        return "paid"
    return _NODE_OF.get(order.state)


def check(order: Order, thresholds: Thresholds, now_ms: int) -> OverdueOrder | None:
    node = node_of(order)
    limit = thresholds.of(node, order.channel) if node else None
    if node is None or limit is None:
        return None
    start = since(order, node)
    late = now_ms - start - limit
    if not start or late <= 0:
        return None
    return OverdueOrder(order.channel, order.shop, order.order_id, node, order.state.value,
                        start, limit, late)


def summarise(found: list[OverdueOrder], scanned: int, now_ms: int) -> Evaluation:
    counts: dict[str, int] = {}
    for o in found:
        counts[f"{o.node}/{o.channel}"] = counts.get(f"{o.node}/{o.channel}", 0) + 1
    found.sort(key=lambda o: (-o.overdue_ms, o.channel, o.shop, o.order_id))
    return Evaluation(now_ms, scanned, counts, tuple(found[:KEPT]))


class OverdueWatch:
    """The evaluation loop and what ListOverdueOrders and the gauge read."""

    def __init__(self, hub: OrderHub, settings: Settings) -> None:
        self.hub, self.settings = hub, settings
        self.thresholds = Thresholds(settings.order_overdue_thresholds)
        self.store = OverdueStore(hub.store)
        self.replica = secrets.token_hex(8)

    async def _pages(self, shard: int, low_ms: int) -> AsyncIterator[list[Order]]:
        after = (-1, "")
        while True:
            reached, docs = await self.hub.orders.docs_page(shard, low_ms, 2**53, after, PAGE)
            if reached == after:
                return
            after = reached
            yield [codec.decode(d) for d in docs]

    async def run_once(self, lease: bool = True) -> Evaluation | None:
        """Evaluate now and store the result (None: another replica has this period).
        Shard by shard, a page at a time, keeping only the overdue: memory stays small."""
        period = self.settings.order_overdue_interval_ms
        if lease and not await self.store.lead(self.replica, max(1, period - 10)):
            return None
        now = self.hub.clock()
        low = now - self.settings.order_overdue_lookback_ms
        found: list[OverdueOrder] = []
        scanned = 0
        for shard in range(self.settings.shards):
            async for page in self._pages(shard, low):
                scanned += len(page)
                found += filter(None, (check(o, self.thresholds, now) for o in page))
        result = summarise(found, scanned, now)
        await self.store.save(now, result.encode(), 10 * period)
        return result

    async def last(self) -> Evaluation:
        raw = await self.store.load()
        return Evaluation.decode(raw) if raw else Evaluation()

    async def listing(self, node: str = "", channel: str = "", limit: int = 0
                      ) -> tuple[Evaluation, list[OverdueOrder]]:
        """The last evaluation and its most overdue orders at `node` on `channel`."""
        if node and node not in NODE_STATES:
            raise InvalidArgument("node", f"must be one of {', '.join(NODE_STATES)}")
        if channel and channel not in CHANNELS:
            raise InvalidArgument("channel", f"must be one of {', '.join(CHANNELS)}")
        if not 0 <= limit <= KEPT:
            raise InvalidArgument("page_size", f"must be between 0 and {KEPT}")
        last = await self.last()
        picked = [o for o in last.orders
                  if (not node or o.node == node) and (not channel or o.channel == channel)]
        return last, picked[:limit or TOP]

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except ReservationError as exc:  # Redis away: health says so; try next period
                log.debug("overdue evaluation skipped: %s", exc)
            await asyncio.sleep(self.settings.order_overdue_interval_ms / 1000)
