"""RoutingService and RoutingAdminService over gRPC: warehouses, rule sets, hot reload."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.routing import kernel
from reservation.routing.service import REFRESH_S
from reservation.server.app import App, start_app
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import load
from tests.helpers.routing import (
    SEED_RULES,
    RoutingStubs,
    allocations,
    put_seed_rules,
    route_request,
    struct,
)
from tests.helpers.server import test_settings


async def invalid(call) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return bad_request_fields(err.value)


async def test_warehouses_put_list_get_fill_in_geography(rstubs: RoutingStubs) -> None:
    listed = (await rstubs.routing_admin.ListWarehouses(rpb.ListWarehousesRequest())).warehouses
    assert [w.warehouse_id for w in listed] == sorted(
        ["WH-EAST-A", "WH-EAST", "WH-SH-COLD", "WH-HZ", "WH-BJ", "WH-GZ"])
    hz = (await rstubs.routing_admin.GetWarehouse(
        rpb.GetWarehouseRequest(warehouse_id="WH-HZ"))).warehouse
    assert (hz.region, hz.province, hz.city, hz.daily_capacity) == ("华东", "浙江", "杭州", 500)
    assert 30 < hz.latitude < 31


@pytest.mark.parametrize(("warehouse", "field"), [
    (rpb.Warehouse(warehouse_id="", name="x", city="杭州"), "warehouse.warehouse_id"),
    (rpb.Warehouse(warehouse_id="W|1", name="x", city="杭州"), "warehouse.warehouse_id"),
    (rpb.Warehouse(warehouse_id="W1", name="", city="杭州"), "warehouse.name"),
    (rpb.Warehouse(warehouse_id="W1", name="x", city="火星"), "warehouse.city"),
    (rpb.Warehouse(warehouse_id="W1", name="x"), "warehouse.city"),
    (rpb.Warehouse(warehouse_id="W1", name="x", city="杭州", capabilities=["TELEPORT"]),
     "warehouse.capabilities[0]"),
    (rpb.Warehouse(warehouse_id="W1", name="x", city="杭州", region="月球"), "warehouse.region"),
    (rpb.Warehouse(warehouse_id="W1", name="x", city="杭州", daily_capacity=-1),
     "warehouse.daily_capacity"),
])
async def test_bad_warehouse_is_invalid_argument_and_changes_nothing(
        rstubs: RoutingStubs, warehouse: rpb.Warehouse, field: str) -> None:
    assert await invalid(rstubs.routing_admin.PutWarehouse(
        rpb.PutWarehouseRequest(warehouse=warehouse))) == [field]
    listed = (await rstubs.routing_admin.ListWarehouses(rpb.ListWarehousesRequest())).warehouses
    assert "W1" not in {w.warehouse_id for w in listed}


async def test_unknown_warehouse_is_not_found(rstubs: RoutingStubs) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await rstubs.routing_admin.GetWarehouse(rpb.GetWarehouseRequest(warehouse_id="NOPE"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(("rule", "field"), [
    ({"when": {}, "then": {"prefer": ["上海仓"]}}, "rules[1].then.prefer[0]"),
    ({"when": {}, "then": {"require": ["TELEPORT"]}}, "rules[1].then.require[0]"),
    ({"when": {"colour": "red"}, "then": {"rush": True}}, "rules[1].when.colour"),
    ({"when": {"amount_above": "many"}, "then": {"rush": True}}, "rules[1].when.amount_above"),
    ({"when": {"city": []}, "then": {"rush": True}}, "rules[1].when.city"),
])
async def test_bad_rule_is_invalid_argument_naming_rule_and_field_and_changes_nothing(
        rstubs: RoutingStubs, rule: dict, field: str) -> None:
    version = await put_seed_rules(rstubs)
    doc = {"rules": [SEED_RULES["rules"][0], rule]}
    assert await invalid(rstubs.routing_admin.PutRoutingRules(
        rpb.PutRoutingRulesRequest(document=struct(doc)))) == [field]
    current = (await rstubs.routing_admin.GetRoutingRules(rpb.GetRoutingRulesRequest())).rules
    assert current.version == version
    assert len(current.document["rules"]) == len(SEED_RULES["rules"])


async def test_history_and_rollback(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-HZ", 10))
    v1 = await put_seed_rules(rstubs)
    reply = await rstubs.routing_admin.PutRoutingRules(rpb.PutRoutingRulesRequest(
        document=struct({"rules": []}), comment="no rules", expected_version=v1))
    v2 = reply.rules.version
    assert v2 == v1 + 1
    d = (await rstubs.routing.Route(route_request("杭州", ("MILK-1", 1, "奶粉")))).decision
    assert allocations(d) == [("MILK-1", "WH-HZ", 1)] and d.rules_version == v2
    with pytest.raises(grpc.aio.AioRpcError) as err:  # a stale expected_version
        await rstubs.routing_admin.PutRoutingRules(rpb.PutRoutingRulesRequest(
            document=struct({"rules": []}), expected_version=v1))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    back = (await rstubs.routing_admin.RollbackRoutingRules(
        rpb.RollbackRoutingRulesRequest(version=v1))).rules
    assert (back.version, back.rolled_back_to) == (v2 + 1, v1)
    d = (await rstubs.routing.Route(route_request("杭州", ("MILK-1", 1, "奶粉")))).decision
    assert allocations(d) == [("MILK-1", "WH-EAST-A", 1)] and d.rules_version == v2 + 1
    history = await rstubs.routing_admin.ListRoutingRuleHistory(
        rpb.ListRoutingRuleHistoryRequest())
    assert history.current_version == v2 + 1
    assert [v.version for v in history.versions] == [v2 + 1, v2, v1]
    assert [v.comment for v in history.versions][1:] == ["no rules", "seed"]


async def test_rules_put_on_one_replica_apply_on_another(redis_url: str) -> None:
    """Two App instances on one Redis: a rule set put through A routes on B once B's
    versions are older than REFRESH_S (0.2 s; B then reads them again), no restart.
    Waiting REFRESH_S after the put is a bound, not a guess: whatever B read before
    the put is at least that old by then, so B's next call reads the versions."""
    a = await start_app(test_settings(redis_url))
    b = await start_app(test_settings(redis_url))
    try:
        async with grpc.aio.insecure_channel(a.target) as ca, \
                grpc.aio.insecure_channel(b.target) as cb:
            sa, sb = RoutingStubs(ca), RoutingStubs(cb)
            from tests.helpers.routing import SEED_WAREHOUSES
            for wh in SEED_WAREHOUSES:
                await sa.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=wh))
            await load(sa, ("MILK-1", "WH-EAST-A", 10), ("MILK-1", "WH-HZ", 10))
            req = route_request("杭州", ("MILK-1", 1, "奶粉"))
            before = (await sb.routing.Route(req)).decision
            assert allocations(before) == [("MILK-1", "WH-HZ", 1)]
            version = await put_seed_rules(sa)
            await asyncio.sleep(REFRESH_S)
            after = (await sb.routing.Route(req)).decision
            assert after.rules_version == version
            assert allocations(after) == [("MILK-1", "WH-EAST-A", 1)]
            await sb.routing_admin.RollbackRoutingRules(rpb.RollbackRoutingRulesRequest(
                version=version))
            await asyncio.sleep(REFRESH_S)
            again = (await sa.routing.Route(req)).decision
            assert again.rules_version == version + 1
    finally:
        await a.stop(grace=0)
        await b.stop(grace=0)


