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
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from reservation.routing import kernel, matching
from reservation.routing.decision import Decision, Explained, LineDecision
from reservation.routing.geography import Place
from reservation.routing.matching import LinePlan, OrderPlan, RouteLine, RouteOrder
from reservation.routing.rules import RuleSet
from reservation.routing.warehouses import Warehouse

Stock = Mapping[str, Mapping[str, int]]  # sku -> warehouse id -> available units


@dataclass(frozen=True)
class Table:
    """The active warehouses as the router uses them, built once per warehouse version
    (Routing caches it): columns for the kernel, ids, capabilities, an index by id."""

    warehouses: tuple[Warehouse, ...]
    ids: tuple[str, ...]
    names: tuple[str, ...]
    index: Mapping[str, int]
    capabilities: tuple[frozenset[str], ...]
    safety: tuple[int, ...]
    capacity: tuple[int, ...]
    columns: tuple[np.ndarray, ...]     # lat, lon, capacity, cost, priority (float64)

    @property
    def needs_loads(self) -> bool:
        """Loads change a decision only where a daily capacity is set."""
        return any(self.capacity)


def table(warehouses: Sequence[Warehouse]) -> Table:
    whs = tuple(w for w in warehouses if w.active)

    def col(values: list[float]) -> np.ndarray:
        return np.array(values, dtype=np.float64)

    return Table(whs, tuple(w.warehouse_id for w in whs), tuple(w.name for w in whs),
                 {w.warehouse_id: j for j, w in enumerate(whs)},
                 tuple(frozenset(w.capabilities) for w in whs),
                 tuple(w.safety_stock for w in whs), tuple(w.daily_capacity for w in whs),
                 (col([w.latitude for w in whs]), col([w.longitude for w in whs]),
                  col([float(w.daily_capacity) for w in whs]),
                  col([w.cost_per_order for w in whs]), col([float(w.priority) for w in whs])))


@dataclass
class _Line:
    """One line against every warehouse: may it go there (rules), units there."""

    allowed: list[bool]
    available: list[int]    # raw available units
    usable: list[int]       # above the warehouse's safety stock


@dataclass
class _Row:
    """One (order, group of lines) row of the kernel's arrays."""

    order: int
    lines: list[int]
    coverage: list[float]
    allowed: list[bool]


def route_many(orders: Sequence[RouteOrder], places: Sequence[Place], rules: RuleSet,
               warehouses: Sequence[Warehouse], stock: Stock,
               loads: Mapping[str, int], tab: Table | None = None,
               explain: bool = True) -> list[Decision]:
    """Decisions for `orders`, all scored in one kernel call. `tab` is `table(warehouses)`
    when the caller keeps one (Routing does, per warehouse version). `explain=False`:
    the decision alone, no explanation (no groups: no per-warehouse terms or notes; no
    decided_by), for a backtest or a Reserve that reads only where each order goes."""
    t = tab or table(warehouses)
    m = len(t.ids)
    plans = [matching.plan(rules, o, p) for o, p in zip(orders, places, strict=True)]
    # Lines of one SKU under the same exclusions and requirements have the same facts,
    # and the same quantity the same coverage: a batch of orders repeats SKUs, so each
    # is worked out once per call (a backtest decides thousands of orders per call).
    seen: dict[Any, _Line] = {}
    covered: dict[tuple[int, int, bool], tuple[list[float], list[bool]]] = {}
    facts = [[_facts_of(ln, lp, t, stock, seen) for ln, lp in zip(o.lines, pl.lines,
                                                                    strict=True)]
             for o, pl in zip(orders, plans, strict=True)]
    rows = [row for k, (o, pl) in enumerate(zip(orders, plans, strict=True))
            for row in _rows(k, o, pl, facts[k], covered)]
    load = np.array([float(loads.get(w, 0)) for w in t.ids], dtype=np.float64)
    lat, lon, capacity, cost, priority = t.columns
    cols = (lat, lon, load, capacity, cost, priority)
    dest_lat = np.array([places[r.order].latitude for r in rows], dtype=np.float64)
    dest_lon = np.array([places[r.order].longitude for r in rows], dtype=np.float64)
    coverage = np.array([r.coverage for r in rows], dtype=np.float64).reshape(len(rows), m)
    allowed = np.array([r.allowed for r in rows], dtype=np.bool_).reshape(len(rows), m)
    weights = rules.weight_array
    # numba's Dispatcher stubs do not know the compiled functions' signatures.
    score: Any = kernel.score_numba
    terms_of: Any = kernel.terms_numba
    scores, _ = score(dest_lat, dest_lon, *cols, coverage, allowed, weights,
                      rules.load_threshold)
    terms = terms_of(dest_lat, dest_lon, *cols, coverage) if explain else None
    full = [bool(c) and loads.get(w, 0) >= rules.load_threshold * c
            for w, c in zip(t.ids, t.capacity, strict=True)]
    by_order: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        by_order.setdefault(row.order, []).append(r)
    score_rows = scores.tolist()
    term_rows = terms.tolist() if terms is not None else [[]] * len(rows)
    return [_decide(o, places[k], rules, plans[k], facts[k], t, loads, full,
                    [(rows[r], score_rows[r], term_rows[r]) for r in by_order.get(k, [])],
                    explain)
            for k, o in enumerate(orders)]


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


