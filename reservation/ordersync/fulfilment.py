"""Fulfilment figures per channel, warehouse and day of payment: the funnel, on-time
rate (routed within 2 h and shipped within 4 h of payment unless the channel's SLA says
otherwise), median times and the late orders (a paid order not routed 15 min after
payment is late); and the order health's three rates (ordersync/health.py): on time
against the promise, lifecycle completeness, consistency with the channel."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from reservation.errors import InvalidArgument
from reservation.ordersync import health, listing
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.health import DEFAULT_SLA, HOUR_MS
from reservation.ordersync.model import Order
from reservation.storage.orders import order_ref

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub

LOOKBACK = timedelta(days=3)
"""Orders created this long before the day may be paid on it."""


@dataclass
class Row:
    channel: str
    warehouse_id: str
    day: str
    created: int = 0
    paid: int = 0
    routed: int = 0
    shipped: int = 0
    delivered: int = 0
    on_time: int = 0
    to_route: list[int] = field(default_factory=list)
    to_ship: list[int] = field(default_factory=list)
    late: list[tuple[tuple[str, str, str], str, str]] = field(default_factory=list)
    promised: int = 0
    """Paid orders delivered, or past their promise + 2 h: those that count."""
    kept_promise: int = 0
    lifecycles: int = 0
    """Delivered orders: those whose completeness counts."""
    complete: int = 0
    inconsistent: list[health.Inconsistency] = field(default_factory=list)

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.paid if self.paid else 0.0

    @property
    def on_promise_rate(self) -> float:
        return self.kept_promise / self.promised if self.promised else 0.0

    @property
    def complete_rate(self) -> float:
        return self.complete / self.lifecycles if self.lifecycles else 0.0

    @property
    def consistent_rate(self) -> float:
        return 1 - len(self.inconsistent) / self.paid if self.paid else 0.0

    @staticmethod
    def median(values: list[int]) -> int:
        return int(statistics.median(values)) if values else 0


def parse_day(day: str, field_: str = "day") -> tuple[int, int]:
    try:
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidArgument(field_, "must be a date YYYY-MM-DD") from None
    ms = int(start.timestamp() * 1000)
    return ms, ms + 24 * HOUR_MS


History = Callable[[str, str, str, int, int], Awaitable[list[OrderEvent]]]
HISTORY_MAX = 1000


@dataclass(frozen=True)
class _Health:
    """One paid order's part in the health rates."""

    on_time: bool | None
    complete: bool | None
    inconsistent: health.Inconsistency | None


class Fulfilment:
    def __init__(self, hub: OrderHub,
                 lister: Callable[[listing.Query], Awaitable[listing.Page]] | None = None,
                 history: History | None = None) -> None:
        self.hub = hub
        self.lister = lister or (lambda q: listing.list_orders(hub, q))
        """Where orders are listed from: Redis by default; the servicer passes the
        reads that also list orders that left Redis (reservation/records/reads.py)."""
        self.history: History = history or hub.history
        """Where an order's history is read from (the same choice as the lister)."""
        self.sla = hub.settings.order_sla_targets
        self.late_route_ms = hub.settings.order_late_route_ms

    async def _orders(self, low: int, high: int, channel: str) -> list[Order]:
        return await listing.every_order(self.lister, channel, low, high)

    async def stats(self, day: str, channel: str = "", warehouse: str = "",
                    now_ms: int | None = None, by_channel: bool = False) -> list[Row]:
        """Rows per channel and first warehouse (per channel alone with by_channel),
        and the total row last."""
        start, end = parse_day(day)
        now = self.hub.clock() if now_ms is None else now_ms
        orders = await self._orders(start - int(LOOKBACK.total_seconds() * 1000), end, channel)
        orders = [o for o in orders
                  if not warehouse or (o.warehouses[0] if o.warehouses else "") == warehouse]
        healths = await self._health([o for o in orders if start <= o.paid_at_ms < end], now)
        rows: dict[tuple[str, str], Row] = {}
        for o in orders:
            wh = "" if by_channel else (o.warehouses[0] if o.warehouses else "")
            for key in ((o.channel, wh), ("", "")):
                row = rows.setdefault(key, Row(key[0], key[1], day))
                self._count(row, o, start, end, now)
                if o.key in healths:
                    _add_health(row, healths[o.key])
        return sorted(rows.values(), key=lambda r: (r.channel == "", r.channel, r.warehouse_id))

    async def _health(self, paid: list[Order], now: int) -> dict[tuple[str, str, str], _Health]:
        """Each paid order's part in the three rates: its promise, its lifecycle (the
        history of a delivered order) and the channel's last report beside it."""
        s = self.hub.settings
        reports = await self.hub.orders.channel_reports([order_ref(*o.key) for o in paid])
        out = {}
        for o, seen in zip(paid, reports, strict=True):
            whole = None
            if o.delivered_at_ms:
                events = await self.history(*o.key, 0, HISTORY_MAX)
                whole = health.complete(o, events)
            report = health.ChannelSeen(seen["state"], seen["raw"], int(seen["at"])) \
                if seen else None
            out[o.key] = _Health(health.on_time(o, s, now), whole, health.inconsistency(
                o, report, s.order_consistency_grace_ms, now))
        return out

    def _count(self, row: Row, o: Order, start: int, end: int, now: int) -> None:
        if start <= o.created_at_ms < end:
            row.created += 1
        if not start <= o.paid_at_ms < end:
            return
        route_sla, ship_sla = self.sla.get(o.channel, DEFAULT_SLA)
        row.paid += 1
        row.routed += o.routed_at_ms > 0
        row.shipped += o.shipped_at_ms > 0
        row.delivered += o.delivered_at_ms > 0
        late = ""
        if o.routed_at_ms:
            row.to_route.append(o.routed_at_ms - o.paid_at_ms)
            if o.routed_at_ms - o.paid_at_ms > route_sla:
                late = f"routed after {route_sla // 60000} min"
        elif now - o.paid_at_ms > self.late_route_ms:
            late = f"not routed {self.late_route_ms // 60000} min after payment"
        if o.shipped_at_ms:
            row.to_ship.append(o.shipped_at_ms - o.paid_at_ms)
            if o.shipped_at_ms - o.paid_at_ms > ship_sla and not late:
                late = f"shipped after {ship_sla // 60000} min"
        elif now - o.paid_at_ms > ship_sla and not late:
            late = f"not shipped {ship_sla // 60000} min after payment"
        if late:
            row.late.append((o.key, o.state.value, late))
        elif o.shipped_at_ms:
            row.on_time += 1


def _add_health(row: Row, h: _Health) -> None:
    if h.on_time is not None:
        row.promised += 1
        row.kept_promise += h.on_time
    if h.complete is not None:
        row.lifecycles += 1
        row.complete += h.complete
    if h.inconsistent is not None:
        row.inconsistent.append(h.inconsistent)