async def test_simulate_reports_how_many_orders_change_warehouse(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("MILK-1", "WH-EAST-A", 100), ("MILK-1", "WH-HZ", 100),
               ("TEA-1", "WH-HZ", 100))
    for i in range(3):
        await rstubs.routing.Route(route_request("杭州", ("MILK-1", 1, "奶粉"),
                                                 order_id=f"R-{i}"))
    await rstubs.routing.Route(route_request("杭州", ("TEA-1", 1, ""), order_id="R-3"))
    sim = await rstubs.routing.SimulateRouting(rpb.SimulateRoutingRequest(
        document=struct(SEED_RULES)))
    assert (sim.orders, sim.changed) == (4, 3)
    assert sim.match_ratio == pytest.approx(0.25)
    assert [(c.from_warehouse_id, c.to_warehouse_id, c.orders) for c in sim.changes] == [
        ("WH-HZ", "WH-EAST-A", 3)]
    assert await invalid(rstubs.routing.SimulateRouting(rpb.SimulateRoutingRequest(
        document=struct({"rules": [{"then": {"prefer": ["NOPE"]}}]})))) == [
        "rules[0].then.prefer[0]"]


async def test_samples_are_kept_per_order_and_what_if_probes_are_not_kept(
        rstubs: RoutingStubs) -> None:
    await load(rstubs, ("MILK-1", "WH-EAST-A", 100), ("MILK-1", "WH-HZ", 100))
    for _ in range(5):  # one order routed five times: one sample
        await rstubs.routing.Route(route_request("杭州", ("MILK-1", 1, "奶粉"), order_id="A"))
    for i in range(3):  # what-if probes: none
        await rstubs.routing.Route(route_request("杭州", ("MILK-1", 1, "奶粉"),
                                                 order_id=f"probe-{i}", what_if=True))
    await rstubs.routing.RouteBatch(rpb.RouteBatchRequest(requests=[
        route_request("杭州", ("MILK-1", 1, "奶粉"), order_id="B"),
        route_request("杭州", ("MILK-1", 1, "奶粉"), order_id="probe-9", what_if=True)]))
    sim = await rstubs.routing.SimulateRouting(rpb.SimulateRoutingRequest(
        document=struct(SEED_RULES)))
    assert sim.orders == 2


