"""Which rules apply to an order, line by line.

Rules are read in order and every matching rule contributes: the first rule that
prefers warehouses sets the preference; required capabilities and exclusions add up;
the first review reason, rush and split setting win. A rule with line conditions (SKU,
prefix, category, brand) applies to the lines that match; one without applies to all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reservation.routing.geography import Place, short
from reservation.routing.rules import Rule, RuleSet


@dataclass(frozen=True)
class RouteLine:
    sku: str
    quantity: int
    category: str = ""
    brand: str = ""


@dataclass(frozen=True)
class Destination:
    province: str = ""
    city: str = ""
    district: str = ""
    region: str = ""
    address: str = ""


@dataclass(frozen=True)
class RouteOrder:
    lines: tuple[RouteLine, ...]
    destination: Destination
    channel: str = ""
    order_id: str = ""
    amount: float = 0.0
    payment: str = ""
    customer_grade: str = ""
    promised_hours: float = 0.0


@dataclass
class LinePlan:
    """What the rules say about one line."""

    prefer: tuple[str, ...] = ()
    min_stock: int = 0
    require: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)
    rules: list[str] = field(default_factory=list)  # names of the rules that applied


@dataclass
class OrderPlan:
    lines: list[LinePlan]
    review: str = ""
    review_rule: str = ""
    rush: bool = False
    split: str = ""
    matched: list[str] = field(default_factory=list)


def plan(rules: RuleSet, order: RouteOrder, place: Place) -> OrderPlan:
    out = OrderPlan([LinePlan() for _ in order.lines])
    if not rules.rules:
        return out
    # What the order-level conditions compare with, once per order, not per rule.
    values = (place.region, short(place.province), short(place.city),
              order.channel.lower(), order.payment.lower(), order.customer_grade.lower())
    passing = rules.passing.get(values)
    if passing is None:
        if len(rules.passing) > PASSING_KEPT:
            rules.passing.clear()
        checks = tuple(zip(ORDER_VALUES, values, strict=True))
        passing = rules.passing[values] = tuple(
            r for r in rules.rules if _values_match(r, checks))
    for rule in passing:
        if not _numbers_match(rule, order):
            continue
        hit = [i for i, ln in enumerate(order.lines) if _line_matches(rule, ln)]
        if not hit:
            continue
        out.matched.append(rule.name)
        _apply(rule, out, hit)
    return out


def _apply(rule: Rule, out: OrderPlan, hit: list[int]) -> None:
    t = rule.then
    for i in hit:
        lp = out.lines[i]
        if t.prefer and not lp.prefer:
            lp.prefer, lp.min_stock = t.prefer, t.min_stock
        lp.require |= t.require
        lp.exclude |= t.exclude
        lp.rules.append(rule.name)
    if t.review and not out.review:
        out.review, out.review_rule = t.review, rule.name
    out.rush = out.rush or t.rush
    if t.split and not out.split:
        out.split = t.split


ORDER_VALUES = ("region", "province", "city", "channel", "payment", "customer_grade")
"""The order-level text conditions, in the order plan() reads them."""
PASSING_KEPT = 10_000


def _values_match(rule: Rule, checks: tuple[tuple[str, str], ...]) -> bool:
    v = rule.when.values
    return not (v and any(name in v and value not in v[name] for name, value in checks))


def _numbers_match(rule: Rule, order: RouteOrder) -> bool:
    n = rule.when.numbers
    if not n:
        return True
    if "amount_above" in n and not order.amount > n["amount_above"]:
        return False
    if "amount_at_most" in n and not order.amount <= n["amount_at_most"]:
        return False
    return not ("promised_hours_at_most" in n and not (
        0 < order.promised_hours <= n["promised_hours_at_most"]))


def _line_matches(rule: Rule, line: RouteLine) -> bool:
    v = rule.when.values
    if "sku" in v and line.sku not in v["sku"]:
        return False
    if "sku_prefix" in v and not any(line.sku.startswith(p) for p in v["sku_prefix"]):
        return False
    if "category" in v and line.category not in v["category"]:
        return False
    return not ("brand" in v and line.brand not in v["brand"])
