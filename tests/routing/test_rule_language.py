"""The routing rule language cannot silently never match: enumerated values match without
regard to case, places are checked against the geography (with a "did you mean"), rule
names are unique, control characters are refused, the weights in force are visible, and
a rule that can never act given the warehouses is warned about when it is put."""

from __future__ import annotations

from typing import Any

import pytest

from reservation.storage import keys, rulesets
from reservation.storage.rulesets import RulesVersion
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.errors import refused
from tests.helpers.reservations import load
from tests.helpers.routing import RoutingStubs, struct


async def put(rstubs: RoutingStubs, doc: dict[str, Any]) -> rpb.PutRoutingRulesResponse:
    return await rstubs.routing_admin.PutRoutingRules(rpb.PutRoutingRulesRequest(
        document=struct(doc)), timeout=10)


def order(city: str, **kw: Any) -> rpb.RouteRequest:
    return rpb.RouteRequest(channel=kw.pop("channel", "tmall"), order_id="R-1",
                            lines=[rpb.RouteLine(sku="TEA-1", quantity=1)],
                            destination=rpb.Destination(city=city), **kw)


async def test_enumerated_values_match_whatever_their_case(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    await put(rstubs, {"rules": [{"name": "big card payments", "when": {
        "payment": ["CREDIT_CARD"], "channel": ["TMALL"], "amount_above": 500},
        "then": {"review": "finance review"}}]})
    decision = (await rstubs.routing.Route(order("杭州", amount=900,
                                                 payment_method="credit_card"))).decision
    assert decision.review_reason == "finance review"


@pytest.mark.parametrize(("when", "field", "says"), [
    ({"city": ["Atlantis"]}, "rules[0].when.city[0]", "unknown city 'Atlantis'"),
    ({"city": ["杭卅"]}, "rules[0].when.city[0]", "did you mean"),
    ({"province": ["浙江", "Zhejang"]}, "rules[0].when.province[1]", "unknown province"),
])
async def test_a_place_the_geography_does_not_know_is_refused(
        rstubs: RoutingStubs, when: dict[str, Any], field: str, says: str) -> None:
    fields, details = await refused(put(rstubs, {"rules": [{
        "name": "x", "when": when, "then": {"prefer": ["WH-HZ"]}}]}))
    assert fields == [field] and says in details, details


async def test_rule_names_are_unique(rstubs: RoutingStubs) -> None:
    rule = {"name": "east", "when": {"city": ["杭州"]}, "then": {"prefer": ["WH-HZ"]}}
    fields, details = await refused(put(rstubs, {"rules": [rule, rule]}))
    assert fields == ["rules[1].name"] and "used twice" in details


@pytest.mark.parametrize(("rule", "field"), [
    ({"name": "a\x00b", "then": {"prefer": ["WH-HZ"]}}, "rules[0].name"),
    ({"name": "x", "then": {"review": "check\x00this"}}, "rules[0].then.review"),
    ({"name": "x", "when": {"sku": ["A\nB"]}, "then": {"prefer": ["WH-HZ"]}},
     "rules[0].when.sku[0]"),
])
async def test_control_characters_are_refused(rstubs: RoutingStubs, rule: dict[str, Any],
                                              field: str) -> None:
    fields, _ = await refused(put(rstubs, {"rules": [rule]}))
    assert fields == [field]


async def test_the_weights_and_threshold_in_force_are_shown(rstubs: RoutingStubs) -> None:
    await put(rstubs, {"weights": {"cost": 0.5}, "rules": []})
    rules = (await rstubs.routing_admin.GetRoutingRules(rpb.GetRoutingRulesRequest())).rules
    assert dict(rules.effective_weights) == {"distance": 1.0, "load": 1.0, "shipments": 2.0,
                                             "cost": 0.5, "priority": 0.1}
    assert rules.effective_load_threshold == 1.0


async def test_rules_that_can_never_act_are_warned_about_and_still_put(
        rstubs: RoutingStubs) -> None:
    reply = await put(rstubs, {"rules": [
        {"name": "oversize", "when": {"category": ["sofa"]}, "then": {"require": ["OVERSIZE"]}},
        {"name": "empty range", "when": {"amount_above": 100, "amount_at_most": 50},
         "then": {"review": "x"}},
        {"name": "apart", "when": {"region": ["华北"], "city": ["杭州"]},
         "then": {"prefer": ["WH-HZ"]}},
        {"name": "fine", "when": {"city": ["杭州"]}, "then": {"prefer": ["WH-HZ"]}}]})
    assert reply.rules.version == 1
    named = [w.split(":", 1)[0] for w in reply.warnings]
    assert named == ["rules[0] ('oversize')", "rules[1] ('empty range')", "rules[2] ('apart')"]
    assert "no active warehouse has OVERSIZE" in reply.warnings[0]


@pytest.mark.parametrize(("warehouse", "field", "says"), [
    (rpb.Warehouse(warehouse_id="WH-X", name="x", province="Atlantis", city="杭州"),
     "warehouse.province", "unknown province 'Atlantis'"),
    (rpb.Warehouse(warehouse_id="WH-X", name="x", province="江苏", city="杭州"),
     "warehouse.province", "杭州 is in 浙江, not 江苏"),
    (rpb.Warehouse(warehouse_id="WH-X", name="x", city="Atlantis"), "warehouse.city",
     "unknown city 'Atlantis'"),
])
async def test_a_warehouse_in_an_unknown_or_wrong_place_is_refused_not_moved(
        rstubs: RoutingStubs, warehouse: rpb.Warehouse, field: str, says: str) -> None:
    fields, details = await refused(rstubs.routing_admin.PutWarehouse(
        rpb.PutWarehouseRequest(warehouse=warehouse)))
    assert fields == [field] and says in details, details


async def test_an_address_nothing_is_known_of_is_named_in_the_error(
        rstubs: RoutingStubs) -> None:
    req = order("")
    req.destination.address = "somewhere over the rainbow"
    _, details = await refused(rstubs.routing.Route(req))
    assert "address 'somewhere over the rainbow'" in details and "none given" not in details


async def test_a_version_stored_before_the_language_grew_stricter_still_loads(
        app: Any, rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 10))
    old = {"rules": [{"name": "twice", "when": {"city": ["Atlantis"]},
                      "then": {"prefer": ["WH-HZ"]}},
                     {"name": "twice", "when": {"city": ["杭州"]}, "then": {"prefer": ["WH-HZ"]}}]}
    await rulesets.put(app.store, keys.routing_rules(),
                       RulesVersion(0, old, "before", 1).encode(), 0)
    rules = (await rstubs.routing_admin.GetRoutingRules(rpb.GetRoutingRulesRequest())).rules
    assert rules.version == 1
    decision = (await rstubs.routing.Route(order("杭州"))).decision
    assert [a.warehouse_id for ld in decision.lines for a in ld.allocations] == ["WH-HZ"]
