"""The stock effect of a change is the effect of the path it walks, from the state the
order had (or from nothing, when the hub first sees it): every path through SyncOrders
and ReportShipment against a real Redis, with a short hold TTL so that a hold that
should not expire is seen not to.

The rule, stated here on its own: an order the hub knows holds its units while unpaid
(until the hold TTL), has them sold (confirmed) once it is paid or has left a warehouse,
and gives them back when cancelled or refunded before shipping."""

from __future__ import annotations

from typing import Any

import pytest

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, get_order, history, key, sync, when
from tests.helpers.reservations import counters, levels, load
from tests.helpers.waiting import wait_until

HOLD_TTL_MS = 400


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"order_hold_ttl_ms": HOLD_TTL_MS, "expiry_grace_ms": 0}


def shipment(tracking: str) -> opb.Shipment:
    s = opb.Shipment(carrier="SF", tracking_number=tracking)
    s.shipped_at.FromSeconds(when(5000))
    return s


async def hold_ttl_passed(hub, stubs) -> None:
    """Returns once an unpaid hold made now has expired and been swept: every hold made
    before it that was going to expire has expired too (the sweeper takes them in
    expiry order). The witness holds a SKU of its own, so no count under test moves."""
    await load(stubs, ("WITNESS-1", "WH-A", 1))
    await sync(hub, channel_order("WITNESS", "PENDING_PAYMENT", ("WITNESS-1", 1),
                                  phone="13700000009"))

    async def probe() -> opb.Order:
        return await get_order(hub, "WITNESS")

    await wait_until(probe, lambda o: o.reservation_state == "EXPIRED",
                     "the witness hold to expire")


def transitions(events: list[opb.OrderEvent]) -> list[str]:
    return [e.to_state for e in events if e.type == "TRANSITION"]


async def test_unpaid_orders_shipped_by_a_jump_keep_their_units_past_the_hold_ttl(hub, stubs):
    """Defect 1: the issue's reproduction. Two units; A and B unpaid, A reported SHIPPED
    by its channel, B reported shipped by the WMS; past the TTL, C and D pay: there is
    nothing left for them, and the two units stay sold to A and B."""
    await load(stubs, ("TWO-1", "WH-A", 2))
    await sync(hub, channel_order("A", "PENDING_PAYMENT", ("TWO-1", 1), modified_s=1000),
           channel_order("B", "PENDING_PAYMENT", ("TWO-1", 1), modified_s=1000,
                         phone="13700000002"))
    await sync(hub, channel_order("A", "SHIPPED", ("TWO-1", 1), modified_s=1001))
    await hub.ReportShipment(opb.ReportShipmentRequest(key=key("B"), shipment=shipment("SF2"),
                                                       actor="wms"), timeout=10)
    await hold_ttl_passed(hub, stubs)

    late = await sync(hub, channel_order("C", "PAID", ("TWO-1", 1), phone="13700000003"),
                      channel_order("D", "PAID", ("TWO-1", 1), phone="13700000004"))

    assert [r.state for r in late] == ["ON_HOLD", "ON_HOLD"]
    assert [r.stock_reason for r in late] == ["SOLD_OUT TWO-1"] * 2
    assert counters(await levels(stubs, "TWO-1")) == {"WH-A": (0, 0, 2)}
    for oid in ("A", "B"):
        order = await get_order(hub, oid)
        assert (order.state, order.reservation_state) == ("SHIPPED", "CONFIRMED")


@pytest.mark.parametrize("state", ["SHIPPED", "DELIVERED"])
async def test_an_order_first_seen_shipped_has_its_units_sold(hub, stubs, state):
    """Defect 2: first seen late, the order takes the path from nothing: held, paid,
    shipped; its units are sold, not left in stock for another order."""
    [r] = await sync(hub, channel_order("L1", state, ("SKU-1", 2)))
    await hold_ttl_passed(hub, stubs)

    order = await get_order(hub, "L1")
    assert r.state == state
    assert order.reservation_state == "CONFIRMED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 0, 2)
    assert transitions(await history(hub, "L1"))[:5] == [
        "PAID", "ROUTED", "ALLOCATED", "PRINTED", "SHIPPED"]


async def test_a_paid_order_first_seen_on_hold_is_sold_and_never_expires(hub, stubs):
    """Defect 3: Taobao's PAID_FORBID_CONSIGN (paid, shipping forbidden) arrives as
    ON_HOLD with its payment time: PAID enters its history and its units are sold, so
    the hold cannot expire while the order waits for review."""
    o = channel_order("H1", "ON_HOLD", ("SKU-1", 1), channel="taobao", shop="tb-1",
                      raw_status="PAID_FORBID_CONSIGN")
    o.paid_at.FromSeconds(when(999))

    [r] = await sync(hub, o)
    await hold_ttl_passed(hub, stubs)

    order = await get_order(hub, "H1", channel="taobao", shop="tb-1")
    assert r.state == "ON_HOLD"
    assert transitions(await history(hub, "H1", channel="taobao", shop="tb-1")) == [
        "PAID", "ON_HOLD"]
    assert order.reservation_state == "CONFIRMED" and order.paid_at.seconds == when(999)
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)


