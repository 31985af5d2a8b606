"""A channel's times are bounded: before 2000 or more than the allowed skew
(RESERVATION_ORDER_FUTURE_SKEW_MS, 1 day by default) in the future is INVALID_ARGUMENT
naming the field, and nothing is written. A typo of year 9999 would otherwise freeze
the order: every later real sync would be older, so STALE."""

from __future__ import annotations

import time

import grpc
import pytest

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.errors import bad_request_fields
from tests.helpers.orders import channel_order, get_order, key, sync

YEAR_9999_S = 253_402_300_799          # 9999-12-31T23:59:59Z
BEFORE_2000_S = 946_684_799            # 1999-12-31T23:59:59Z
HOUR_S = 3600


def real_order(modified_s: int) -> opb.ChannelOrder:
    return channel_order("T1", "PAID", ("SKU-1", 1), modified_s=modified_s,
                         created_s=int(time.time()) - HOUR_S)


@pytest.mark.parametrize("field", ["modified_at", "created_at", "paid_at"])
@pytest.mark.parametrize("seconds", [YEAR_9999_S, BEFORE_2000_S])
async def test_an_order_time_out_of_bounds_names_the_field(hub, field, seconds):
    """Defect 10."""
    o = real_order(int(time.time()))
    getattr(o, field).FromSeconds(seconds)

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await sync(hub, o)

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(exc.value) == [f"orders[0].{field}"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await get_order(hub, "T1")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_refused_typo_does_not_freeze_the_order(hub):
    now = int(time.time())
    await sync(hub, real_order(now - 60))
    with pytest.raises(grpc.aio.AioRpcError):
        await sync(hub, real_order(YEAR_9999_S))

    [r] = await sync(hub, channel_order("T1", "CANCELLED", ("SKU-1", 1), modified_s=now,
                                        created_s=now - HOUR_S))

    assert (r.outcome, r.state) == (opb.SYNC_OUTCOME_UPDATED, "CANCELLED")


async def test_a_time_within_the_skew_is_taken(hub):
    [r] = await sync(hub, real_order(int(time.time()) + HOUR_S))

    assert r.outcome == opb.SYNC_OUTCOME_CREATED


@pytest.mark.parametrize("seconds", [YEAR_9999_S, BEFORE_2000_S])
async def test_a_shipment_time_out_of_bounds_names_the_field(hub, seconds):
    await sync(hub, real_order(int(time.time())))
    s = opb.Shipment(carrier="SF", tracking_number="SF1")
    s.shipped_at.FromSeconds(seconds)

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await hub.ReportShipment(opb.ReportShipmentRequest(key=key("T1"), shipment=s),
                                 timeout=10)

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(exc.value) == ["shipment.shipped_at"]
    assert (await get_order(hub, "T1")).state == "ROUTED"