def _facts_of(ln: RouteLine, lp: LinePlan, t: Table, stock: Stock,
              seen: dict[Any, _Line]) -> _Line:
    key: Any = ((ln.sku, frozenset(lp.exclude), frozenset(lp.require))
                if lp.exclude or lp.require else ln.sku)
    found = seen.get(key)
    if found is None:
        found = seen[key] = _line_facts(ln, lp, t, stock)
    return found


def _line_facts(ln: RouteLine, lp: LinePlan, t: Table, stock: Stock) -> _Line:
    have = stock.get(ln.sku, {})
    available = [have.get(w, 0) for w in t.ids]
    usable_ = [max(0, a - s) for a, s in zip(available, t.safety, strict=True)]
    if lp.exclude or lp.require:
        ok = [w not in lp.exclude and lp.require <= caps
              for w, caps in zip(t.ids, t.capabilities, strict=True)]
    else:
        ok = [True] * len(t.ids)
    return _Line(ok, available, usable_)


def _rows(k: int, order: RouteOrder, plan: OrderPlan, facts: list[_Line],
          covered: dict[tuple[int, int, bool], tuple[list[float], list[bool]]]
          ) -> list[_Row]:
    rows = []
    together = plan.split == "together"  # keep lines together: whole-order warehouses only
    for group in _groups(order, plan):
        if len(group) == 1:  # the common case, without the per-warehouse line loop
            f, q = facts[group[0]], order.lines[group[0]].quantity
            key = (id(f), q, together)
            found = covered.get(key)
            if found is None:
                cov = [min(q, u) / q if ok else 0.0
                       for u, ok in zip(f.usable, f.allowed, strict=True)]
                allowed = [ok and (not together or c >= 1.0)
                           for ok, c in zip(f.allowed, cov, strict=True)]
                found = covered[key] = (cov, allowed)
            rows.append(_Row(k, group, *found))
            continue
        # Several lines: per warehouse, the share of the group's units it can ship
        # (lines it may take, up to their quantity), as arrays (lines x warehouses).
        qty = np.array([order.lines[i].quantity for i in group], dtype=np.float64)
        usable_ = np.array([facts[i].usable for i in group], dtype=np.float64)
        ok = np.array([facts[i].allowed for i in group], dtype=np.bool_)
        share = (np.minimum(usable_, qty[:, None]) * ok).sum(axis=0) / qty.sum()
        fit = cast(list[bool], ok.any(axis=0).tolist())
        cov = share.tolist()
        rows.append(_Row(k, group, cov, [bool(f) and (not together or c >= 1.0)
                                         for f, c in zip(fit, cov, strict=True)]))
    return rows


