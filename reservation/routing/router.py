"""One routing decision per order, from the rules, the warehouses, stock and loads.

Pure: no I/O. The service reads stock and today's loads and calls `route_many`, which
scores every order of a batch in one kernel call. For each line the candidate order is
the preferred warehouses the rules name (when allowed, under their load threshold and
holding more than `min_stock`), then every other allowed warehouse by score. The
planned allocation walks that order, splitting a line only when no single warehouse has
enough; Reserve hands the same order to the script, which re-checks stock atomically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reservation.routing import kernel, matching
from reservation.routing.geography import Place
from reservation.routing.matching import LinePlan, OrderPlan, RouteOrder
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse

Stock = Mapping[str, Mapping[str, int]]  # sku -> warehouse id -> available units


@dataclass(frozen=True)
class Candidate:
    warehouse_id: str
    name: str
    score: float                # +inf: not allowed (see note)
    terms: Mapping[str, float]
    note: str = ""
    preferred: bool = False


@dataclass(frozen=True)
class LineDecision:
    sku: str
    quantity: int
    group: int
    candidates: tuple[str, ...]          # warehouse ids in the order Reserve tries them
    allocations: tuple[tuple[str, int], ...]
    decided_by: str
    rules: tuple[str, ...] = ()

    @property
    def short(self) -> int:
        return self.quantity - sum(q for _, q in self.allocations)


@dataclass(frozen=True)
class Decision:
    order_id: str
    place: Place
    lines: tuple[LineDecision, ...]
    groups: tuple[tuple[Candidate, ...], ...]
    review: bool = False
    review_reason: str = ""
    rush: bool = False
    rules_version: int = 0
    matched_rules: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def routed(self) -> bool:
        return all(ln.short == 0 for ln in self.lines)

    def warehouses(self) -> list[str]:
        return sorted({wh for ln in self.lines for wh, _ in ln.allocations})


@dataclass
class _Row:
    """One (order, group of lines) row of the kernel's arrays."""

    order: int
    lines: list[int]
    coverage: np.ndarray
    allowed: np.ndarray


def route_many(orders: Sequence[RouteOrder], places: Sequence[Place], rules: RuleSet,
               warehouses: Sequence[Warehouse], stock: Stock,
               loads: Mapping[str, int]) -> list[Decision]:
    whs = [w for w in warehouses if w.active]
    plans = [matching.plan(rules, o, p) for o, p in zip(orders, places, strict=True)]
    rows = [row for k, (o, pl) in enumerate(zip(orders, plans, strict=True))
            for row in _rows(k, o, pl, whs, stock)]
    m = len(whs)
    cols = _columns(whs, loads)
    dest_lat = np.array([places[r.order].latitude for r in rows], dtype=np.float64)
    dest_lon = np.array([places[r.order].longitude for r in rows], dtype=np.float64)
    coverage = np.array([r.coverage for r in rows]).reshape(len(rows), m)
    allowed = np.array([r.allowed for r in rows], dtype=np.bool_).reshape(len(rows), m)
    weights = np.array(rules.weight_vector(), dtype=np.float64)
    # numba's Dispatcher stubs do not know the compiled function's signature.
    score: Any = kernel.score_numba
    scores, _ = score(dest_lat, dest_lon, *cols, coverage, allowed, weights,
                      rules.load_threshold)
    terms = kernel.terms_numpy(dest_lat, dest_lon, *cols, coverage)  # type: ignore[call-arg]
    by_order: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        by_order.setdefault(row.order, []).append(r)
    return [_decide(o, places[k], rules, plans[k], whs, stock, loads,
                    [(rows[r], scores[r], terms[r]) for r in by_order.get(k, [])])
            for k, o in enumerate(orders)]


def _columns(whs: Sequence[Warehouse], loads: Mapping[str, int]) -> list[np.ndarray]:
    def col(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=np.float64)

    return [col([w.latitude for w in whs]), col([w.longitude for w in whs]),
            col([float(loads.get(w.warehouse_id, 0)) for w in whs]),
            col([float(w.daily_capacity) for w in whs]),
            col([w.cost_per_order for w in whs]), col([float(w.priority) for w in whs])]


def _groups(order: RouteOrder, plan: OrderPlan) -> list[list[int]]:
    if plan.split != "by_brand":
        return [list(range(len(order.lines)))]
    brands: dict[str, list[int]] = {}
    for i, ln in enumerate(order.lines):
        brands.setdefault(ln.brand, []).append(i)
    return list(brands.values())


def usable(stock: Stock, sku: str, wh: Warehouse) -> int:
    """Units of `sku` the warehouse may ship: available above its safety stock."""
    return max(0, stock.get(sku, {}).get(wh.warehouse_id, 0) - wh.safety_stock)


def line_allowed(lp: LinePlan, wh: Warehouse) -> bool:
    return wh.warehouse_id not in lp.exclude and lp.require <= set(wh.capabilities)


def _rows(k: int, order: RouteOrder, plan: OrderPlan, whs: Sequence[Warehouse],
          stock: Stock) -> list[_Row]:
    rows = []
    for group in _groups(order, plan):
        total = sum(order.lines[i].quantity for i in group)
        cov = np.zeros(len(whs))
        ok = np.zeros(len(whs), dtype=np.bool_)
        for j, wh in enumerate(whs):
            fit = [i for i in group if line_allowed(plan.lines[i], wh)]
            ok[j] = bool(fit)
            cov[j] = sum(min(order.lines[i].quantity, usable(stock, order.lines[i].sku, wh))
                         for i in fit) / total
        if plan.split == "together":  # keep lines together: only whole-order warehouses
            ok &= cov >= 1.0
        rows.append(_Row(k, group, cov, ok))
    return rows


