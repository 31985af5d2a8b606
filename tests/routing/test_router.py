"""Routing decisions from rules, stock and loads (no I/O; the gRPC tests cover the rest)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from reservation.routing import router, rules
from reservation.routing.geography import geography
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.warehouses import Warehouse, validate


def wh(wid: str, name: str, city: str, **kw) -> Warehouse:
    return validate(Warehouse(wid, name, city=city, **kw), geography())


WHS = [wh("WH-EAST-A", "华东前置仓A", "苏州"), wh("WH-EAST", "华东仓", "南京"),
       wh("WH-COLD", "上海冷仓", "上海", capabilities=("COLD_CHAIN",)),
       wh("WH-HZ", "杭州仓", "杭州", daily_capacity=500, safety_stock=10),
       wh("WH-BJ", "北京仓", "北京")]


def route(document: dict, city: str, stock: Mapping[str, Mapping[str, int]],
          *lines: RouteLine, loads: Mapping[str, int] | None = None,
          **order) -> router.Decision:
    rs = rules.parse(document, WHS)
    o = RouteOrder(tuple(lines), Destination(city=city), **order)
    return router.route_many([o], [geography().resolve(city=city)], rs, WHS, stock,
                             loads or {})[0]


def test_nearest_warehouse_with_stock_wins_without_rules() -> None:
    d = route({"rules": []}, "杭州", {"X": {"WH-HZ": 50, "WH-BJ": 50}}, RouteLine("X", 2))
    assert d.lines[0].allocations == (("WH-HZ", 2),)
    assert d.lines[0].candidates == ("WH-HZ", "WH-BJ")


def test_overflow_past_daily_capacity_goes_to_nearest_under_threshold() -> None:
    stock = {"X": {"WH-HZ": 50, "WH-EAST-A": 50, "WH-BJ": 50}}
    d = route({"rules": []}, "杭州", stock, RouteLine("X", 1), loads={"WH-HZ": 500})
    assert d.lines[0].allocations == (("WH-EAST-A", 1),)
    hz = next(c for c in d.groups[0] if c.warehouse_id == "WH-HZ")
    assert "daily threshold" in hz.note


@pytest.mark.parametrize(("threshold", "load", "chosen"), [
    ({}, 499, "WH-HZ"),             # the default threshold: 1.0 x 500 orders
    ({}, 500, "WH-EAST-A"),
    ({"load_threshold": 0.8}, 399, "WH-HZ"),   # 0.8 x 500 = 400
    ({"load_threshold": 0.8}, 400, "WH-EAST-A"),
])
def test_the_daily_threshold_stops_a_warehouse_at_exactly_threshold_x_capacity(
        threshold: dict, load: int, chosen: str) -> None:
    # A warehouse takes orders while today's count is under load_threshold x
    # daily_capacity (docs/concepts/routing.md): the last order below it still goes to
    # Hangzhou, the one at it overflows to the nearest other warehouse. The load's
    # weight is 0, so the stop is the only way the count can move the order.
    doc = {"rules": [], "weights": {"load": 0.0}, **threshold}
    stock = {"X": {"WH-HZ": 50, "WH-EAST-A": 50, "WH-BJ": 50}}
    d = route(doc, "杭州", stock, RouteLine("X", 1), loads={"WH-HZ": load})
    assert d.lines[0].allocations == ((chosen, 1),)


def test_below_safety_stock_overflows_to_next_best() -> None:
    d = route({"rules": []}, "杭州", {"X": {"WH-HZ": 10, "WH-EAST-A": 50}}, RouteLine("X", 1))
    assert d.lines[0].allocations == (("WH-EAST-A", 1),)
    hz = next(c for c in d.groups[0] if c.warehouse_id == "WH-HZ")
    assert "safety stock" in hz.note


def test_prefer_with_min_stock() -> None:
    doc = {"rules": [{"when": {"sku_prefix": "BP-"},
                      "then": {"prefer": ["华东仓"], "min_stock": 5}}]}
    stock = {"BP-1": {"WH-EAST": 6, "WH-HZ": 100}}
    assert route(doc, "杭州", stock, RouteLine("BP-1", 1)).lines[0].allocations == (
        ("WH-EAST", 1),)
    stock = {"BP-1": {"WH-EAST": 5, "WH-HZ": 100}}
    assert route(doc, "杭州", stock, RouteLine("BP-1", 1)).lines[0].allocations == (
        ("WH-HZ", 1),)


def test_split_by_brand_routes_each_brand_on_its_own() -> None:
    doc = {"rules": [{"then": {"split": "by_brand"}}]}
    stock = {"A": {"WH-HZ": 50}, "B": {"WH-BJ": 50}}
    d = route(doc, "杭州", stock, RouteLine("A", 1, brand="a"), RouteLine("B", 1, brand="b"))
    assert len(d.groups) == 2
    assert d.warehouses() == ["WH-BJ", "WH-HZ"]


def test_review_and_rush_come_from_order_conditions() -> None:
    doc = {"rules": [{"when": {"amount_above": 500, "payment": ["CREDIT_CARD"]},
                      "then": {"review": "big card order", "rush": True}}]}
    stock = {"X": {"WH-HZ": 50}}
    d = route(doc, "杭州", stock, RouteLine("X", 1), amount=501, payment="CREDIT_CARD")
    assert (d.review, d.review_reason, d.rush) == (True, "big card order", True)
    d = route(doc, "杭州", stock, RouteLine("X", 1), amount=500, payment="CREDIT_CARD")
    assert not d.review


def test_short_line_says_so() -> None:
    d = route({"rules": []}, "杭州", {"X": {"WH-BJ": 1}}, RouteLine("X", 3))
    assert d.lines[0].short == 2 and not d.routed


def test_region_and_province_conditions_match_the_resolved_destination() -> None:
    doc = {"rules": [{"when": {"region": ["华北"]}, "then": {"prefer": ["杭州仓"]}},
                     {"when": {"province": ["浙江省"]}, "then": {"exclude": ["WH-HZ"]}}]}
    stock = {"X": {"WH-HZ": 50, "WH-BJ": 50, "WH-EAST-A": 50}}
    assert route(doc, "北京", stock, RouteLine("X", 1)).lines[0].allocations == (("WH-HZ", 1),)
    d = route(doc, "杭州", stock, RouteLine("X", 1))
    assert d.lines[0].allocations == (("WH-EAST-A", 1),)
    assert "WH-HZ" not in d.lines[0].candidates


def test_unexplained_decision_is_the_explained_one_without_its_explanation() -> None:
    """explain=False (Reserve's default): the same lines, candidates and allocations, no
    groups worked out and no decided_by."""
    rs = rules.parse({"rules": [{"name": "east", "when": {"city": ["杭州"]},
                                 "then": {"prefer": ["WH-EAST-A"]}}]}, WHS)
    o = RouteOrder((RouteLine("X", 60), RouteLine("Y", 1)), Destination(city="杭州"))
    stock = {"X": {"WH-HZ": 50, "WH-EAST-A": 20, "WH-BJ": 50}, "Y": {"WH-BJ": 5}}
    place = [geography().resolve(city="杭州")]
    explained, bare = (router.route_many([o], place, rs, WHS, stock, {}, explain=e)[0]
                       for e in (True, False))
    assert explained.explained and not bare.explained and not bare.groups
    assert [ln.decided_by for ln in bare.lines] == ["", ""]
    assert all(ln.decided_by for ln in explained.lines)
    assert [ln._replace(decided_by="") for ln in explained.lines] == list(bare.lines)
    assert (bare.routed, bare.matched_rules) == (explained.routed, explained.matched_rules)