def _decide(order: RouteOrder, place: Place, rules: RuleSet, plan: OrderPlan,
            facts: list[_Line], t: Table, loads: Mapping[str, int], full: list[bool],
            rows: list[tuple[_Row, list[float], list[list[float]]]],
            explain: bool = True) -> Decision:
    taken: dict[tuple[str, int], int] = {}
    lines: dict[int, LineDecision] = {}
    groups = []
    for g, (row, scores, terms) in enumerate(rows):
        # Stable by score: ties (and every +inf) keep the warehouses' order.
        order_ = sorted(range(len(t.ids)), key=scores.__getitem__)
        if explain:  # unasked, no group's candidates, notes or terms are worked out
            preferred = frozenset().union(*(plan.lines[i].prefer for i in row.lines))
            groups.append(Explained(t.ids, t.names, scores, terms,
                                    _notes(row, plan, facts, t, loads, full), preferred,
                                    order_))
        by_score = [j for j in order_ if math.isfinite(scores[j])]
        for i in row.lines:
            lines[i] = _line(i, g, order, plan.lines[i], facts[i], by_score, t, full,
                             taken, explain)
    notes_ = (place.note,) if place.note else ()
    return Decision(order.order_id, place, tuple(lines[i] for i in sorted(lines)),
                    tuple(groups), bool(plan.review), plan.review, plan.rush,
                    rules.version, tuple(plan.matched), notes_)


def _line(i: int, g: int, order: RouteOrder, lp: LinePlan, f: _Line, by_score: list[int],
          t: Table, full: list[bool], taken: dict[tuple[str, int], int],
          explain: bool = True) -> LineDecision:
    ln = order.lines[i]
    preferred = [j for j in (t.index.get(p) for p in lp.prefer) if j is not None
                 and f.allowed[j] and not full[j] and f.available[j] > lp.min_stock
                 and f.usable[j] > 0]
    rest = [j for j in by_score if j not in preferred and f.allowed[j] and f.usable[j] > 0]
    order_ = preferred + rest
    need, allocs = ln.quantity, []
    for j in order_:
        if need == 0:
            break
        free = f.usable[j] - taken.get((ln.sku, j), 0)
        if free > 0:
            q = min(free, need)
            taken[(ln.sku, j)] = taken.get((ln.sku, j), 0) + q
            allocs.append((t.ids[j], q))
            need -= q
    why = _why(allocs, preferred, t, lp, need) if explain else ""
    return LineDecision(ln.sku, ln.quantity, g, tuple(t.ids[j] for j in order_),
                        tuple(allocs), why, tuple(lp.rules))


def _why(allocs: list[tuple[str, int]], preferred: list[int], t: Table, lp: LinePlan,
         short: int) -> str:
    if not allocs:
        return "no allowed warehouse has the stock"
    first = allocs[0][0]
    if any(t.ids[j] == first for j in preferred):
        return f"preferred by rule {lp.rules[0]!r}" if lp.rules else "preferred"
    why = "best score"
    if lp.prefer:
        why += f" (preferred {', '.join(lp.prefer)} not available)"
    if lp.require or lp.exclude:
        why += f" among warehouses allowed by {', '.join(repr(r) for r in lp.rules)}"
    if short:
        why += f"; {short} units short"
    return why


def _notes(row: _Row, plan: OrderPlan, facts: list[_Line], t: Table,
           loads: Mapping[str, int], full: list[bool]) -> list[str]:
    """Why each warehouse is not a candidate for the row ('' when it is one)."""
    lps = [plan.lines[i] for i in row.lines]
    fs = [facts[i] for i in row.lines]
    required = frozenset().union(*(lp.require for lp in lps))
    excluded = frozenset.intersection(*(frozenset(lp.exclude) for lp in lps))
    if len(fs) == 1:
        available, usable_, allowed = fs[0].available, fs[0].usable, fs[0].allowed
    else:  # per warehouse: the most of any line (a note holds only if it holds for all)
        available = [max(c) for c in zip(*(f.available for f in fs), strict=True)]
        usable_ = [max(c) for c in zip(*(f.usable for f in fs), strict=True)]
        allowed = [any(c) for c in zip(*(f.allowed for f in fs), strict=True)]
    out = []
    for j, w in enumerate(t.ids):
        if full[j]:
            out.append(f"at its daily threshold ({loads.get(w, 0)} orders today, "
                       f"capacity {t.capacity[j]})")
        elif w in excluded:
            out.append("excluded by a rule")
        elif required and not allowed[j] and required - t.capabilities[j]:
            out.append(f"lacks {', '.join(sorted(required - t.capabilities[j]))}")
        elif available[j] <= 0:
            out.append("no stock")
        elif usable_[j] <= 0:
            out.append(f"below its safety stock ({t.safety[j]})")
        else:
            out.append("")
    return out
