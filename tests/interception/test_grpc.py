"""Each interception rule of seed 004 (and seed 003's finance review) through the gRPC
API against real Redis: SyncOrders holds the order and opens a review; ListReviews shows
it; ResolveReview decides in the operator's name, which the order's history keeps."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from reservation.interception.rules import SEED_DOCUMENT
from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.orders import channel_order, get_order, history, key, sync
from tests.helpers.reservations import load

NOW = int(time.time())


@pytest.fixture
async def hub(stubs: Any) -> AsyncIterator[order_service_pb2_grpc.OrderServiceStub]:
    await load(stubs, ("SKU-1", "WH-A", 100))
    yield order_service_pb2_grpc.OrderServiceStub(stubs.channel)


@pytest.fixture
async def icpt(stubs: Any, hub: Any) -> igrpc.InterceptionServiceStub:
    stub = igrpc.InterceptionServiceStub(stubs.channel)
    await stub.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
        document_json=json.dumps(SEED_DOCUMENT), comment="seed 004", actor="ops"), timeout=10)
    return stub


def order(oid: str, phone: str, *lines: opb.OrderItem, **kw: Any) -> opb.ChannelOrder:
    kw.setdefault("modified_s", NOW - 60)
    return channel_order(oid, kw.pop("state", "PAID"), *lines, phone=phone, **kw)


async def reviews(icpt: Any, status: str = "open") -> dict[str, ipb.Review]:
    got = await icpt.ListReviews(ipb.ListReviewsRequest(status=status), timeout=10)
    return {r.key.order_id: r for r in got.reviews}


async def test_refund_within_ten_minutes_opens_a_review_and_printing_stays_paused(
        hub: Any, icpt: Any) -> None:
    created = NOW - 3600
    await sync(hub, order("R1", "13900000001", created_s=created, modified_s=created + 1),
               order("R2", "13900000002", created_s=created, modified_s=created + 1))
    [early, late] = await sync(
        hub, order("R1", "13900000001", state="REFUND_REQUESTED", created_s=created,
                   modified_s=created + 5 * 60),
        order("R2", "13900000002", state="REFUND_REQUESTED", created_s=created,
              modified_s=created + 30 * 60))
    assert early.outcome == opb.SYNC_OUTCOME_ON_HOLD and early.state == "REFUND_REQUESTED"
    assert late.outcome != opb.SYNC_OUTCOME_ON_HOLD
    open_ = await reviews(icpt)
    assert list(open_) == ["R1"]
    assert (open_["R1"].rule, open_["R1"].grade) == ("refund within 10 minutes", "A")
    assert "300 s after ordering" in open_["R1"].reason
    # The operator refuses the refund: the order goes on, in her name.
    done = await icpt.ResolveReview(ipb.ResolveReviewRequest(
        key=key("R1"), decision="approve", operator="alice"), timeout=10)
    assert (done.review.status, done.review.operator) == ("approved", "alice")
    assert done.order.state == "ROUTED"
    assert any(e.actor == "operator:alice" for e in await history(hub, "R1"))


async def test_a_vague_address_is_held_until_an_operator_edits_it(hub: Any,
                                                                  icpt: Any) -> None:
    [r] = await sync(hub, order("V1", "13900000011", detail="人民广场附近，大概在地铁口"))
    assert (r.outcome, r.state) == (opb.SYNC_OUTCOME_ON_HOLD, "ON_HOLD")
    review = (await reviews(icpt))["V1"]
    assert review.rule == "vague address" and "附近, 大概" in review.reason
    assert (await get_order(hub, "V1")).state == "ON_HOLD"
    # The channel reporting "paid" again does not release it: a person does.
    await sync(hub, order("V1", "13900000011", detail="人民广场附近，大概在地铁口",
                          modified_s=NOW - 30))
    assert (await get_order(hub, "V1")).state == "ON_HOLD"
    # Approved as it is: the poller's next (overlapping) copy does not hold it again.
    await sync(hub, order("V2", "13900000012", detail="电影院对面"))
    await icpt.ResolveReview(ipb.ResolveReviewRequest(key=key("V2"), decision="approve",
                                                      operator="bob"), timeout=10)
    await sync(hub, order("V2", "13900000012", detail="电影院对面"))
    assert (await get_order(hub, "V2")).state == "ROUTED"
    done = await icpt.ResolveReview(ipb.ResolveReviewRequest(
        key=key("V1"), decision="edit_address", operator="bob",
        address=opb.Address(province="Zhejiang", city="Hangzhou", district="Xihu",
                            detail="人民广场 1 号")), timeout=10)
    assert done.order.state == "ROUTED" and done.order.address.detail == "人民广场 1 号"
    actors = {e.actor for e in await history(hub, "V1")}
    assert {"rule:vague address", "operator:bob"} <= actors


async def test_a_vague_address_rule_uses_its_own_word_list(hub: Any, icpt: Any) -> None:
    # A seller's own list (a campus with a gatehouse, parcel lockers) replaces the built-in
    # one: its words hold an order, a built-in word it left out ("附近") does not.
    doc = {"rules": [{"name": "vague address", "when": {"address_words": ["门卫", "快递柜"]},
                      "then": {"hold": "vague address: confirm with the buyer", "grade": "A"}}]}
    await icpt.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
        document_json=json.dumps(doc, ensure_ascii=False), actor="ops"), timeout=10)
    [own, builtin] = await sync(hub, order("W1", "13900000061", detail="科技园北门门卫室"),
                                order("W2", "13900000062", detail="人民广场附近"))
    assert (own.state, builtin.state) == ("ON_HOLD", "ROUTED")
    assert "门卫" in (await reviews(icpt))["W1"].reason


async def test_a_missing_district_is_held_and_a_rejection_cancels(hub: Any,
                                                                  icpt: Any) -> None:
    o = order("D1", "13900000021")
    o.address.district = ""
    [r] = await sync(hub, o)
    assert r.state == "ON_HOLD"
    assert "district" in (await reviews(icpt))["D1"].reason
    done = await icpt.ResolveReview(ipb.ResolveReviewRequest(
        key=key("D1"), decision="reject", operator="carol", note="buyer unreachable"),
        timeout=10)
    assert (done.review.status, done.order.state) == ("rejected", "CANCELLED")


async def test_the_third_order_of_one_phone_in_a_day_is_frozen(hub: Any, icpt: Any) -> None:
    results = await sync(hub, *[order(f"P{i}", "13900000031", detail=f"{i} Lake Rd")
                                for i in range(4)])
    assert [r.state for r in results] == ["ROUTED", "ROUTED", "ON_HOLD", "ON_HOLD"]
    open_ = await reviews(icpt)
    assert sorted(open_) == ["P2", "P3"]
    assert {r.grade for r in open_.values()} == {"C"}
    assert "3 orders from this phone today" in open_["P2"].reason


async def test_a_large_credit_card_payment_goes_to_finance_review(hub: Any,
                                                                 icpt: Any) -> None:
    big = [opb.OrderItem(sku="SKU-1", quantity=1, price=600000)]
    card = order("F1", "13900000041", *big)
    card.total, card.paid, card.payment_method = 600000, 600000, "credit_card"
    balance = order("F2", "13900000042", *big)
    balance.total, balance.paid, balance.payment_method = 600000, 600000, "balance"
    [r1, r2] = await sync(hub, card, balance)
    assert (r1.state, r2.state) == ("ON_HOLD", "ROUTED")
    assert (await reviews(icpt))["F1"].rule == "large credit card payment"


async def test_a_promotion_rule_switched_on_and_off_by_an_operator(hub: Any,
                                                                  icpt: Any) -> None:
    doc = {"rules": [*SEED_DOCUMENT["rules"], {
        "name": "double 11 bulk check", "enabled": False,
        "when": {"channel": ["jd"], "amount_above": 5000},
        "then": {"hold": "promotion: bulk buyer check", "grade": "B", "suggest": "SKU-LITE"}}]}
    put = await icpt.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
        document_json=json.dumps(doc), actor="ops"), timeout=10)
    bulk = [opb.OrderItem(sku="SKU-1", quantity=5, price=1999)]
    [off] = await sync(hub, order("B1", "13900000051", *bulk, detail="1 Lake Rd"))
    on = await icpt.SetInterceptionRuleEnabled(ipb.SetInterceptionRuleEnabledRequest(
        name="double 11 bulk check", enabled=True, actor="ops"), timeout=10)
    [held] = await sync(hub, order("B2", "13900000052", *bulk, detail="2 Lake Rd"))
    await icpt.SetInterceptionRuleEnabled(ipb.SetInterceptionRuleEnabledRequest(
        name="double 11 bulk check", enabled=False, actor="ops"), timeout=10)
    [after] = await sync(hub, order("B3", "13900000053", *bulk, detail="3 Lake Rd"))
    assert (off.state, held.state, after.state) == ("ROUTED", "ON_HOLD", "ROUTED")
    assert on.rules.version == put.rules.version + 1
    review = (await reviews(icpt))["B2"]
    assert (review.grade, review.suggest) == ("B", "SKU-LITE")


async def test_a_review_closed_by_the_channel_counts_as_self_healed(hub: Any,
                                                                   icpt: Any) -> None:
    await sync(hub, order("H1", "13900000061", detail="学校旁边"),
               order("H2", "13900000062", detail="学校对面"))
    await sync(hub, order("H1", "13900000061", state="CANCELLED", detail="学校旁边",
                          modified_s=NOW - 30))
    await icpt.ResolveReview(ipb.ResolveReviewRequest(key=key("H2"), decision="reject",
                                                      operator="dave"), timeout=10)
    closed = await reviews(icpt, "closed")
    assert (closed["H1"].status, closed["H2"].status) == ("automatic", "rejected")
    stats = await icpt.GetReviewStats(ipb.GetReviewStatsRequest(), timeout=10)
    assert (stats.opened, stats.closed_by_person, stats.closed_automatically) == (2, 1, 1)
    assert stats.self_healing_rate == 0.5


async def test_bad_input_is_invalid_argument_naming_the_field_and_changes_nothing(
        hub: Any, icpt: Any) -> None:
    before = await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest(), timeout=10)
    bad = {"rules": [{"name": "x", "when": {"amount_above": 1}, "then": {"hold": "h",
                                                                         "grade": "Z"}}]}
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await icpt.PutInterceptionRules(ipb.PutInterceptionRulesRequest(
            document_json=json.dumps(bad)), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rules[0].then.grade" in caught.value.details()
    after = await icpt.GetInterceptionRules(ipb.GetInterceptionRulesRequest(), timeout=10)
    assert after.rules.version == before.rules.version
    await sync(hub, order("X1", "13900000071", detail="附近"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await icpt.ResolveReview(ipb.ResolveReviewRequest(key=key("X1"), decision="maybe",
                                                          operator="eve"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "decision" in caught.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await icpt.ResolveReview(ipb.ResolveReviewRequest(key=key("X1"), decision="approve"),
                                 timeout=10)
    assert "operator" in caught.value.details()
    assert "X1" in await reviews(icpt)  # still open
    assert (await get_order(hub, "X1")).state == "ON_HOLD"