async def test_route_batch_decides_each_order_in_one_call(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 100), ("TEA-1", "WH-BJ", 100))
    reply = await rstubs.routing.RouteBatch(rpb.RouteBatchRequest(requests=[
        route_request("杭州", ("TEA-1", 1, "")), route_request("北京", ("TEA-1", 2, ""))]))
    assert [allocations(d) for d in reply.decisions] == [
        [("TEA-1", "WH-HZ", 1)], [("TEA-1", "WH-BJ", 2)]]


async def test_route_explains_unless_asked_for_the_decision_alone(
        rstubs: RoutingStubs) -> None:
    """Route's default stays the explained decision; ROUTING_DETAIL_DECISION drops the
    explanation, per request of a batch too, and leaves the decision as it was."""
    await load(rstubs, ("TEA-1", "WH-HZ", 100), ("TEA-1", "WH-BJ", 100))
    plain = (await rstubs.routing.Route(route_request("杭州", ("TEA-1", 1, "")))).decision
    assert plain.groups and plain.lines[0].decided_by
    alone = route_request("杭州", ("TEA-1", 1, ""), detail=rpb.ROUTING_DETAIL_DECISION)
    bare = (await rstubs.routing.Route(alone)).decision
    assert not bare.groups and not bare.lines[0].decided_by
    assert allocations(bare) == allocations(plain) == [("TEA-1", "WH-HZ", 1)]
    assert list(bare.lines[0].candidates) == list(plain.lines[0].candidates)
    batch = await rstubs.routing.RouteBatch(rpb.RouteBatchRequest(requests=[
        alone, route_request("杭州", ("TEA-1", 1, ""), detail=rpb.ROUTING_DETAIL_EXPLAINED)]))
    assert [bool(d.groups) for d in batch.decisions] == [False, True]
    assert [bool(d.lines[0].decided_by) for d in batch.decisions] == [False, True]
    batch.decisions[1].ClearField("groups")
    batch.decisions[1].lines[0].decided_by = ""
    assert batch.decisions[0] == batch.decisions[1]


async def test_decision_explains_fallback_and_terms(rstubs: RoutingStubs) -> None:
    await load(rstubs, ("TEA-1", "WH-HZ", 100), ("TEA-1", "WH-BJ", 100))
    req = route_request("", ("TEA-1", 1, ""))
    req.destination.province = "浙江"
    req.destination.city = "不存在市"
    d = (await rstubs.routing.Route(req)).decision
    assert d.destination.level == "province" and "unknown city" in d.notes[0]
    best = d.groups[0].candidates[0]
    assert best.warehouse_id == "WH-HZ" and best.allowed
    assert best.score == pytest.approx(best.terms.distance * 1.0 + best.terms.load * 1.0
                                       + best.terms.shipments * 2.0
                                       + best.terms.priority * 0.1)


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda r: r.ClearField("lines"), "lines"),
    (lambda r: r.lines[0].__setattr__("quantity", 0), "lines[0].quantity"),
    (lambda r: r.lines[0].__setattr__("sku", "a b"), "lines[0].sku"),
    (lambda r: r.ClearField("destination"), "destination"),
    (lambda r: r.destination.__setattr__("city", "火星"), "destination"),
    (lambda r: r.__setattr__("amount", float("nan")), "amount"),
    (lambda r: r.__setattr__("detail", 3), "detail"),
])
async def test_bad_route_request_is_invalid_argument(rstubs: RoutingStubs, mutate,
                                                     field: str) -> None:
    req = route_request("杭州", ("TEA-1", 1, ""))
    mutate(req)
    assert await invalid(rstubs.routing.Route(req)) == [field]


async def test_route_batch_names_the_request(rstubs: RoutingStubs) -> None:
    bad = route_request("杭州", ("TEA-1", 0, ""))
    assert await invalid(rstubs.routing.RouteBatch(rpb.RouteBatchRequest(
        requests=[route_request("杭州", ("TEA-1", 1, "")), bad]))) == [
        "requests[1].lines[0].quantity"]
    odd = route_request("杭州", ("TEA-1", 1, ""), detail=5)
    assert await invalid(rstubs.routing.RouteBatch(rpb.RouteBatchRequest(
        requests=[route_request("杭州", ("TEA-1", 1, "")), odd]))) == ["requests[1].detail"]


async def test_ready_only_after_the_kernel_is_compiled(app: App) -> None:
    assert kernel.compiled()
    async with grpc.aio.insecure_channel(app.target) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="reservation.v1.RoutingService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
