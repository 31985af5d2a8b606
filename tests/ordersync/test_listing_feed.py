"""ListOrders (by channel, state, warehouse, time; paged) and a channel adapter's feed
(tracking numbers pulled and acknowledged)."""

from __future__ import annotations

import time

import pytest

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, key, sync
from tests.helpers.reservations import load


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"order_event_groups": "audit,feed-jd", "write_back_visibility_timeout_ms": 300}


async def list_all(hub, **kw) -> list[str]:
    ids, token = [], ""
    while True:
        page = await hub.ListOrders(opb.ListOrdersRequest(page_size=2, page_token=token,
                                                          **kw), timeout=10)
        ids += [o.order_id for o in page.orders]
        token = page.next_page_token
        if not token:
            return ids


async def test_list_filters_by_channel_state_warehouse_and_time_in_pages(hub, stubs):
    t = int(time.time()) - 3600  # the index keeps orders created within the retention
    await load(stubs, ("SKU-2", "WH-B", 10))
    await sync(hub,
               channel_order("A1", "PAID", ("SKU-1", 1), created_s=t + 1, phone="13900000001"),
               channel_order("A2", "PENDING_PAYMENT", ("SKU-1", 1), created_s=t + 2,
                             phone="13900000002"),
               channel_order("A3", "PAID", ("SKU-2", 1), created_s=t + 3, phone="13900000003"),
               channel_order("P1", "PAID", ("SKU-1", 1), channel="pdd", shop="p",
                             created_s=t + 4, phone="13900000004"),
               channel_order("A4", "CANCELLED", ("SKU-1", 1), created_s=t + 5,
                             phone="13900000005"))
    window = {"created_from": opb.ListOrdersRequest().created_from}
    window["created_from"].FromSeconds(t + 2)

    assert await list_all(hub) == ["A1", "A2", "A3", "P1", "A4"]
    assert await list_all(hub, channel="jd") == ["A1", "A2", "A3", "A4"]
    assert await list_all(hub, state="ROUTED") == ["A1", "A3", "P1"]
    assert await list_all(hub, warehouse_id="WH-B") == ["A3"]
    assert await list_all(hub, **window) == ["A2", "A3", "P1", "A4"]


async def test_the_channel_feed_carries_the_tracking_number_until_acknowledged(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1)))
    shipment = opb.Shipment(carrier="SF", tracking_number="SF42")
    await hub.ReportShipment(opb.ReportShipmentRequest(key=key("A1"), shipment=shipment),
                             timeout=10)
    request = opb.PullOrderEventsRequest(group="feed-jd", consumer="adapter-1",
                                         max_events=100)

    first = await hub.PullOrderEvents(request, timeout=10)
    request.wait.FromMilliseconds(2000)
    again = await hub.PullOrderEvents(request, timeout=10)  # not acknowledged: comes back
    await hub.AckOrderEvents(opb.AckOrderEventsRequest(batch_id=again.batch_id), timeout=10)
    request.wait.FromMilliseconds(500)
    after_ack = await hub.PullOrderEvents(request, timeout=10)

    assert [(e.type, e.to_state) for e in first.events] == [
        ("SHIPMENT_REPORTED", ""), ("TRANSITION", "SHIPPED")]
    assert "SF42" in first.events[0].changes_json
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert not after_ack.events


async def test_an_unconfigured_feed_group_is_invalid_argument(hub):
    import grpc

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await hub.PullOrderEvents(opb.PullOrderEventsRequest(
            group="feed-pdd", consumer="a", max_events=10), timeout=10)

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
