"""Reserve with a destination: routed and held in the same call, loads counted with it."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from reservation.domain.models import OrderLine, ReserveCommand
from reservation.routing.matching import Destination, RouteLine, RouteOrder
from reservation.routing.service import Routing, today
from reservation.server.app import App
from reservation.v1 import reservation_service_pb2 as rspb
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import (
    REJECTED,
    RESERVED,
    allocations,
    levels,
    line,
    load,
    order,
    release,
)
from tests.helpers.routing import RoutingStubs, put_seed_rules, route_request
from tests.helpers.routing import allocations as allocations_of


def routed(order_id: str, city: str, *lines: tuple[str, int, str],
           detail: int = rpb.ROUTING_DETAIL_UNSPECIFIED, **attrs) -> rspb.ReserveRequest:
    req = order(order_id, *[line(s, q) for s, q, _ in lines])
    req.destination.city = city
    req.routing_detail = detail
    req.route.CopyFrom(rspb.RouteAttributes(
        lines=[rpb.RouteLine(category=c) for _, _, c in lines], **attrs))
    return req


async def orders_today(stubs: RoutingStubs) -> dict[str, int]:
    reply = await stubs.routing_admin.ListWarehouses(rpb.ListWarehousesRequest())
    return {w.warehouse_id: w.orders_today for w in reply.warehouses}


async def test_reserve_with_a_destination_holds_at_the_routed_warehouse(
        rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-HZ", 10))
    reply = await rstubs.rs.Reserve(routed("A-1", "杭州", ("MILK-1", 2, "奶粉"),
                                           detail=rpb.ROUTING_DETAIL_EXPLAINED), timeout=10)
    assert reply.reservation.state == RESERVED
    assert allocations(reply.reservation) == [("MILK-1", "WH-EAST-A", 2)]
    assert reply.routing.lines[0].decided_by == "preferred by rule '奶粉 East China'"
    by_wh = await levels(rstubs, "MILK-1")
    assert (by_wh["WH-EAST-A"].held, by_wh["WH-HZ"].held) == (2, 0)
    assert (await orders_today(rstubs))["WH-EAST-A"] == 1


async def test_the_same_request_again_holds_nothing_more_and_counts_once(
        rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    first = await rstubs.rs.Reserve(routed("A-2", "杭州", ("TEA-1", 1, "")), timeout=10)
    again = await rstubs.rs.Reserve(routed("A-2", "杭州", ("TEA-1", 1, "")), timeout=10)
    assert again.reservation.reservation_id == first.reservation.reservation_id
    assert (await levels(rstubs, "TEA-1"))["WH-HZ"].held == 1
    assert (await orders_today(rstubs))["WH-HZ"] == 1


async def test_a_routed_warehouse_sold_out_meanwhile_falls_to_the_next_candidate(
        rstubs: RoutingStubs, app: App) -> None:
    """The script tries the routed candidates in order: stock gone from the first since
    the decision was made is taken from the second, in the same script call."""
    await load(rstubs, ("TEA-2", "WH-HZ", 1), ("TEA-2", "WH-EAST-A", 5))
    routing = Routing(app.store, app.settings)
    [decision] = await routing.route([RouteOrder((RouteLine("TEA-2", 1),),
                                                 Destination(city="杭州"))])
    assert decision.lines[0].candidates[:2] == ("WH-HZ", "WH-EAST-A")
    # Another order takes Hangzhou's last unit before the routed one is held.
    await rstubs.rs.Reserve(order("other", line("TEA-2", 1, "WH-HZ")), timeout=10)
    cmd = ReserveCommand("jd", "A-3", "buyer-1", (OrderLine("TEA-2", 1),),
                         routes=(("TEA-2", ",".join(decision.lines[0].candidates)),),
                         load_day=today())
    result = await app.reservations.reserve(cmd)
    assert [(a.warehouse_id, a.quantity) for a in result.allocations] == [("WH-EAST-A", 1)]
    assert (await orders_today(rstubs))["WH-EAST-A"] == 1


async def test_cold_chain_with_no_cold_stock_is_refused_not_held_elsewhere(
        rstubs: RoutingStubs) -> None:
    await put_seed_rules(rstubs)
    await load(rstubs, ("FISH-9", "WH-BJ", 10))
    reply = await rstubs.rs.Reserve(routed("A-4", "北京", ("FISH-9", 1, "冷链")), timeout=10)
    assert reply.reservation.state == REJECTED
    assert (await levels(rstubs, "FISH-9"))["WH-BJ"].held == 0
    assert not reply.routing.routed


@pytest.mark.slow
async def test_warehouse_past_500_routed_orders_today_overflows_to_nearest_under_it(
        rstubs: RoutingStubs) -> None:
    """The seed rule end to end: 500 orders reserved with routing fill Hangzhou's daily
    capacity; the 501st goes to the nearest warehouse under its threshold (Suzhou)."""
    await put_seed_rules(rstubs)
    await load(rstubs, ("TEA-5", "WH-HZ", 1000), ("TEA-5", "WH-EAST-A", 1000),
               ("TEA-5", "WH-BJ", 1000))
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> str:
        async with gate:
            r = await rstubs.rs.Reserve(routed(f"P-{i}", "杭州", ("TEA-5", 1, "")), timeout=30)
            return r.reservation.allocations[0].warehouse_id

    placed = await asyncio.gather(*(one(i) for i in range(500)))
    assert set(placed) == {"WH-HZ"}
    assert (await orders_today(rstubs))["WH-HZ"] == 500
    nxt = await rstubs.rs.Reserve(routed("P-500", "杭州", ("TEA-5", 1, ""),
                                         detail=rpb.ROUTING_DETAIL_EXPLAINED), timeout=10)
    assert allocations(nxt.reservation) == [("TEA-5", "WH-EAST-A", 1)]
    hz = next(c for c in nxt.routing.groups[0].candidates if c.warehouse_id == "WH-HZ")
    assert not hz.allowed and "500 orders today" in hz.note
    # A release does not give the day's count back: the warehouse did that order's work.
    await release(rstubs, "P-0")
    d = (await rstubs.routing.Route(route_request("杭州", ("TEA-5", 1, "")))).decision
    assert d.lines[0].allocations[0].warehouse_id == "WH-EAST-A"


async def test_bad_destination_is_invalid_argument_and_holds_nothing(
        rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-6", "WH-HZ", 10))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rstubs.rs.Reserve(routed("A-6", "火星", ("TEA-6", 1, "")), timeout=10)
    assert bad_request_fields(err.value) == ["destination"]
    assert (await levels(rstubs, "TEA-6"))["WH-HZ"].held == 0


async def test_batch_with_a_destination_is_refused_per_order(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-7", "WH-HZ", 10))
    reply = await rstubs.rs.ReserveBatch(rspb.ReserveBatchRequest(requests=[
        routed("B-1", "杭州", ("TEA-7", 1, "")), order("B-2", line("TEA-7", 1))]), timeout=10)
    assert reply.results[0].error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "destination" in reply.results[0].error_message
    assert reply.results[1].reservation.state == RESERVED


async def test_a_routed_reserve_right_after_a_restock_reads_the_stock_again(
        rstubs: RoutingStubs) -> None:
    """Routing's recent view of a SKU lacks a warehouse stocked since: the order does
    not fit the view, so the decision is made again on a fresh read (not refused)."""
    await load(rstubs, ("TEA-8", "WH-HZ", 1))
    first = await rstubs.rs.Reserve(routed("A-8", "杭州", ("TEA-8", 1, "")), timeout=10)
    assert allocations(first.reservation) == [("TEA-8", "WH-HZ", 1)]
    await load(rstubs, ("TEA-8", "WH-BJ", 100))
    second = await rstubs.rs.Reserve(routed("A-9", "杭州", ("TEA-8", 1, "")), timeout=10)
    assert second.reservation.state == RESERVED
    assert allocations(second.reservation) == [("TEA-8", "WH-BJ", 1)]
    assert second.routing.routed


async def test_a_recent_view_that_overstates_stock_holds_only_what_is_there(
        rstubs: RoutingStubs) -> None:
    """Another order empties the routed warehouse between the view's read and the next
    routed order (a plain Reserve, which routing's view does not see): the script takes
    the next candidate, so nothing is held that is not there."""
    await load(rstubs, ("TEA-9", "WH-HZ", 100), ("TEA-9", "WH-BJ", 100))
    first = await rstubs.rs.Reserve(routed("A-10", "杭州", ("TEA-9", 1, "")), timeout=10)
    assert allocations(first.reservation) == [("TEA-9", "WH-HZ", 1)]
    await rstubs.rs.Reserve(order("plain-10", line("TEA-9", 99, "WH-HZ")), timeout=10)
    nxt = await rstubs.rs.Reserve(routed("A-11", "杭州", ("TEA-9", 1, "")), timeout=10)
    assert allocations(nxt.reservation) == [("TEA-9", "WH-BJ", 1)]
    by_wh = await levels(rstubs, "TEA-9")
    assert (by_wh["WH-HZ"].available, by_wh["WH-HZ"].held) == (0, 100)
    assert (by_wh["WH-BJ"].available, by_wh["WH-BJ"].held) == (99, 1)


async def test_the_explanation_only_when_asked_for(rstubs: RoutingStubs) -> None:
    """Unset or ROUTING_DETAIL_DECISION: where each line goes, no groups, no decided_by;
    ROUTING_DETAIL_EXPLAINED: the same decision with the explanation Route gives."""
    await put_seed_rules(rstubs)
    await load(rstubs, ("MILK-9", "WH-EAST-A", 10), ("MILK-9", "WH-HZ", 10))
    route = (await rstubs.routing.Route(route_request("杭州", ("MILK-9", 1, "奶粉")),
                                        timeout=10)).decision
    replies = {}
    for k, detail in enumerate((rpb.ROUTING_DETAIL_UNSPECIFIED, rpb.ROUTING_DETAIL_DECISION,
                                rpb.ROUTING_DETAIL_EXPLAINED)):
        replies[detail] = (await rstubs.rs.Reserve(
            routed(f"X-{k}", "杭州", ("MILK-9", 1, "奶粉"), detail=detail), timeout=10)).routing
    for detail in (rpb.ROUTING_DETAIL_UNSPECIFIED, rpb.ROUTING_DETAIL_DECISION):
        d = replies[detail]
        assert not d.groups and d.lines[0].decided_by == ""
        assert allocations_of(d) == [("MILK-9", "WH-EAST-A", 1)] and d.routed
        assert list(d.lines[0].candidates) == list(route.lines[0].candidates)
        assert list(d.matched_rules) == ["奶粉 East China"]
    explained = replies[rpb.ROUTING_DETAIL_EXPLAINED]
    assert explained.lines[0].decided_by == "preferred by rule '奶粉 East China'"
    assert [c.warehouse_id for c in explained.groups[0].candidates] == \
        [c.warehouse_id for c in route.groups[0].candidates]
    assert [c.warehouse_id for c in explained.groups[0].candidates if c.preferred] == \
        ["WH-EAST-A"]
    assert list(explained.lines[0].candidates) == list(route.lines[0].candidates)


async def test_unknown_routing_detail_is_invalid_argument_and_holds_nothing(
        rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-9", "WH-HZ", 10))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rstubs.rs.Reserve(routed("A-9", "杭州", ("TEA-9", 1, ""), detail=7), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == ["routing_detail"]
    assert (await levels(rstubs, "TEA-9"))["WH-HZ"].held == 0
