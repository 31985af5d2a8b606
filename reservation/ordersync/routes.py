"""Routing of arriving orders: the seam (`Router`) and the routing capability behind it.

An order that arrives is routed first, then its stock is held at the routed warehouses:
each line's candidates go to the order script in the routed order, and the script takes
the first that has the units (atomically, so a warehouse sold out since the decision
costs nothing). The decision is kept on the order (`Order.routes`,
`Order.routed_warehouses`) and in its history (a ROUTING_DECIDED event naming the rules
that decided); a rule's review flag holds the order for review (ON_HOLD).

Routing is in force when warehouses are defined (RoutingAdmin PutWarehouse); without
any, a line takes its own warehouse, else the SKU's warehouses in priority order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from reservation.errors import InvalidArgument
from reservation.ordersync.model import ChannelOrder
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.router import Decision
from reservation.routing.service import Routing

NO_ROUTE = "-"
"""Candidate of a line no allowed warehouse may ship: the script refuses it (no SKU is
stocked at '-'), so the order goes to review instead of shipping against a rule."""


@dataclass(frozen=True)
class Route:
    """One order's routing decision, as the hub keeps it."""

    candidates: tuple[str, ...]
    """Per line, the warehouses to try in order, "w1,w2" ("" = priority order)."""
    warehouses: tuple[str, ...] = ()
    """The planned warehouses (where the decision allocated the lines)."""
    decided_by: tuple[str, ...] = ()
    """Per line, why (e.g. "preferred by rule '奶粉 East China'")."""
    rules: tuple[str, ...] = ()
    rules_version: int = 0
    review: str = ""
    """Non-empty: a rule (or an address routing cannot place) asks for review."""
    note: str = ""
    scores: tuple[tuple[str, float], ...] = ()
    """The best candidates of the order's first group of lines with their scores (lower
    is better), at most SCORES_KEPT: what the decision weighed, kept in its history."""


SCORES_KEPT = 5


class Router(Protocol):
    """The routing seam: one Route per order (None: not routed, priority order)."""

    async def route(self, orders: Sequence[ChannelOrder]) -> list[Route | None]: ...


class PriorityRouter:
    """No routing: the line's own warehouse, else the SKU's priority order."""

    async def route(self, orders: Sequence[ChannelOrder]) -> list[Route | None]:
        return [None] * len(orders)


def route_order(co: ChannelOrder) -> RouteOrder:
    a = co.address
    return RouteOrder(
        lines=tuple(RouteLine(ln.sku, ln.quantity, ln.category, ln.brand) for ln in co.lines),
        destination=Destination(province=a.province, city=a.city, district=a.district,
                                address=a.detail),
        channel=co.channel, order_id=f"{co.shop}/{co.order_id}",
        amount=co.total_cents / 100)


def from_decision(co: ChannelOrder, d: Decision) -> Route:
    cands = []
    for ln, dl in zip(co.lines, d.lines, strict=True):
        if ln.warehouse_id:  # the channel asked for this warehouse: not routing's to change
            cands.append(ln.warehouse_id)
            continue
        cs = list(dl.candidates)
        if not cs:
            # No allowed warehouse holds it now: still only allowed ones (finite score),
            # so the script refuses it as sold out rather than shipping against a rule.
            cs = [c.warehouse_id for c in d.groups[dl.group] if c.score != float("inf")]
        cands.append(",".join(cs) or NO_ROUTE)
    why = tuple(f"{dl.sku}: {dl.decided_by}" for dl in d.lines)
    return Route(tuple(cands), tuple(d.warehouses()), why, d.matched_rules, d.rules_version,
                 d.review_reason if d.review else "", "; ".join(d.notes), _scores(d))


def _scores(d: Decision) -> tuple[tuple[str, float], ...]:
    if not d.explained:
        return ()
    e = d.explained[0]
    best = [j for j in e.by_score if math.isfinite(e.scores[j])][:SCORES_KEPT]
    return tuple((e.ids[j], round(e.scores[j], 4)) for j in best)


class RoutingRouter:
    """The routing capability behind the seam: one Routing.route call per batch."""

    def __init__(self, routing: Routing) -> None:
        self.routing = routing

    async def route(self, orders: Sequence[ChannelOrder]) -> list[Route | None]:
        out: list[Route | None] = [None] * len(orders)
        _, warehouses = await self.routing.current()
        if not warehouses:
            return out  # routing not in force
        todo: list[tuple[int, RouteOrder]] = []
        for i, co in enumerate(orders):
            if all(ln.warehouse_id for ln in co.lines):
                continue  # every line names its warehouse: nothing to decide
            ro = route_order(co)
            try:
                self.routing.resolve(ro)
            except InvalidArgument as exc:
                # The hub's validation passed it: an address routing cannot place is a
                # case for a person, not a refused batch.
                out[i] = Route(tuple(ln.warehouse_id for ln in co.lines),
                               review=f"routing cannot place the order: {exc.description}")
                continue
            todo.append((i, ro))
        top = self.routing.settings.max_batch
        for k in range(0, len(todo), top):
            part = todo[k:k + top]
            decisions = await self.routing.route([ro for _, ro in part])
            for (i, _), d in zip(part, decisions, strict=True):
                out[i] = from_decision(orders[i], d)
        return out
