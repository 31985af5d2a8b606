"""Money crosses the API in exact cents: RouteRequest.amount_cents,
RouteAttributes.amount_cents and Warehouse.cost_per_order_cents; the deprecated double
fields in yuan are still honoured; both sent and different is INVALID_ARGUMENT naming
the cents field, and nothing changes."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from reservation.v1 import reservation_service_pb2 as rspb
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import RESERVED, levels, line, load, order
from tests.helpers.routing import RoutingStubs, struct

# One cent above 500 yuan is above; exactly 500 is not (a rule's amounts are in yuan).
CARD_RULE = {"rules": [{"name": "big orders", "when": {"amount_above": 500},
                        "then": {"review": "amount above 500"}}]}


async def put_rule(rstubs: RoutingStubs) -> None:
    await rstubs.routing_admin.PutRoutingRules(
        rpb.PutRoutingRulesRequest(document=struct(CARD_RULE)), timeout=10)


def route(**money: Any) -> rpb.RouteRequest:
    return rpb.RouteRequest(channel="tmall", order_id="M-1",
                            lines=[rpb.RouteLine(sku="TEA-1", quantity=1)],
                            destination=rpb.Destination(city="杭州"), **money)


async def review(rstubs: RoutingStubs, req: rpb.RouteRequest) -> bool:
    return (await rstubs.routing.Route(req, timeout=10)).decision.review


async def test_route_reads_exact_cents(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    await put_rule(rstubs)
    assert await review(rstubs, route(amount_cents=50001))
    assert not await review(rstubs, route(amount_cents=50000))
    # 0 cents, set, is an amount of 0 (not "unset"): the deprecated field is not read.
    assert not await review(rstubs, route(amount_cents=0))


async def test_the_deprecated_yuan_field_is_still_honoured(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    await put_rule(rstubs)
    assert await review(rstubs, route(amount=500.01))
    assert not await review(rstubs, route(amount=500.0))
    # Both, agreeing to the cent, are accepted.
    assert await review(rstubs, route(amount=500.01, amount_cents=50001))


@pytest.mark.parametrize("money", [{"amount": 12.5, "amount_cents": 1200},
                                   {"amount_cents": -1},
                                   {"amount_cents": 10**14 + 1}])
async def test_bad_cents_name_the_field(rstubs: RoutingStubs, money: dict[str, Any]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rstubs.routing.Route(route(**money), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == ["amount_cents"]


def routed_reserve(order_id: str, **money: Any) -> rspb.ReserveRequest:
    req = order(order_id, line("TEA-1", 1))
    req.destination.city = "杭州"
    req.route.CopyFrom(rspb.RouteAttributes(**money))
    return req


async def test_reserve_routes_on_exact_cents(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    await put_rule(rstubs)
    reply = await rstubs.rs.Reserve(routed_reserve("M-2", amount_cents=50001), timeout=10)
    assert reply.reservation.state == RESERVED
    assert reply.routing.review
    old = await rstubs.rs.Reserve(routed_reserve("M-3", amount=500.01), timeout=10)
    assert old.routing.review


async def test_reserve_with_disagreeing_amounts_holds_nothing(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rstubs.rs.Reserve(routed_reserve("M-4", amount=9.99, amount_cents=1000),
                                timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == ["route.amount_cents"]
    assert (await levels(rstubs, "TEA-1"))["WH-HZ"].held == 0


async def test_warehouse_cost_in_cents_round_trips(rstubs: RoutingStubs) -> None:
    admin = rstubs.routing_admin
    put = await admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=rpb.Warehouse(
        warehouse_id="WH-CENTS", name="cents", city="杭州", cost_per_order_cents=1229)), timeout=10)
    assert put.warehouse.cost_per_order_cents == 1229
    assert put.warehouse.cost_per_order == pytest.approx(12.29)
    got = (await admin.GetWarehouse(rpb.GetWarehouseRequest(warehouse_id="WH-CENTS"),
                                    timeout=10)).warehouse
    assert got.cost_per_order_cents == 1229
    # The deprecated yuan field alone still works, and answers carry cents too.
    old = await admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=rpb.Warehouse(
        warehouse_id="WH-YUAN", name="yuan", city="杭州", cost_per_order=3.5)), timeout=10)
    assert old.warehouse.cost_per_order_cents == 350


async def test_warehouse_cost_disagreeing_is_refused(rstubs: RoutingStubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rstubs.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(
            warehouse=rpb.Warehouse(warehouse_id="WH-BAD", name="bad", city="杭州", cost_per_order=1.0,
                                    cost_per_order_cents=99)), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == ["warehouse.cost_per_order_cents"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await rstubs.routing_admin.GetWarehouse(
            rpb.GetWarehouseRequest(warehouse_id="WH-BAD"), timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_backtest_costs_are_exact_cents(rstubs: RoutingStubs) -> None:
    """Ten orders that shipped from a warehouse costing 0.10 yuan move to one costing
    0.20 under the candidate: 100 -> 200 cents exactly (ten 0.1s summed as floats are
    0.9999999999999999)."""
    admin = rstubs.routing_admin
    for wh, cost, city in (("WH-DIME", 10, "上海"), ("WH-TWO", 20, "杭州")):
        await admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=rpb.Warehouse(
            warehouse_id=wh, name=wh, city=city, cost_per_order_cents=cost)), timeout=10)
    await load(rstubs, ("TEA-7", "WH-DIME", 100), ("TEA-7", "WH-TWO", 100))
    candidate = {"rules": [{"name": "tea via two", "when": {"sku": ["TEA-7"]},
                            "then": {"prefer": ["WH-TWO"]}}]}
    rows = [rpb.HistoricalOrder(order_id=f"H{i}", channel="tmall",
                                destination=rpb.Destination(city="上海"),
                                lines=[rpb.RouteLine(sku="TEA-7", quantity=1)],
                                shipped_warehouse_id="WH-DIME") for i in range(10)]

    async def requests():  # type: ignore[no-untyped-def]
        yield rpb.BacktestRoutingRequest(document=struct(candidate), orders=rows)

    r = await admin.BacktestRouting(requests(), timeout=30)
    assert (r.cost_before_cents, r.cost_after_cents) == (100, 200)
