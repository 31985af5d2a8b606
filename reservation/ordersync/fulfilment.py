"""Fulfilment figures per channel, warehouse and day of payment: the funnel, on-time
rate (routed within 2 h and shipped within 4 h of payment unless the channel's SLA says
otherwise), median times and the late orders (a paid order not routed 15 min after
payment is late)."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from reservation.errors import InvalidArgument
from reservation.ordersync import listing
from reservation.ordersync.model import Order

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub

HOUR_MS = 3600 * 1000
DEFAULT_SLA = (2 * HOUR_MS, 4 * HOUR_MS)
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

    @property
    def on_time_rate(self) -> float:
        return self.on_time / self.paid if self.paid else 0.0

    @staticmethod
    def median(values: list[int]) -> int:
        return int(statistics.median(values)) if values else 0


def parse_day(day: str) -> tuple[int, int]:
    try:
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidArgument("day", "must be a date YYYY-MM-DD") from None
    ms = int(start.timestamp() * 1000)
    return ms, ms + 24 * HOUR_MS


class Fulfilment:
    def __init__(self, hub: OrderHub,
                 lister: Callable[[listing.Query], Awaitable[listing.Page]] | None = None
                 ) -> None:
        self.hub = hub
        self.lister = lister or (lambda q: listing.list_orders(hub, q))
        """Where orders are listed from: Redis by default; the servicer passes the
        reads that also list orders that left Redis (reservation/records/reads.py)."""
        self.sla = hub.settings.order_sla_targets
        self.late_route_ms = hub.settings.order_late_route_ms

    async def _orders(self, low: int, high: int, channel: str) -> list[Order]:
        out: list[Order] = []
        token = ""
        while True:
            page = await self.lister(listing.Query(
                channel=channel, created_from_ms=low, created_to_ms=high,
                page_size=listing.PAGE_MAX, page_token=token))
            out += page.orders
            if not page.next_token:
                return out
            token = page.next_token

    async def stats(self, day: str, channel: str = "", warehouse: str = "",
                    now_ms: int | None = None) -> list[Row]:
        start, end = parse_day(day)
        now = self.hub.clock() if now_ms is None else now_ms
        orders = await self._orders(start - int(LOOKBACK.total_seconds() * 1000), end, channel)
        rows: dict[tuple[str, str], Row] = {}
        for o in orders:
            wh = o.warehouses[0] if o.warehouses else ""
            if warehouse and wh != warehouse:
                continue
            for key in ((o.channel, wh), ("", "")):
                row = rows.setdefault(key, Row(key[0], key[1], day))
                self._count(row, o, start, end, now)
        return sorted(rows.values(), key=lambda r: (r.channel == "", r.channel, r.warehouse_id))

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
