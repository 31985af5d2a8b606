"""Backtest through the gRPC API against real Redis: decisions are recorded with the
orders (warehouses and the rule set version that made them, the warehouse that shipped),
and BacktestRouting compares a candidate with them, or with an uploaded history.

Expectations come from the rules as stated here: rule set A sends milk powder to Hangzhou
via WH-EAST-A, rule set B via WH-HZ, and there is stock everywhere, so every order
decided under A went to WH-EAST-A and every one under B to WH-HZ."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from reservation.ordersync import backtest as recorded_orders
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.orders import channel_order, get_order, history, key, sync
from tests.helpers.reservations import load
from tests.helpers.routing import SEED_WAREHOUSES, RoutingStubs, struct

RULES_A = {"rules": [{"name": "milk via East A", "when": {"category": ["奶粉"]},
                      "then": {"prefer": ["WH-EAST-A"]}}]}
RULES_B = {"rules": [{"name": "milk via Hangzhou", "when": {"category": ["奶粉"]},
                      "then": {"prefer": ["WH-HZ"]}}]}
WAREHOUSES = ("WH-EAST-A", "WH-EAST", "WH-HZ", "WH-BJ", "WH-GZ")
T0 = int(time.time()) - 86_400
"""Channel times a day ago (+ small offsets): the order index keeps only the retention
period, so test times must be recent."""


@pytest.fixture
async def routed(stubs) -> AsyncIterator[RoutingStubs]:
    rs = RoutingStubs(stubs.channel)
    for wh in SEED_WAREHOUSES:
        await rs.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=wh))
    await load(rs, *[("MILK-1", wh, 1000) for wh in WAREHOUSES])
    yield rs


def milk(order_id: str, created_s: int) -> opb.ChannelOrder:
    return channel_order(order_id, "PAID", opb.OrderItem(sku="MILK-1", quantity=1, price=1999,
                                                         category="奶粉"),
                         province="浙江", city="杭州", created_s=T0 + created_s,
                         modified_s=T0 + created_s)


async def put(rs: RoutingStubs, doc: dict) -> int:
    reply = await rs.routing_admin.PutRoutingRules(
        rpb.PutRoutingRulesRequest(document=struct(doc), comment="test"))
    return reply.rules.version


async def backtest(rs: RoutingStubs, *requests: rpb.BacktestRoutingRequest
                   ) -> rpb.BacktestRoutingResponse:
    async def stream():
        for r in requests:
            yield r
    return await rs.routing_admin.BacktestRouting(stream(), timeout=30)


def period(doc: dict, from_s: int, to_s: int) -> rpb.BacktestRoutingRequest:
    r = rpb.BacktestRoutingRequest(document=struct(doc))
    r.recorded_from.FromSeconds(T0 + from_s)
    r.recorded_to.FromSeconds(T0 + to_s)
    return r


async def ship(orders: ogrpc.OrderServiceStub, order_id: str, warehouse: str = "") -> None:
    await orders.ReportShipment(opb.ReportShipmentRequest(
        key=key(order_id), actor="wms", shipment=opb.Shipment(
            carrier="SF", tracking_number=f"SF{order_id}", warehouse_id=warehouse)))


async def test_a_candidate_matches_the_decisions_only_of_the_version_that_made_them(
        routed: RoutingStubs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recorded_orders, "PAGE", 3)  # the period is read in several pages
    orders = ogrpc.OrderServiceStub(routed.channel)
    va = await put(routed, RULES_A)
    await sync(orders, *[milk(f"A{i}", 1000 + i) for i in range(4)])
    vb = await put(routed, RULES_B)
    await sync(orders, *[milk(f"B{i}", 2000 + i) for i in range(6)])

    # The decision is recorded with the order and in its history, with its scores.
    a0, b0 = await get_order(orders, "A0"), await get_order(orders, "B0")
    assert (list(a0.routed_warehouses), a0.routing_version) == (["WH-EAST-A"], va)
    assert (list(b0.routed_warehouses), b0.routing_version) == (["WH-HZ"], vb)
    [decided] = [e for e in await history(orders, "B0") if e.type == "ROUTING_DECIDED"]
    assert "scores" in decided.changes_json

    # B over every order: only the six it decided agree; A's four move East A -> Hangzhou.
    r = await backtest(routed, period(RULES_B, 900, 3000))
    assert (r.orders, r.vs_recorded.orders, r.vs_recorded.matched) == (10, 10, 6)
    assert {v.rules_version: (v.tally.orders, v.tally.matched) for v in r.versions} == {
        va: (4, 0), vb: (6, 6)}
    assert [(m.before, m.after, m.orders) for m in r.moves] == [("WH-EAST-A", "WH-HZ", 4)]
    assert sorted(m for m in r.moves[0].examples) == ["shop-1/A0", "shop-1/A1", "shop-1/A2"]
    assert {w.warehouse_id: (w.before, w.after, w.kept) for w in r.warehouses} == {
        "WH-EAST-A": (4, 0, 0), "WH-HZ": (6, 10, 6)}
    assert [(x.rule, x.tally.orders, x.tally.matched) for x in r.rules] == [
        ("milk via Hangzhou", 10, 6)]
    assert any("as of now" in n for n in r.notes)

    # A over the same orders: the mirror image; B over its own period only: 100%.
    r = await backtest(routed, period(RULES_A, 900, 3000))
    assert (r.vs_recorded.orders, r.vs_recorded.matched) == (10, 4)
    r = await backtest(routed, period(RULES_B, 2000, 3000))
    assert (r.vs_recorded.orders, r.vs_recorded.matched, r.vs_recorded.match_rate) == (6, 6, 1)


async def test_shipments_record_the_warehouse_and_are_compared(routed: RoutingStubs) -> None:
    orders = ogrpc.OrderServiceStub(routed.channel)
    await put(routed, RULES_A)
    await sync(orders, milk("S1", 1000), milk("S2", 1001), milk("S3", 1002))
    await ship(orders, "S1")             # no warehouse named: the held one, WH-EAST-A
    await ship(orders, "S2", "WH-BJ")    # the WMS says it left from Beijing
    await ship(orders, "S1")             # the same report again changes nothing

    s1, s2 = await get_order(orders, "S1"), await get_order(orders, "S2")
    assert [(s.tracking_number, s.warehouse_id) for s in s1.shipments] == [("SFS1", "WH-EAST-A")]
    assert [s.warehouse_id for s in s2.shipments] == ["WH-BJ"]

    r = await backtest(routed, period(RULES_A, 900, 1100))
    # S3 never shipped: compared with its recorded decision only.
    assert (r.vs_shipped.orders, r.vs_shipped.matched) == (2, 1)
    assert (r.vs_recorded.orders, r.vs_recorded.matched) == (3, 3)
    # Before = where it shipped, else the recorded decision: S2 moves Beijing -> East A.
    assert [(m.before, m.after, m.orders) for m in r.moves] == [("WH-BJ", "WH-EAST-A", 1)]


def historical(order_id: str, city: str, province: str, shipped: str,
               qty: int = 1) -> rpb.HistoricalOrder:
    return rpb.HistoricalOrder(
        order_id=order_id, channel="jd",
        destination=rpb.Destination(province=province, city=city),
        lines=[rpb.RouteLine(sku="MILK-1", quantity=qty, category="奶粉")],
        amount_cents=1999 * qty, shipped_warehouse_id=shipped)


async def test_an_uploaded_history_gives_the_exact_match_rate(routed: RoutingStubs) -> None:
    # 7 of 10 orders shipped from Hangzhou, where B sends all milk powder: 70%.
    rows = [historical(f"H{i}", "上海", "上海", "WH-HZ" if i < 7 else "WH-EAST")
            for i in range(10)]
    first = rpb.BacktestRoutingRequest(document=struct(RULES_B), orders=rows[:4])
    r = await backtest(routed, first, rpb.BacktestRoutingRequest(orders=rows[4:]))
    assert (r.orders, r.vs_shipped.orders, r.vs_shipped.matched) == (10, 10, 7)
    assert math.isclose(r.vs_shipped.match_rate, 0.7)
    assert r.distinct_orders == 1  # ten alike orders, decided once
    assert r.vs_recorded.orders == 0 and math.isnan(r.vs_recorded.match_rate)
    assert [(m.before, m.after, m.orders) for m in r.moves] == [("WH-EAST", "WH-HZ", 3)]


async def test_bad_backtests_are_refused_naming_the_field(routed: RoutingStubs) -> None:
    cases = [
        ((rpb.BacktestRoutingRequest(document=struct(RULES_B),
                                     orders=[historical("H1", "上海", "上海", "WH-HZ", qty=0)]),),
         "orders[0].lines[0].quantity"),
        ((rpb.BacktestRoutingRequest(orders=[historical("H1", "上海", "上海", "WH-HZ")]),),
         "document"),
        ((period(RULES_B, 1000, 900),), "recorded_to"),
        ((rpb.BacktestRoutingRequest(document=struct(RULES_B)),), "recorded_from"),
        ((period({"rules": [{"name": "x", "when": {"city": ["Atlantis"]},
                             "then": {"prefer": ["WH-HZ"]}}]}, 900, 1000),), "city"),
    ]
    both = period(RULES_B, 900, 1000)
    both.orders.append(historical("H1", "上海", "上海", "WH-HZ"))
    cases.append(((both,), "orders"))
    for requests, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await backtest(routed, *requests)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in err.value.details(), (field, err.value.details())
