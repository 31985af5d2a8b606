"""Nothing ships past a hold. An order ON_HOLD (held for review) or REFUND_REQUESTED
(the buyer asked for the money back) gets no label: a move to ALLOCATED or PRINTED is
refused naming the state and why it is held. A shipment reported for it all the same
is a fact, not a request: it is recorded as one step to SHIPPED, its units are sold,
the order is flagged "intercept failed" and a review is opened; no steps are invented."""

from __future__ import annotations

import grpc
import pytest

from reservation.v1 import interception_service_pb2 as ipb
from reservation.v1 import interception_service_pb2_grpc as igrpc
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, get_order, history, key, move, sync, when
from tests.helpers.reservations import counters, levels


def shipment(tracking: str = "SF1001") -> opb.Shipment:
    s = opb.Shipment(carrier="SF", tracking_number=tracking)
    s.shipped_at.FromSeconds(when(5000))
    return s


async def on_hold(hub, order_id: str) -> None:
    await sync(hub, channel_order(order_id, "PAID", ("SKU-1", 1), modified_s=1000))
    await move(hub, order_id, "ON_HOLD", reason="confirm the address")


async def refund_requested(hub, order_id: str) -> None:
    await sync(hub, channel_order(order_id, "PAID", ("SKU-1", 1), modified_s=1000))
    await sync(hub, channel_order(order_id, "REFUND_REQUESTED", ("SKU-1", 1), modified_s=1001))


async def open_reviews(stubs) -> dict[str, ipb.Review]:
    stub = igrpc.InterceptionServiceStub(stubs.channel)
    got = await stub.ListReviews(ipb.ListReviewsRequest(status="open"), timeout=10)
    return {r.key.order_id: r for r in got.reviews}


def steps_since_hold(events: list[opb.OrderEvent], held: str) -> list[tuple[str, str]]:
    moves = [(e.from_state, e.to_state) for e in events if e.type == "TRANSITION"]
    last = max(i for i, (_, to) in enumerate(moves) if to == held)
    return moves[last + 1:]


@pytest.mark.parametrize("to", ["ALLOCATED", "PRINTED"])
@pytest.mark.parametrize("held,reach,why", [
    ("ON_HOLD", on_hold, "confirm the address"),
    ("REFUND_REQUESTED", refund_requested, "refund requested"),
])
async def test_no_label_while_held(hub, held, reach, why, to):
    await reach(hub, "H1")
    before = await get_order(hub, "H1")

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await move(hub, "H1", to, actor="wms")

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert held in exc.value.details() and why in exc.value.details()
    assert to in exc.value.details()
    assert (await get_order(hub, "H1")).version == before.version


@pytest.mark.parametrize("held,reach", [("ON_HOLD", on_hold),
                                        ("REFUND_REQUESTED", refund_requested)])
async def test_a_shipment_reported_for_a_held_order_is_a_flagged_fact(hub, stubs, held, reach):
    """Defect 4: the WMS's report ships the order in one recorded step, flagged."""
    await reach(hub, "H1")

    reply = await hub.ReportShipment(opb.ReportShipmentRequest(
        key=key("H1"), shipment=shipment(), actor="wms"), timeout=10)

    order = await get_order(hub, "H1")
    events = await history(hub, "H1")
    assert reply.order.state == order.state == "SHIPPED"
    assert steps_since_hold(events, held) == [(held, "SHIPPED")]
    assert order.intercept_failed
    assert order.review[-1].startswith("intercept failed: shipped with SF SF1001 while " + held)
    assert "INTERCEPT_FAILED" in [e.type for e in events]
    assert order.reservation_state == "CONFIRMED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)
    review = (await open_reviews(stubs))["H1"]
    assert (review.rule, review.state_before) == ("intercept failed", held)


async def test_a_channel_reporting_a_held_order_shipped_is_the_same_fact(hub, stubs):
    await on_hold(hub, "H2")

    [r] = await sync(hub, channel_order("H2", "DELIVERED", ("SKU-1", 1), modified_s=1002))

    order = await get_order(hub, "H2")
    assert r.state == "DELIVERED" and order.intercept_failed
    assert steps_since_hold(await history(hub, "H2"), "ON_HOLD") == [
        ("ON_HOLD", "SHIPPED"), ("SHIPPED", "DELIVERED")]
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)
    assert (await open_reviews(stubs))["H2"].rule == "intercept failed"


async def test_an_unpaid_order_shipped_while_held_has_its_units_sold(hub, stubs):
    await sync(hub, channel_order("H3", "PENDING_PAYMENT", ("SKU-1", 2), modified_s=1000))
    await move(hub, "H3", "ON_HOLD", reason="vague address")

    await hub.ReportShipment(opb.ReportShipmentRequest(
        key=key("H3"), shipment=shipment("SF3"), actor="wms"), timeout=10)

    assert (await get_order(hub, "H3")).reservation_state == "CONFIRMED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 0, 2)


async def test_a_refund_request_withdrawn_after_shipping_goes_back_to_shipped(hub):
    await sync(hub, channel_order("S1", "SHIPPED", ("SKU-1", 1), modified_s=1000))
    await sync(hub, channel_order("S1", "REFUND_REQUESTED", ("SKU-1", 1), modified_s=1001))

    reply = await move(hub, "S1", "SHIPPED", actor="operator:ann", reason="refund declined")

    assert reply.order.state == "SHIPPED" and not reply.order.intercept_failed


async def test_an_operator_cannot_ship_a_refund_request_that_never_shipped(hub):
    await refund_requested(hub, "S2")

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await move(hub, "S2", "SHIPPED", actor="operator:ann")

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "REFUND_REQUESTED" in exc.value.details()
