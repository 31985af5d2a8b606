"""UpdateAddress until shipping (the WMS hears of it once it has the order), refused
after; ReportShipment moves the order to SHIPPED and tells the channel's feed."""

from __future__ import annotations

import json

import grpc
import pytest

from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc
from tests.helpers.orders import channel_order, get_order, history, key, move, sync, when

NEW = opb.Address(province="Jiangsu", city="Suzhou", district="Gusu", detail="9 Canal St")


def shipment(tracking: str = "SF1001") -> opb.Shipment:
    s = opb.Shipment(carrier="SF", tracking_number=tracking)
    s.shipped_at.FromSeconds(when(5000))
    return s


async def update_address(hub, order_id: str, address: opb.Address = NEW):
    return await hub.UpdateAddress(opb.UpdateAddressRequest(
        key=key(order_id), address=address, actor="support:li", reason="buyer called"),
        timeout=10)


async def wms_events(stubs) -> list[wpb.WriteBackEvent]:
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="wms-1", max_events=1000))
    return list(batch.events)


async def test_address_changes_before_shipping_with_before_and_after(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1)))

    reply = await update_address(hub, "A1")

    last = (await history(hub, "A1"))[-1]
    changes = json.loads(last.changes_json)["address"]
    assert reply.order.address == NEW and reply.order.version == 2
    assert (last.type, last.actor, last.reason) == ("ADDRESS_CHANGED", "support:li",
                                                    "buyer called")
    assert changes["before"]["city"] == "Hangzhou" and changes["after"]["city"] == "Suzhou"


async def test_the_wms_hears_of_an_address_change_once_it_has_the_order(hub, stubs):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1)))
    await sync(hub, channel_order("A2", "PAID", ("SKU-1", 1), phone="13900000000"))
    await move(hub, "A2", "ALLOCATED", actor="wms")

    await update_address(hub, "A1")  # routed only: the WMS has not got it yet
    await update_address(hub, "A2")

    changed = [e for e in await wms_events(stubs)
               if e.type == wpb.WRITE_BACK_EVENT_TYPE_ADDRESS_CHANGED]
    assert [(e.order_id, e.warehouse_id) for e in changed] == [("shop-1/A2", "WH-A")]
    assert json.loads(changed[0].detail)["address"]["city"] == "Suzhou"


async def test_address_change_after_shipping_is_refused_with_the_reason(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1)))
    await hub.ReportShipment(opb.ReportShipmentRequest(key=key("A1"), shipment=shipment()),
                             timeout=10)

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await update_address(hub, "A1")

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "SHIPPED" in exc.value.details() and "SF1001" in exc.value.details()
    assert (await get_order(hub, "A1")).address.city == "Hangzhou"


async def test_an_address_without_a_city_is_invalid_argument(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1)))

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await update_address(hub, "A1", opb.Address(province="Jiangsu"))

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "address.city" in exc.value.details()


async def test_report_shipment_walks_to_shipped_and_keeps_the_tracking_number(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1)))

    reply = await hub.ReportShipment(opb.ReportShipmentRequest(
        key=key("A1"), shipment=shipment(), actor="wms"), timeout=10)
    again = await hub.ReportShipment(opb.ReportShipmentRequest(
        key=key("A1"), shipment=shipment(), actor="wms"), timeout=10)

    steps = [e.to_state for e in await history(hub, "A1") if e.type == "TRANSITION"]
    assert reply.order.state == "SHIPPED"
    assert [(s.carrier, s.tracking_number) for s in reply.order.shipments] == [("SF", "SF1001")]
    assert steps[-3:] == ["ALLOCATED", "PRINTED", "SHIPPED"]
    assert again.outcome == opb.SYNC_OUTCOME_UNCHANGED


async def test_shipment_of_a_cancelled_order_is_refused(hub):
    await sync(hub, channel_order("A1", "CANCELLED", ("SKU-1", 1)))

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await hub.ReportShipment(opb.ReportShipmentRequest(key=key("A1"),
                                                           shipment=shipment()), timeout=10)

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