def _decide(order: RouteOrder, place: Place, rules: RuleSet, plan: OrderPlan,
            whs: Sequence[Warehouse], stock: Stock, loads: Mapping[str, int],
            rows: list[tuple[_Row, np.ndarray, np.ndarray]]) -> Decision:
    taken: dict[tuple[str, str], int] = {}
    lines: dict[int, LineDecision] = {}
    groups = []
    for g, (row, scores, terms) in enumerate(rows):
        cands = tuple(_candidate(wh, scores[j], terms[j], row, plan, stock, loads, rules,
                                 order) for j, wh in enumerate(whs))
        groups.append(tuple(sorted(cands, key=lambda c: c.score)))
        by_score = [whs[j] for j in np.argsort(scores, kind="stable")
                    if math.isfinite(scores[j])]
        for i in row.lines:
            lines[i] = _line(i, g, order, plan.lines[i], by_score, whs, stock, loads,
                             rules, taken)
    notes = (place.note,) if place.note else ()
    return Decision(order.order_id, place, tuple(lines[i] for i in sorted(lines)),
                    tuple(groups), bool(plan.review), plan.review, plan.rush,
                    rules.version, tuple(plan.matched), notes)


def _under_threshold(wh: Warehouse, loads: Mapping[str, int], rules: RuleSet) -> bool:
    return not (wh.daily_capacity and
                loads.get(wh.warehouse_id, 0) >= rules.load_threshold * wh.daily_capacity)


def _line(i: int, g: int, order: RouteOrder, lp: LinePlan, by_score: list[Warehouse],
          whs: Sequence[Warehouse], stock: Stock, loads: Mapping[str, int],
          rules: RuleSet, taken: dict[tuple[str, str], int]) -> LineDecision:
    ln = order.lines[i]
    by_id = {w.warehouse_id: w for w in whs}
    preferred = [by_id[p] for p in lp.prefer if p in by_id
                 and line_allowed(lp, by_id[p]) and _under_threshold(by_id[p], loads, rules)
                 and stock.get(ln.sku, {}).get(p, 0) > lp.min_stock
                 and usable(stock, ln.sku, by_id[p]) > 0]
    rest = [w for w in by_score if w not in preferred and line_allowed(lp, w)
            and usable(stock, ln.sku, w) > 0]
    order_ = preferred + rest
    need, allocs = ln.quantity, []
    for wh in order_:
        if need == 0:
            break
        free = usable(stock, ln.sku, wh) - taken.get((ln.sku, wh.warehouse_id), 0)
        if free > 0:
            q = min(free, need)
            taken[(ln.sku, wh.warehouse_id)] = taken.get((ln.sku, wh.warehouse_id), 0) + q
            allocs.append((wh.warehouse_id, q))
            need -= q
    return LineDecision(ln.sku, ln.quantity, g, tuple(w.warehouse_id for w in order_),
                        tuple(allocs), _why(allocs, preferred, lp, need),
                        tuple(lp.rules))


def _why(allocs: list[tuple[str, int]], preferred: list[Warehouse], lp: LinePlan,
         short: int) -> str:
    if not allocs:
        return "no allowed warehouse has the stock"
    first = allocs[0][0]
    if any(w.warehouse_id == first for w in preferred):
        return f"preferred by rule {lp.rules[0]!r}" if lp.rules else "preferred"
    why = "best score"
    if lp.prefer:
        why += f" (preferred {', '.join(lp.prefer)} not available)"
    if lp.require or lp.exclude:
        why += f" among warehouses allowed by {', '.join(repr(r) for r in lp.rules)}"
    if short:
        why += f"; {short} units short"
    return why


def _candidate(wh: Warehouse, score: float, terms: np.ndarray, row: _Row, plan: OrderPlan,
               stock: Stock, loads: Mapping[str, int], rules: RuleSet,
               order: RouteOrder) -> Candidate:
    j_terms = {name: float(terms[t]) for t, name in enumerate(kernel.TERMS)}
    lps = [plan.lines[i] for i in row.lines]
    preferred = any(wh.warehouse_id in lp.prefer for lp in lps)
    return Candidate(wh.warehouse_id, wh.name, float(score), j_terms,
                     _note(wh, row, lps, stock, loads, rules, order), preferred)


def _note(wh: Warehouse, row: _Row, lps: list[LinePlan], stock: Stock,
          loads: Mapping[str, int], rules: RuleSet, order: RouteOrder) -> str:
    if not _under_threshold(wh, loads, rules):
        return (f"at its daily threshold ({loads.get(wh.warehouse_id, 0)} orders today, "
                f"capacity {wh.daily_capacity})")
    if all(wh.warehouse_id in lp.exclude for lp in lps):
        return "excluded by a rule"
    missing = sorted(set().union(*(lp.require for lp in lps)) - set(wh.capabilities))
    if missing and not any(line_allowed(lp, wh) for lp in lps):
        return f"lacks {', '.join(missing)}"
    lines = [order.lines[i] for i in row.lines]
    if all(stock.get(ln.sku, {}).get(wh.warehouse_id, 0) <= 0 for ln in lines):
        return "no stock"
    if all(usable(stock, ln.sku, wh) <= 0 for ln in lines):
        return f"below its safety stock ({wh.safety_stock})"
    return ""
