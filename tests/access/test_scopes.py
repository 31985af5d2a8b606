"""Scopes: an adapter acts on its channels only, a WMS on its consumer groups only; the
write-back events a WMS needs cannot be taken by an adapter (the scenario of issue 15:
a channel adapter's token pulled and acknowledged events, so the WMS never saw them)."""

from __future__ import annotations

import grpc
import pytest

from reservation.access.roles import Role, Scope, rule
from reservation.server.app import App
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import order_service_pb2_grpc as opb_grpc
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc as wpb_grpc
from reservation.writeback import batch_ids
from tests.helpers.access import token_of
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, key
from tests.helpers.reservations import line
from tests.helpers.rpcs import all_rpcs, call, scoped_request
from tests.helpers.server import Stubs

ADAPTER, WMS, OPERATOR = token_of("adapter"), token_of("wms"), token_of("operator")


def _scoped(scope: Scope) -> list:  # type: ignore[type-arg]
    role = Role.WMS if scope is Scope.GROUP else Role.ADAPTER
    return [r for r in all_rpcs() if rule(r.path).get(role) is scope]


@pytest.mark.parametrize("rpc", _scoped(Scope.CHANNEL), ids=lambda r: r.name)
async def test_an_adapter_is_refused_another_channel(app: App, channel: grpc.aio.Channel,
                                                     rpc) -> None:  # type: ignore[no-untyped-def]
    request = scoped_request(rpc, channel="tmall")
    code, replies = await call(channel, rpc, [request.SerializeToString()], ADAPTER)
    if rpc.name in ("ReserveBatch", "ReserveStream"):  # per-order answers
        assert code == grpc.StatusCode.OK
        results = [rpc.response_class().FromString(r) for r in replies]
        items = results[0].results if rpc.name == "ReserveBatch" else results
        assert [i.error_code for i in items] == [grpc.StatusCode.PERMISSION_DENIED.value[0]]
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_another_channels_order_is_permission_denied_not_not_found(
        app: App, as_stubs: Stubs) -> None:
    await as_stubs.admin.LoadStock(apb.LoadStockRequest(
        items=[_item("SC-1", 5)], mode=apb.LOAD_MODE_SET), metadata=OPERATOR)
    bench = token_of("loadtest")
    made = await as_stubs.rs.Reserve(rpb.ReserveRequest(
        channel="tmall", order_id="o-1", buyer_id="b", lines=[line("SC-1")]), metadata=bench)
    assert made.reservation.order_id == "o-1"
    for call_ in (as_stubs.rs.GetReservation(rpb.GetReservationRequest(
                      channel="tmall", order_id="o-1"), metadata=ADAPTER),
                  as_stubs.rs.Confirm(rpb.ConfirmRequest(channel="tmall", order_id="o-1"),
                                      metadata=ADAPTER),
                  as_stubs.rs.Release(rpb.ReleaseRequest(channel="tmall", order_id="o-1"),
                                      metadata=ADAPTER)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call_
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # ...and a mixed batch: the own-channel order goes ahead, the other is refused alone.
    batch = await as_stubs.rs.ReserveBatch(rpb.ReserveBatchRequest(requests=[
        rpb.ReserveRequest(channel="jd", order_id="o-2", buyer_id="b", lines=[line("SC-1")]),
        rpb.ReserveRequest(channel="tmall", order_id="o-3", buyer_id="b",
                           lines=[line("SC-1")])]), metadata=ADAPTER)
    assert batch.results[0].reservation.order_id == "o-2"
    assert batch.results[1].error_code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    still = await as_stubs.rs.GetReservation(rpb.GetReservationRequest(
        channel="tmall", order_id="o-1"), metadata=bench)
    assert still.reservation.state == made.reservation.state  # nothing the adapter did


def _item(sku: str, quantity: int):  # type: ignore[no-untyped-def]
    from reservation.v1 import types_pb2
    return types_pb2.StockItem(sku=sku, warehouse_id="WH", quantity=quantity)


@pytest.mark.parametrize("rpc", _scoped(Scope.GROUP), ids=lambda r: r.name)
async def test_a_wms_is_refused_another_group(app: App, channel: grpc.aio.Channel,
                                              rpc) -> None:  # type: ignore[no-untyped-def]
    request = scoped_request(rpc, group="other")
    if rpc.name == "AckBatch":  # the group is inside the (signed) batch id
        request.batch_id = batch_ids.encode("test-key", "other", {0: ["1-0"]})
    code, _ = await call(channel, rpc, [request.SerializeToString()], WMS)
    assert code == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize("rpc", _scoped(Scope.FEED), ids=lambda r: r.name)
async def test_an_adapter_is_refused_another_channels_feed(
        app: App, channel: grpc.aio.Channel, rpc) -> None:  # type: ignore[no-untyped-def]
    request = scoped_request(rpc, group="feed-tmall")
    if rpc.name == "AckOrderEvents":
        request.batch_id = batch_ids.encode("test-key", "feed-tmall", {0: ["1-0"]})
    else:
        request.consumer, request.max_events = "jd-adapter", 1
    code, _ = await call(channel, rpc, [request.SerializeToString()], ADAPTER)
    assert code == grpc.StatusCode.PERMISSION_DENIED
    # Its own feed is fine (an empty pull, or an ack of nothing it was given).
    own = scoped_request(rpc, group="feed-jd")
    if rpc.name == "AckOrderEvents":
        own.batch_id = batch_ids.encode("test-key", "feed-jd", {0: ["1-0"]})
    else:
        own.consumer, own.max_events = "jd-adapter", 1
    code, _ = await call(channel, rpc, [own.SerializeToString()], ADAPTER)
    assert code == grpc.StatusCode.OK


async def test_an_adapter_cannot_steal_the_wms_write_back(app: App, as_stubs: Stubs) -> None:
    """The issue's scenario: events made by orders are pulled by the WMS, not the adapter."""
    await as_stubs.admin.LoadStock(apb.LoadStockRequest(
        items=[_item("WB-1", 50)], mode=apb.LOAD_MODE_SET), metadata=OPERATOR)
    for i in range(5):
        await as_stubs.rs.Reserve(rpb.ReserveRequest(
            channel="jd", order_id=f"wb-{i}", buyer_id="b", lines=[line("WB-1")]),
            metadata=ADAPTER)
    wb = wpb_grpc.WriteBackServiceStub(as_stubs.channel)
    before = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(group="wms"),
                                        metadata=OPERATOR)
    for request in (wpb.PullBatchRequest(group="wms", consumer="jd-adapter", max_events=10),
                    wpb.PullBatchRequest(group="", consumer="jd-adapter", max_events=10)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await wb.PullBatch(request, metadata=ADAPTER)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    after = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(group="wms"),
                                       metadata=OPERATOR)
    # Nothing delivered, nothing acknowledged (the age of the oldest event grows, alone).
    after.ClearField("oldest_unacknowledged_age")
    before.ClearField("oldest_unacknowledged_age")
    assert after == before and after.undelivered >= 5
    # The WMS gets every event, and acknowledges them.
    pulled = await wb.PullBatch(wpb.PullBatchRequest(group="wms", consumer="wms-1",
                                                     max_events=100), metadata=WMS)
    assert len(pulled.events) >= 5 + 1  # 5 holds after the load
    # An adapter cannot acknowledge the WMS's batch either.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await wb.AckBatch(wpb.AckBatchRequest(batch_id=pulled.batch_id), metadata=ADAPTER)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    acked = await wb.AckBatch(wpb.AckBatchRequest(batch_id=pulled.batch_id), metadata=WMS)
    assert acked.acknowledged == len(pulled.events)


