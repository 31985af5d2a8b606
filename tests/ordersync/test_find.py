"""FindOrders through the gRPC API against real Redis: a customer's phone finds every
order of that buyer on every channel and shop and nothing of another buyer; an order
number finds that number on every channel; a tracking number its order. What each
answer says is stated here from the rule (4 h to ship after payment unless the
channel's SLA says otherwise, 72 h to deliver after), not read back from the service."""

from __future__ import annotations

from typing import Any

import pytest

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, key, sync
from tests.helpers.snapshots import redis_snapshot


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The guard's periodic tick rewrites a sold SKU's guard hash on its own (safety
    stock): once an hour here, so a snapshot around a refused call sees only the call."""
    return {"breaker_tick_ms": 3_600_000}

ANN, BOB = "13800000001", "13900000002"
H_MS = 3600 * 1000


def _order(oid: str, channel: str, phone: str, street: str, shop: str = "shop-1",
           state: str = "PAID") -> opb.ChannelOrder:
    return channel_order(oid, state, ("SKU-1", 1), channel=channel, shop=shop, phone=phone,
                         detail=street)


async def _find(hub: Any, **ask: Any) -> list[opb.FoundOrder]:
    return list((await hub.FindOrders(opb.FindOrdersRequest(**ask), timeout=10)).orders)


def _refs(found: list[opb.FoundOrder]) -> set[tuple[str, str, str]]:
    return {(f.order.channel, f.order.shop, f.order.order_id) for f in found}


ANNS = {("jd", "shop-1", "A1"), ("pdd", "shop-1", "A2"), ("taobao", "shop-9", "A3"),
        ("douyin", "shop-1", "A4")}


@pytest.fixture
async def day(hub: Any) -> Any:
    """Ann's orders on four channels and two shops (A4 with A1's address on another
    channel: held as a suspected duplicate), Bob's on two, one number (A1) on two
    channels, and A1 shipped."""
    await sync(hub, _order("A1", "jd", ANN, "1 Lake Rd"), _order("A2", "pdd", ANN, "2 Hill St"),
               _order("A3", "taobao", ANN, "3 Bay Ave", shop="shop-9", state="PENDING_PAYMENT"),
               _order("B1", "jd", BOB, "9 Far Rd"), _order("A1", "pdd", BOB, "9 Far Rd"))
    await sync(hub, _order("A4", "douyin", ANN, "1 Lake Rd"))
    await hub.ReportShipment(opb.ReportShipmentRequest(
        key=key("A1"), shipment=opb.Shipment(carrier="SF", tracking_number="SF-100")),
        timeout=10)
    return hub


async def test_a_phone_finds_every_order_of_that_buyer_and_none_of_another(day: Any) -> None:
    assert _refs(await _find(day, phone=ANN)) == ANNS
    # The same phone written with separators is the same buyer.
    assert _refs(await _find(day, phone="138-0000-0001")) == ANNS
    assert _refs(await _find(day, phone=BOB)) == {("jd", "shop-1", "B1"), ("pdd", "shop-1", "A1")}
    assert await _find(day, phone="13700000003") == []


async def test_an_order_number_finds_it_on_every_channel_and_a_tracking_number_its_order(
        day: Any) -> None:
    assert _refs(await _find(day, order_number="A1")) == {("jd", "shop-1", "A1"),
                                                          ("pdd", "shop-1", "A1")}
    assert _refs(await _find(day, tracking_number="SF-100")) == {("jd", "shop-1", "A1")}
    assert await _find(day, tracking_number="SF-999") == []


async def test_each_order_says_its_step_last_operator_times_hold_and_tracking(day: Any) -> None:
    found = {f.order.order_id: f for f in await _find(day, phone=ANN)}
    shipped, paid, unpaid, held = found["A1"], found["A2"], found["A3"], found["A4"]

    assert (shipped.step, shipped.last_actor, shipped.carrier, shipped.tracking_number) == (
        "shipped", "wms", "SF", "SF-100")
    assert shipped.ship_by == shipped.order.shipped_at
    assert shipped.deliver_by.ToMilliseconds() == shipped.order.shipped_at.ToMilliseconds() + 72 * H_MS

    # Routed on arrival: the router made its last change.
    assert paid.step == "routed to a warehouse" and paid.last_actor == "rule:router"
    assert paid.ship_by.ToMilliseconds() == paid.order.paid_at.ToMilliseconds() + 4 * H_MS
    assert paid.deliver_by.ToMilliseconds() == paid.ship_by.ToMilliseconds() + 72 * H_MS
    assert paid.tracking_number == "" and paid.held_because == ""

    assert unpaid.step == "awaiting payment"
    assert not unpaid.HasField("ship_by") and not unpaid.HasField("deliver_by")

    assert held.step == "held for review" and "suspected duplicate" in held.held_because


async def test_page_size_keeps_the_newest(day: Any) -> None:
    # A4 was synced last, with the same created time as the others: ties by ref.
    assert len(await _find(day, phone=ANN, page_size=2)) == 2


@pytest.mark.parametrize(("ask", "field"), [
    ({}, "phone"),
    ({"phone": ANN, "order_number": "A1"}, "order_number"),
    ({"order_number": "A1", "tracking_number": "SF-100"}, "tracking_number"),
    ({"phone": "call me"}, "phone"),
    ({"tracking_number": "SF\t1"}, "tracking_number"),
    ({"order_number": "x" * 257}, "order_number"),
    ({"phone": ANN, "page_size": 201}, "page_size"),
    ({"phone": ANN, "page_size": -1}, "page_size"),
])
async def test_bad_input_is_invalid_argument_naming_the_field_and_changes_nothing(
        day: Any, redis_url: str, ask: dict[str, Any], field: str) -> None:
    before = await redis_snapshot(redis_url)
    fields, _ = await refused(day.FindOrders(opb.FindOrdersRequest(**ask), timeout=10))
    assert fields == [field]
    assert await redis_snapshot(redis_url) == before
