"""Routing wired into the order hub, through the gRPC API against real Redis: an order
that arrives is routed, then its stock is held at the routed warehouses; the decision is
in its history; a rule's review flag holds it (ON_HOLD)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as ogrpc
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.orders import channel_order, get_order, history, sync, when
from tests.helpers.reservations import assert_invariant, levels, load
from tests.helpers.routing import SEED_RULES, SEED_WAREHOUSES, RoutingStubs, struct

ON_HOLD, CREATED = opb.SYNC_OUTCOME_ON_HOLD, opb.SYNC_OUTCOME_CREATED
REVIEW_RULE = {"name": "big orders", "when": {"amount_above": 500},
               "then": {"review": "amount above 500"}}


class Hub:
    def __init__(self, stubs: RoutingStubs) -> None:
        self.stubs = stubs
        self.orders = ogrpc.OrderServiceStub(stubs.channel)

    async def rules(self, *extra: dict) -> None:
        doc = {**SEED_RULES, "rules": [*SEED_RULES["rules"], *extra]}
        await self.stubs.routing_admin.PutRoutingRules(
            rpb.PutRoutingRulesRequest(document=struct(doc), comment="test"))

    async def orders_today(self) -> dict[str, int]:
        reply = await self.stubs.routing_admin.ListWarehouses(rpb.ListWarehousesRequest())
        return {w.warehouse_id: w.orders_today for w in reply.warehouses}


@pytest.fixture
async def routed(stubs) -> AsyncIterator[Hub]:
    """The test server with the seed warehouses defined: routing is in force."""
    rs = RoutingStubs(stubs.channel)
    for wh in SEED_WAREHOUSES:
        await rs.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=wh))
    yield Hub(rs)


PROVINCE = {"杭州": "浙江", "上海": "上海", "北京": "北京"}


def milk(order_id: str, city: str, state: str = "PENDING_PAYMENT", qty: int = 2,
         total: int = 3998) -> opb.ChannelOrder:
    o = channel_order(order_id, state, opb.OrderItem(sku="MILK-1", quantity=qty, price=1999,
                                                     category="奶粉"),
                      province=PROVINCE[city], city=city)
    o.total = total
    return o


async def test_an_arriving_order_is_held_where_the_rules_say(routed: Hub) -> None:
    await routed.rules()
    await load(routed.stubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-HZ", 10),
               ("MILK-1", "WH-BJ", 10))

    [r] = await sync(routed.orders, milk("R1", "杭州"))

    # Hangzhou has its own warehouse, but the milk powder rule prefers East forward A.
    assert (r.outcome, r.state) == (CREATED, "PENDING_PAYMENT")
    order = await get_order(routed.orders, "R1")
    assert list(order.warehouses) == ["WH-EAST-A"] and order.reservation_state == "RESERVED"
    by_wh = await levels(routed.stubs, "MILK-1")
    assert (by_wh["WH-EAST-A"].held, by_wh["WH-HZ"].held, by_wh["WH-BJ"].held) == (2, 0, 0)
    assert_invariant(by_wh)
    [decided] = [e for e in await history(routed.orders, "R1") if e.type == "ROUTING_DECIDED"]
    assert decided.actor == "rule:routing"
    assert decided.reason == "MILK-1: preferred by rule '奶粉 East China'"
    changes = json.loads(decided.changes_json)
    assert changes["warehouses"]["after"] == ["WH-EAST-A"]
    assert changes["rules"]["after"] == ["奶粉 East China"]
    assert changes["candidates"]["after"][0].startswith("WH-EAST-A,")
    # The hold counts towards the warehouse's load today, as a routed Reserve does.
    assert (await routed.orders_today())["WH-EAST-A"] == 1


async def test_paying_a_routed_order_confirms_at_the_same_warehouse(routed: Hub) -> None:
    await routed.rules()
    await load(routed.stubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-BJ", 10))
    # Beijing is outside the rule: the nearest warehouse wins.
    await sync(routed.orders, milk("R2", "北京"))
    paid = milk("R2", "北京", "PAID")
    paid.modified_at.FromSeconds(when(1010))

    [r] = await sync(routed.orders, paid)

    assert r.state == "ROUTED"
    assert list((await get_order(routed.orders, "R2")).warehouses) == ["WH-BJ"]
    by_wh = await levels(routed.stubs, "MILK-1")
    assert (by_wh["WH-BJ"].held, by_wh["WH-BJ"].confirmed, by_wh["WH-EAST-A"].held) == (0, 2, 0)
    assert_invariant(by_wh)
    assert sum(e.type == "ROUTING_DECIDED" for e in await history(routed.orders, "R2")) == 1


async def test_a_rule_with_review_holds_the_order_and_its_stock(routed: Hub) -> None:
    await routed.rules(REVIEW_RULE)
    await load(routed.stubs, ("MILK-1", "WH-EAST-A", 10))

    [r] = await sync(routed.orders, milk("R3", "上海", "PAID", total=60000))

    assert (r.outcome, r.state) == (ON_HOLD, "ON_HOLD")
    order = await get_order(routed.orders, "R3")
    assert "routing: amount above 500" in order.review
    moves = [(e.from_state, e.to_state, e.actor) for e in await history(routed.orders, "R3")
             if e.type == "TRANSITION"]
    assert moves == [("PENDING_PAYMENT", "PAID", "adapter:jd"),
                     ("PAID", "ON_HOLD", "rule:routing")]
    # Paid: the units are sold at the routed warehouse while a person looks at it.
    by_wh = await levels(routed.stubs, "MILK-1")
    assert (by_wh["WH-EAST-A"].held, by_wh["WH-EAST-A"].confirmed) == (0, 2)


async def test_a_batch_routes_each_order_and_holds_the_review_one(routed: Hub) -> None:
    await routed.rules(REVIEW_RULE)
    await load(routed.stubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-BJ", 10))

    results = await sync(routed.orders, milk("B1", "杭州"), milk("B2", "北京"),
                         milk("B3", "杭州", total=90000))

    assert [r.state for r in results] == ["PENDING_PAYMENT", "PENDING_PAYMENT", "ON_HOLD"]
    assert [list((await get_order(routed.orders, o)).warehouses)
            for o in ("B1", "B2", "B3")] == [["WH-EAST-A"], ["WH-BJ"], ["WH-EAST-A"]]
    by_wh = await levels(routed.stubs, "MILK-1")
    assert (by_wh["WH-EAST-A"].held, by_wh["WH-BJ"].held) == (4, 2)


async def test_an_address_routing_cannot_place_goes_to_review(routed: Hub) -> None:
    await load(routed.stubs, ("SKU-9", "WH-HZ", 5))

    [r] = await sync(routed.orders, channel_order("R4", "PENDING_PAYMENT", ("SKU-9", 1),
                                                  province="Atlantis", city="Nowhere"))

    assert r.state == "ON_HOLD"
    order = await get_order(routed.orders, "R4")
    assert any(x.startswith("routing: routing cannot place the order") for x in order.review)
    # Held in priority order meanwhile: nothing is lost while a person looks.
    assert (await levels(routed.stubs, "SKU-9"))["WH-HZ"].held == 1


async def test_a_line_naming_its_warehouse_keeps_it(routed: Hub) -> None:
    await routed.rules()
    await load(routed.stubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-BJ", 10))
    o = milk("R5", "杭州")
    o.lines[0].warehouse_id = "WH-BJ"

    await sync(routed.orders, o)

    assert list((await get_order(routed.orders, "R5")).warehouses) == ["WH-BJ"]


async def test_without_warehouses_nothing_is_routed(stubs) -> None:
    orders = ogrpc.OrderServiceStub(stubs.channel)
    await load(stubs, ("SKU-8", "WH-A", 5))

    [r] = await sync(orders, channel_order("R6", "PENDING_PAYMENT", ("SKU-8", 1)))

    assert r.state == "PENDING_PAYMENT"
    assert not [e for e in await history(orders, "R6") if e.type == "ROUTING_DECIDED"]
