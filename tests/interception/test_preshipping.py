"""The pre-shipping checks (seed 001's five dimensions) through the gRPC API against real
Redis: each check opens a review for an order that fails it and lets a good order flow;
a short SKU with a substitute in stock is grade B with the substitute suggested; the
carrier the table chooses is on the order, in its history and in the WMS's write-back
stream once; rule sets that could never mean what they say are refused naming the field."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc, write_back_service_pb2_grpc
from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, get_order, history, sync
from tests.helpers.reservations import load

NOW = int(time.time())
GOOD_TAX_ID = "91350100M000100Y43"  # GB 32100-2015's own example
CORRUPTED_TAX_ID = "91350100M000100Y44"

RULES: dict[str, Any] = {
    "rules": [
        {"name": "poor credit", "when": {"credit_grades": ["D", "E"]},
         "then": {"hold": "credit check", "grade": "C"}},
        {"name": "stock short", "when": {"stock_short": True},
         "then": {"hold": "stock short", "grade": "C"}},
        {"name": "no carrier", "when": {"no_carrier": True},
         "then": {"hold": "no carrier for this parcel", "grade": "A"}},
        {"name": "invoice tax id", "when": {"tax_id_invalid": True},
         "then": {"hold": "tax id invalid", "grade": "A"}},
        {"name": "custom parameters",
         "when": {"params_missing": {"engraved": ["engraving_text", "font"]}},
         "then": {"hold": "custom parameters missing", "grade": "A"}},
    ],
    "carriers": [
        {"carrier": "顺丰", "cities": ["杭州", "上海"], "weight_to_g": 20000,
         "within_hours": 24, "cost": 2300},
        {"carrier": "中通", "weight_to_g": 20000, "within_hours": 72, "cost": 800},
        {"carrier": "德邦", "weight_from_g": 20000, "weight_to_g": 1000000,
         "within_hours": 96, "cost": 4500},
    ],
    "substitutes": {"MUG-RED": ["MUG-BLUE", "MUG-WHITE"], "MUG-GREEN": ["MUG-WHITE"]},
}


@pytest.fixture
async def hub(stubs: Any) -> AsyncIterator[order_service_pb2_grpc.OrderServiceStub]:
    await load(stubs, ("SKU-1", "WH-A", 100), ("MUG-RED", "WH-A", 1),
               ("MUG-GREEN", "WH-A", 1), ("MUG-BLUE", "WH-A", 10))  # no MUG-WHITE
    yield order_service_pb2_grpc.OrderServiceStub(stubs.channel)


@pytest.fixture
async def icpt(stubs: Any, hub: Any) -> igrpc.InterceptionServiceStub:
    stub = igrpc.InterceptionServiceStub(stubs.channel)
    await stub.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
        document_json=json.dumps(RULES, ensure_ascii=False), comment="pre-shipping",
        actor="ops"), timeout=10)
    return stub


def order(oid: str, *lines: opb.OrderItem | tuple[str, int], city: str = "杭州市",
          **facts: Any) -> opb.ChannelOrder:
    """A paid order to Hangzhou whose facts pass every check unless overridden."""
    o = channel_order(oid, "PAID", *lines, phone=f"139{zlib.crc32(oid.encode()) % 10**8:08d}",
                      province="浙江省", city=city, detail=f"{oid} 文一西路 1 号",
                      modified_s=NOW - 60)
    given = {"credit_grade": "A", "weight_grams": 1500, "promised_hours": 48, **facts}
    o.pre_shipping.CopyFrom(opb.PreShippingFacts(**given))
    return o


async def open_reviews(icpt: Any) -> dict[str, ipb.Review]:
    got = await icpt.ListReviews(ipb.ListReviewsRequest(status="open"), timeout=10)
    return {r.key.order_id: r for r in got.reviews}


async def carrier_events(stubs: Any) -> list[wpb.WriteBackEvent]:
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="wms-1", max_events=1000),
                               timeout=10)
    if batch.batch_id:
        await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id), timeout=10)
    return [e for e in batch.events if e.type == wpb.WRITE_BACK_EVENT_TYPE_CARRIER_CHOSEN]


ENGRAVED = opb.OrderItem(sku="SKU-1", quantity=1, price=1999, category="engraved")
ENGRAVING = {"engraving_text": "致 A", "font": "楷体"}


@pytest.mark.parametrize(("facts", "line", "rule", "grade", "because"), [
    ({"credit_grade": "D"}, None, "poor credit", "C", "customer credit grade D"),
    ({"weight_grams": 30000, "promised_hours": 24}, None, "no carrier", "A",
     "no carrier serves 杭州市, 30000 g, delivery within 24 h"),
    ({"customer_type": "company", "tax_id": CORRUPTED_TAX_ID}, None, "invoice tax id", "A",
     "check character is '4', the standard computes '3'"),
    ({"customer_type": "company"}, None, "invoice tax id", "A",
     "company customer without a tax id"),
    ({"custom_params": {"engraving_text": "致 A"}}, ENGRAVED, "custom parameters", "A",
     "custom parameters missing: font"),
])
async def test_an_order_failing_a_check_is_held_for_review_with_its_grade(
        hub: Any, icpt: Any, facts: dict[str, Any], line: opb.OrderItem | None, rule: str,
        grade: str, because: str) -> None:
    [r] = await sync(hub, order("F1", *([line] if line else []), **facts))

    assert (r.outcome, r.state) == (opb.SYNC_OUTCOME_ON_HOLD, "ON_HOLD")
    review = (await open_reviews(icpt))["F1"]
    assert (review.rule, review.grade) == (rule, grade)
    assert because in review.reason
    assert (await get_order(hub, "F1")).state == "ON_HOLD"
    assert any(e.actor == f"rule:{rule}" and e.to_state == "ON_HOLD"
               for e in await history(hub, "F1"))


@pytest.mark.parametrize("facts", [
    {},
    {"customer_type": "company", "tax_id": GOOD_TAX_ID},
    {"customer_type": "company", "tax_id": "9144030071526726xg"},  # lower case, valid
    {"customer_type": "person", "tax_id": CORRUPTED_TAX_ID},  # no invoice to a company
    {"credit_grade": "C"},
    {"credit_grade": ""},  # not known: no grade to hold it for
])
async def test_a_good_order_flows_with_no_review(hub: Any, icpt: Any,
                                                 facts: dict[str, Any]) -> None:
    [r] = await sync(hub, order("G1", ENGRAVED, custom_params=ENGRAVING, **facts))

    assert (r.outcome, r.state) == (opb.SYNC_OUTCOME_CREATED, "ROUTED")
    assert await open_reviews(icpt) == {}


async def test_a_short_sku_with_a_substitute_in_stock_is_grade_b_and_suggests_it(
        hub: Any, icpt: Any) -> None:
    # 1 red mug in stock, 2 ordered: the hub cannot hold them; blue has 10, white none.
    [red] = await sync(hub, order("S1", ("MUG-RED", 2)))
    [green] = await sync(hub, order("S2", ("MUG-GREEN", 2)))

    assert red.state == green.state == "ON_HOLD"
    reviews = await open_reviews(icpt)
    assert (reviews["S1"].rule, reviews["S1"].grade, reviews["S1"].suggest) == (
        "stock short", "B", "MUG-BLUE")
    assert "MUG-RED needs 2, 1 available" in reviews["S1"].reason
    # Its only substitute has no stock either: the rule's own grade, nothing suggested.
    assert (reviews["S2"].rule, reviews["S2"].grade, reviews["S2"].suggest) == (
        "stock short", "C", "")


async def test_the_carrier_table_chooses_the_cheapest_serving_row_and_tells_the_wms_once(
        hub: Any, icpt: Any, stubs: Any) -> None:
    await sync(hub, order("C1", promised_hours=24),          # only 顺丰 keeps 24 h
               order("C2", promised_hours=0),                # no promise: cheapest, 中通
               order("C3", city="成都", promised_hours=48),   # 顺丰 not in 成都; 中通 72 h
               order("C4", weight_grams=30000, promised_hours=0))  # heavy: 德邦

    got = {oid: await get_order(hub, oid) for oid in ("C1", "C2", "C3", "C4")}
    assert {oid: (o.carrier, o.carrier_cost, o.state) for oid, o in got.items()} == {
        "C1": ("顺丰", 2300, "ROUTED"), "C2": ("中通", 800, "ROUTED"),
        "C3": ("", 0, "ON_HOLD"), "C4": ("德邦", 4500, "ROUTED")}
    chosen = [e for e in await history(hub, "C1") if e.actor == "rule:carriers"]
    assert len(chosen) == 1
    assert json.loads(chosen[0].changes_json)["carrier"] == {"before": "", "after": "顺丰"}

    events = await carrier_events(stubs)
    assert sorted((e.order_id, json.loads(e.detail)["carrier"], e.warehouse_id)
                  for e in events) == [("shop-1/C1", "顺丰", "WH-A"),
                                       ("shop-1/C2", "中通", "WH-A"),
                                       ("shop-1/C4", "德邦", "WH-A")]
    # The adapter's next (overlapping) copy of the same order chooses nothing new.
    again = order("C1", promised_hours=24)
    again.modified_at.FromSeconds(NOW - 30)
    await sync(hub, again)
    assert await carrier_events(stubs) == []
    assert (await get_order(hub, "C1")).carrier == "顺丰"


def _doc(**changes: Any) -> str:
    doc = json.loads(json.dumps(RULES))
    for path, value in changes.items():
        target: Any = doc
        *parts, last = path.split("__")
        for p in parts:
            target = target[int(p)] if p.isdigit() else target[p]
        if value is None:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return json.dumps(doc, ensure_ascii=False)


@pytest.mark.parametrize(("document", "field"), [
    (_doc(rules__0__when={"credit_grades": ["D", "F"]}), "rules[0].when.credit_grades[1]"),
    (_doc(rules__1__when={"stock_short": False}), "rules[1].when.stock_short"),
    (_doc(carriers=None), "rules[2].when.no_carrier"),
    (_doc(carriers__0__weight_from_g=20000), "carriers[0].weight_to_g"),
    (_doc(carriers__1__cities=["杭洲"]), "carriers[1].cities[0]"),
    (_doc(carriers__2__within_hours=0), "carriers[2].within_hours"),
    (_doc(carriers__2__cost=-1), "carriers[2].cost"),
    (_doc(carriers__0__by_air=True), "carriers[0].by_air"),
    (_doc(rules__1=None), "substitutes"),
    (_doc(substitutes={"MUG-RED": ["MUG-RED"]}), "substitutes.MUG-RED[0]"),
    (_doc(rules__4__when={"params_missing": {"engraved": []}}),
     "rules[4].when.params_missing.engraved"),
    (_doc(rules__3__when={"tax_id_invalid": "yes"}), "rules[3].when.tax_id_invalid"),
])
async def test_a_rule_set_that_could_not_mean_what_it_says_is_refused_naming_the_field(
        icpt: Any, document: str, field: str) -> None:
    before = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules

    fields, _ = await refused(icpt.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
        document_json=document, comment="bad", actor="ops"), timeout=10))

    assert fields == [field]
    after = (await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest())).rules
    assert after.version == before.version


@pytest.mark.parametrize(("facts", "field"), [
    ({"credit_grade": "F"}, "credit_grade"),
    ({"customer_type": "firm"}, "customer_type"),
    ({"weight_grams": -1}, "weight_grams"),
    ({"promised_hours": 24 * 61}, "promised_hours"),
    ({"custom_params": {"font": "楷\x00体"}}, "custom_params['font']"),
])
async def test_facts_that_cannot_be_read_refuse_the_order_naming_the_field(
        hub: Any, icpt: Any, facts: dict[str, Any], field: str) -> None:
    fields, _ = await refused(hub.SyncOrders(opb.SyncOrdersRequest(
        orders=[order("B1", **facts)]), timeout=10))

    assert fields == [f"orders[0].pre_shipping.{field}"]
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await get_order(hub, "B1")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