async def test_an_unpaid_order_on_hold_that_is_then_paid_is_sold_and_stays_held(hub, stubs):
    """Paid while it waits for review: the payment is recorded and the units sold; the
    order stays on hold (a person releases it, not the channel's "paid")."""
    await sync(hub, channel_order("H2", "PENDING_PAYMENT", ("SKU-1", 1), modified_s=1000))
    await hub.UpdateOrderState(opb.UpdateOrderStateRequest(
        key=key("H2"), state="ON_HOLD", actor="operator:ann", reason="call the buyer"),
        timeout=10)

    [r] = await sync(hub, channel_order("H2", "PAID", ("SKU-1", 1), modified_s=1001))
    await hold_ttl_passed(hub, stubs)

    order = await get_order(hub, "H2")
    assert r.state == "ON_HOLD"
    assert transitions(await history(hub, "H2"))[-2:] == ["PAID", "ON_HOLD"]
    assert order.reservation_state == "CONFIRMED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)


async def test_an_unpaid_order_on_hold_still_expires(hub, stubs):
    """The rule's other half: unpaid, on hold or not, a hold lasts the TTL."""
    await sync(hub, channel_order("H3", "ON_HOLD", ("SKU-1", 1)))
    await hold_ttl_passed(hub, stubs)

    assert (await get_order(hub, "H3")).reservation_state == "EXPIRED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


@pytest.mark.parametrize("state", ["CANCELLED", "CLOSED"])
async def test_an_order_first_seen_ended_holds_nothing(hub, stubs, state):
    [r] = await sync(hub, channel_order("E1", state, ("SKU-1", 3)))

    assert r.state == state
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


async def test_an_order_first_seen_refunded_holds_nothing(hub, stubs):
    [r] = await sync(hub, channel_order("E2", "REFUNDED", ("SKU-1", 3)))

    assert r.state == "REFUNDED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


async def test_a_refund_request_the_channel_closes_before_shipping_gives_the_units_back(
        hub, stubs):
    """Found by the model (test_model.py): REFUND_REQUESTED -> CLOSED kept the units sold
    for an order that never shipped."""
    await sync(hub, channel_order("C1", "PAID", ("SKU-1", 2), modified_s=1000))
    await sync(hub, channel_order("C1", "REFUND_REQUESTED", ("SKU-1", 2), modified_s=1001))

    [r] = await sync(hub, channel_order("C1", "CLOSED", ("SKU-1", 2), modified_s=1002))

    assert r.state == "CLOSED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


async def test_a_refund_request_for_an_unpaid_order_on_hold_records_the_payment(hub, stubs):
    """Found by the model: ON_HOLD -> REFUND_REQUESTED is one step of the table, so the
    payment a refund request implies was skipped and the unpaid hold expired under a
    refund request (a paid order's units)."""
    await sync(hub, channel_order("H4", "PENDING_PAYMENT", ("SKU-1", 1), modified_s=1000))
    await hub.UpdateOrderState(opb.UpdateOrderStateRequest(
        key=key("H4"), state="ON_HOLD", actor="operator:ann", reason="call the buyer"),
        timeout=10)

    [r] = await sync(hub, channel_order("H4", "REFUND_REQUESTED", ("SKU-1", 1),
                                        modified_s=1001))
    await hold_ttl_passed(hub, stubs)

    assert r.state == "REFUND_REQUESTED"
    assert transitions(await history(hub, "H4"))[-2:] == ["PAID", "REFUND_REQUESTED"]
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)


async def test_units_are_held_once_on_arrival_then_only_a_sale_takes_them(hub, stubs):
    """An unpaid order that found no stock waits for review holding nothing; sent back to
    wait for payment it still holds nothing (a hold is made once, on arrival); paid, it
    takes its units."""
    from reservation.v1 import interception_service_pb2 as ipb
    from reservation.v1 import interception_service_pb2_grpc as igrpc

    [r] = await sync(hub, channel_order("N1", "PENDING_PAYMENT", ("SKU-1", 20),
                                        modified_s=1000))
    await load(stubs, ("SKU-1", "WH-A", 10))
    decided = await igrpc.InterceptionServiceStub(stubs.channel).ResolveReview(
        ipb.ResolveReviewRequest(key=key("N1"), decision="approve", operator="ann"),
        timeout=10)
    waiting = counters(await levels(stubs, "SKU-1"))["WH-A"]

    [paid] = await sync(hub, channel_order("N1", "PAID", ("SKU-1", 20), modified_s=1001))

    assert (r.state, r.stock_reason) == ("ON_HOLD", "SOLD_OUT SKU-1")
    assert decided.order.state == "PENDING_PAYMENT" and waiting == (20, 0, 0)
    assert paid.state == "ROUTED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (0, 0, 20)
