"""Fulfilment figures on a scripted day: the hub's clock is set by the test (its only
seam), every call goes through the gRPC API."""

from __future__ import annotations

from datetime import UTC, datetime

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, key, sync

DAY = "2026-11-20"
D0 = int(datetime(2026, 11, 20, tzinfo=UTC).timestamp())
H = 3600


def at(order: opb.ChannelOrder, paid_s: int = 0) -> opb.ChannelOrder:
    if paid_s:
        order.paid_at.FromSeconds(paid_s)
    return order


async def ship(hub, order_id: str, shipped_s: int) -> None:
    s = opb.Shipment(carrier="SF", tracking_number=f"SF-{order_id}")
    s.shipped_at.FromSeconds(shipped_s)
    await hub.ReportShipment(opb.ReportShipmentRequest(key=key(order_id), shipment=s),
                             timeout=10)


async def test_funnel_on_time_rate_medians_and_late_orders_of_a_day(app, hub):
    clock = [(D0 + 10 * H) * 1000]
    app.orders.clock = lambda: clock[0]
    ten = D0 + 10 * H
    phones = iter(f"1370000{i:04d}" for i in range(100))

    def order(oid: str, state: str, qty: int = 1, modified: int = ten) -> opb.ChannelOrder:
        return channel_order(oid, state, ("SKU-1", qty), created_s=ten - 600,
                             modified_s=modified, phone=next(phones))

    # F1 paid and routed at 10:00, shipped 12:00, delivered: on time.
    await sync(hub, at(order("F1", "PAID"), ten))
    # F2 pending at 10:00; the payment (10:00) reaches the hub at 13:00: routed late.
    await sync(hub, order("F2", "PENDING_PAYMENT"))
    # F3 paid and routed at 10:00, shipped at 15:00: shipped late.
    await sync(hub, at(order("F3", "PAID"), ten))
    # F4 paid at 10:00 with no stock for it: on hold, never routed.
    await sync(hub, at(order("F4", "PAID", qty=500), ten))
    # F5 never paid.
    await sync(hub, order("F5", "PENDING_PAYMENT"))
    await ship(hub, "F1", ten + 2 * H)
    await ship(hub, "F3", ten + 5 * H)
    clock[0] = (ten + 3 * H) * 1000
    await sync(hub, at(order("F2", "PAID", modified=ten + 1), ten))
    await sync(hub, at(order("F1", "DELIVERED", modified=ten + 1), ten))
    clock[0] = (ten + 4 * H) * 1000

    reply = await hub.GetFulfilmentStats(opb.GetFulfilmentStatsRequest(day=DAY), timeout=30)

    total = reply.rows[-1]
    assert (total.channel, total.warehouse_id) == ("", "")
    assert (total.created, total.paid, total.routed, total.shipped, total.delivered) == (
        5, 4, 3, 2, 1)
    assert total.on_time_rate == 0.25
    assert total.median_pay_to_route.ToSeconds() == 0
    assert total.median_pay_to_ship.ToSeconds() == 3.5 * H
    assert sorted((late.key.order_id, late.reason) for late in total.late) == [
        ("F2", "routed after 120 min"),
        ("F3", "shipped after 240 min"),
        ("F4", "not routed 15 min after payment"),
    ]
    by_wh = {(r.channel, r.warehouse_id): r.paid for r in reply.rows[:-1]}
    assert by_wh == {("jd", "WH-A"): 3, ("jd", ""): 1}


async def test_a_bad_day_is_invalid_argument(hub):
    import grpc
    import pytest

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await hub.GetFulfilmentStats(opb.GetFulfilmentStatsRequest(day="22/11/2026"),
                                     timeout=10)

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
