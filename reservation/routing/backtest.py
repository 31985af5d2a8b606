"""Backtest: what a candidate rule set would have decided for orders that really happened,
against the decisions recorded for them and the warehouses that really shipped them.

Pure: no I/O. `Routing.backtest` reads stock and loads once and hands each chunk of
decisions here. Orders that are alike in everything routing reads (lines, destination,
channel, amount, payment, grade, promise) are decided once and counted for each: a day of
orders repeats the same few baskets to the same cities, so this is most of the saving.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reservation.routing.decision import Decision
from reservation.routing.geography import Place, haversine_km
from reservation.routing.matching import RouteOrder
from reservation.routing.warehouses import Warehouse

NO_RULE = "(no rule)"
"""The row of orders no rule of the candidate matched (decided by score alone)."""
NOWHERE = "(none)"
"""An order decided to no warehouse: no allowed warehouse has its stock."""
MOVES_KEPT = 20
EXAMPLES_KEPT = 3
MAX_SAMPLE = 500_000
"""Orders one backtest may take (a month of a busy shop); more is INVALID_ARGUMENT."""


@dataclass(frozen=True)
class Sample:
    """One historical order: what routing reads, and what really happened to it."""

    order: RouteOrder
    decided: tuple[str, ...] = ()
    """The warehouses the recorded decision planned ('' none: not recorded)."""
    version: int = 0
    """The rule set version that made the recorded decision (0: unknown)."""
    shipped: str = ""
    """The warehouse that really shipped it ('' unknown)."""


@dataclass
class Tally:
    orders: int = 0
    matched: int = 0

    def add(self, same: bool, n: int = 1) -> None:
        self.orders += n
        self.matched += n if same else 0

    @property
    def rate(self) -> float:
        """Share matched; NaN with no orders (0% would claim a mismatch)."""
        return self.matched / self.orders if self.orders else math.nan


@dataclass
class WarehouseRow:
    before: int = 0   # orders the reference (shipped, else recorded) sent here
    after: int = 0    # orders the candidate sends here
    kept: int = 0     # orders both send here


@dataclass
class Move:
    orders: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    orders: int = 0
    distinct: int = 0
    """Orders decided (alike orders are decided once)."""
    unplaced: int = 0
    """Orders whose destination routing cannot place (not decided)."""
    vs_recorded: Tally = field(default_factory=Tally)
    vs_shipped: Tally = field(default_factory=Tally)
    by_rule: dict[str, Tally] = field(default_factory=dict)
    by_warehouse: dict[str, WarehouseRow] = field(default_factory=dict)
    by_version: dict[int, Tally] = field(default_factory=dict)
    moves: dict[tuple[str, str], Move] = field(default_factory=dict)
    cost_before: float = 0.0
    cost_after: float = 0.0
    km_before: float = 0.0
    km_after: float = 0.0
    compared: int = 0
    """Orders with a reference (shipped or recorded) and a place: the cost/distance base."""
    notes: list[str] = field(default_factory=list)

    def top_moves(self, n: int = MOVES_KEPT) -> list[tuple[str, str, Move]]:
        ranked = sorted(self.moves.items(), key=lambda kv: (-kv[1].orders, kv[0]))
        return [(b, a, m) for (b, a), m in ranked[:n]]


def alike(order: RouteOrder) -> RouteOrder:
    """The order as routing reads it, without its id: alike orders share a decision."""
    return RouteOrder(order.lines, order.destination, order.channel, "", order.amount,
                      order.payment, order.customer_grade, order.promised_hours)


def group(samples: Iterable[Sample]) -> dict[RouteOrder, list[Sample]]:
    groups: dict[RouteOrder, list[Sample]] = {}
    for s in samples:
        groups.setdefault(alike(s.order), []).append(s)
    return groups


def tally(report: Report, samples: Sequence[Sample], decision: Decision, place: Place,
          warehouses: Mapping[str, Warehouse]) -> None:
    """Count one decision for every sample alike to it."""
    after = "+".join(decision.warehouses()) or NOWHERE
    rules = decision.matched_rules or (NO_RULE,)
    for s in samples:
        report.orders += 1
        recorded = "+".join(s.decided)
        if recorded:
            same = recorded == after
            report.vs_recorded.add(same)
            report.by_version.setdefault(s.version, Tally()).add(same)
        if s.shipped:
            report.vs_shipped.add(s.shipped == after)
        before = s.shipped or recorded
        if not before:
            continue
        same = before == after
        for rule in rules:
            report.by_rule.setdefault(rule, Tally()).add(same)
        _count_warehouses(report, before, after)
        if not same:
            move = report.moves.setdefault((before, after), Move())
            move.orders += 1
            if len(move.examples) < EXAMPLES_KEPT and s.order.order_id:
                move.examples.append(s.order.order_id)
        report.compared += 1
        report.cost_before += _cost(before, warehouses)
        report.cost_after += _cost(after, warehouses)
        report.km_before += _km(before, place, warehouses)
        report.km_after += _km(after, place, warehouses)


def _count_warehouses(report: Report, before: str, after: str) -> None:
    was, now = set(before.split("+")), set(after.split("+"))
    for w in was | now:
        row = report.by_warehouse.setdefault(w, WarehouseRow())
        row.before += w in was
        row.after += w in now
        row.kept += w in was and w in now


def _cost(where: str, warehouses: Mapping[str, Warehouse]) -> float:
    return sum(warehouses[w].cost_per_order for w in where.split("+") if w in warehouses)


def _km(where: str, place: Place, warehouses: Mapping[str, Warehouse]) -> float:
    """Great-circle distance from the destination to the (first) shipping warehouse."""
    wh = warehouses.get(where.split("+")[0])
    if wh is None:
        return 0.0
    return haversine_km(place.latitude, place.longitude, wh.latitude, wh.longitude)