async def test_an_adapters_after_sales_reason_names_the_channels_code(
        app: App, channel: grpc.aio.Channel, as_stubs: Stubs) -> None:
    """An adapter sets a reason only as its channel's (channel_reason named), so the hub
    can keep service staff's reason from being replaced by it."""
    await as_stubs.admin.LoadStock(apb.LoadStockRequest(
        items=[_item("AS-1", 5)], mode=apb.LOAD_MODE_SET), metadata=OPERATOR)
    hub = opb_grpc.OrderServiceStub(channel)
    await hub.SyncOrders(opb.SyncOrdersRequest(orders=[
        channel_order("as-1", "PAID", ("AS-1", 1))]), metadata=OPERATOR)

    def request(code: str) -> opb.SetAfterSalesReasonRequest:
        return opb.SetAfterSalesReasonRequest(
            key=key("as-1"), sku="AS-1", level1="quality", level2="defect",
            actor="adapter:jd", channel_reason=code)
    fields, _ = await refused(hub.SetAfterSalesReason(request(""), metadata=ADAPTER))
    assert fields == ["channel_reason"]
    mapped = await hub.SetAfterSalesReason(request("商品质量问题"), metadata=ADAPTER)
    assert mapped.outcome == opb.SYNC_OUTCOME_UPDATED
    staff = await hub.SetAfterSalesReason(opb.SetAfterSalesReasonRequest(
        key=key("as-1"), sku="AS-1", level1="quality", level2="defect",
        actor="support:ann"), metadata=OPERATOR)
    assert staff.outcome == opb.SYNC_OUTCOME_UPDATED  # confirmed by staff: now theirs
    with pytest.raises(grpc.aio.AioRpcError) as kept:
        await hub.SetAfterSalesReason(request("商品质量问题"), metadata=ADAPTER)
    assert kept.value.code() == grpc.StatusCode.FAILED_PRECONDITION
