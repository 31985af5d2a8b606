"""The seed articles' routing rules, each through the gRPC API against real Redis."""

from __future__ import annotations

from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.reservations import load
from tests.helpers.routing import RoutingStubs, allocations, put_seed_rules, route_request


async def route(stubs: RoutingStubs, req: rpb.RouteRequest) -> rpb.RoutingDecision:
    return (await stubs.routing.Route(req, timeout=10)).decision


async def test_milk_powder_to_shanghai_hangzhou_nanjing_goes_to_east_forward_a(
        rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, *[("MILK-1", wh, 100) for wh in
                         ("WH-EAST-A", "WH-EAST", "WH-HZ", "WH-BJ", "WH-SH-COLD")])
    for city in ("上海", "杭州", "南京"):
        d = await route(rstubs, route_request(city, ("MILK-1", 2, "奶粉")))
        assert allocations(d) == [("MILK-1", "WH-EAST-A", 2)], city
        assert d.lines[0].decided_by == "preferred by rule '奶粉 East China'"
        assert d.lines[0].rules == ["奶粉 East China"]
    # Elsewhere the rule does not apply: nearest wins.
    d = await route(rstubs, route_request("北京", ("MILK-1", 2, "奶粉")))
    assert allocations(d) == [("MILK-1", "WH-BJ", 2)]


async def test_cold_chain_goods_only_go_to_a_cold_chain_warehouse(
        rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, ("FISH-1", "WH-BJ", 100), ("FISH-1", "WH-SH-COLD", 100))
    d = await route(rstubs, route_request("北京", ("FISH-1", 1, "冷链")))
    assert allocations(d) == [("FISH-1", "WH-SH-COLD", 1)]
    assert list(d.lines[0].candidates) == ["WH-SH-COLD"]
    bj = next(c for c in d.groups[0].candidates if c.warehouse_id == "WH-BJ")
    assert not bj.allowed and "lacks COLD_CHAIN" in bj.note
    # With no cold stock anywhere the line is not routed to an ordinary warehouse.
    await load(rstubs, ("FISH-2", "WH-BJ", 100))
    d = await route(rstubs, route_request("北京", ("FISH-2", 1, "冷链")))
    assert allocations(d) == [] and not d.routed


# "A warehouse past 500 orders today overflows to the nearest warehouse under its
# threshold" is tests/routing/test_reserve_routing.py: 500 routed Reserves fill it.


async def test_bp_prefix_with_stock_above_5_goes_to_east_china(rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, ("BP-100", "WH-EAST", 6), ("BP-100", "WH-GZ", 100))
    d = await route(rstubs, route_request("广州", ("BP-100", 1, "")))
    assert allocations(d) == [("BP-100", "WH-EAST", 1)]
    await load(rstubs, ("BP-200", "WH-EAST", 5), ("BP-200", "WH-GZ", 100))
    d = await route(rstubs, route_request("广州", ("BP-200", 1, "")))
    assert allocations(d) == [("BP-200", "WH-GZ", 1)]
    assert "preferred WH-EAST not available" in d.lines[0].decided_by


async def test_amount_above_500_by_credit_card_goes_to_review(rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, ("TV-1", "WH-GZ", 10))
    d = await route(rstubs, route_request("广州", ("TV-1", 1, ""), amount=501,
                                          payment_method="CREDIT_CARD"))
    assert d.review and d.review_reason == "amount above 500 paid by credit card"
    assert allocations(d) == [("TV-1", "WH-GZ", 1)]
    for kw in ({"amount": 500, "payment_method": "CREDIT_CARD"},
               {"amount": 900, "payment_method": "ALIPAY"}):
        d = await route(rstubs, route_request("广州", ("TV-1", 1, ""), **kw))
        assert not d.review


async def test_warehouse_below_safety_stock_overflows_to_next_best(
        rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, ("PEN-1", "WH-BJ", 3), ("PEN-1", "WH-EAST", 50))
    d = await route(rstubs, route_request("北京", ("PEN-1", 1, "")))
    assert allocations(d) == [("PEN-1", "WH-EAST", 1)]
    bj = next(c for c in d.groups[0].candidates if c.warehouse_id == "WH-BJ")
    assert "safety stock" in bj.note
    await load(rstubs, ("PEN-1", "WH-BJ", 1))  # 4 > safety stock 3: Beijing again
    d = await route(rstubs, route_request("北京", ("PEN-1", 1, "")))
    assert allocations(d) == [("PEN-1", "WH-BJ", 1)]
