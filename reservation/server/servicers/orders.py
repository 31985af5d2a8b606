"""OrderService: parse and validate at the edge, call the order hub, build the response.

Calls on orders first ask the caller's grant whether it may act on their channel (an
adapter only on its own: a batch with another channel's order is refused whole, like
any other bad order in it), and event pulls whether it may use the consumer group (an
adapter only its channels' feeds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import cast

import grpc

from reservation.access import grant
from reservation.domain import validation as v
from reservation.errors import InvalidArgument
from reservation.ordersync import aftersales, finding, listing, states, warehouse
from reservation.ordersync import events as ev
from reservation.ordersync import validation as ov
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.fulfilment import Fulfilment, parse_day
from reservation.ordersync.hub import OrderHub
from reservation.ordersync.model import CHANNELS, ChannelOrder
from reservation.ordersync.overdue import OverdueWatch
from reservation.ordersync.results import SyncResult
from reservation.records.reads import OrderReads
from reservation.server import convert
from reservation.server import convert_orders as co
from reservation.server.metrics import recorder
from reservation.v1 import order_service_pb2 as pb
from reservation.v1 import order_service_pb2_grpc as pb_grpc

HISTORY_MAX = 1000


class OrderServicer(pb_grpc.OrderServiceServicer):
    def __init__(self, hub: OrderHub, reads: OrderReads | None = None,
                 overdue: OverdueWatch | None = None) -> None:
        self.hub = hub
        self.reads = reads or OrderReads(hub)
        """GetOrder, GetOrderHistory and ListOrders: Redis, or the records store for an
        order that left Redis."""
        self.overdue = overdue or OverdueWatch(hub, hub.settings)
        self.settings = hub.settings
        self.fulfilment = Fulfilment(hub, self.reads.list_orders, self.reads.history)

    def _orders(self, orders: list[pb.ChannelOrder]) -> list[ChannelOrder]:
        """Every order valid, or the whole batch refused naming the field: nothing written."""
        top = self.settings.max_batch
        if not orders:
            raise InvalidArgument("orders", "must hold at least one order")
        if len(orders) > top:
            raise InvalidArgument("orders", f"holds {len(orders)} orders, at most {top}")
        for o in orders:
            grant.channel(o.channel)
        now = self.hub.clock()
        return [ov.channel_order(co.raw_order(o), self.settings, f"orders[{i}].", now)
                for i, o in enumerate(orders)]

    async def _sync(self, orders: list[pb.ChannelOrder]) -> list[pb.SyncResult]:
        checked = self._orders(orders)
        facts = {c.key: co.facts(o, f"orders[{i}].")
                 for i, (o, c) in enumerate(zip(orders, checked, strict=True))}
        results = await self.hub.sync(checked, facts)
        out = [_result(r, c.key) for r, c in zip(results, checked, strict=True)]
        if recorder.on:
            for r in out:
                recorder.order_sync(r.channel, pb.SyncOutcome.Name(r.outcome).removeprefix(
                    "SYNC_OUTCOME_"), r.refused_code)
        return out

    async def SyncOrders(self, request: pb.SyncOrdersRequest,
                         context: grpc.aio.ServicerContext) -> pb.SyncOrdersResponse:
        return pb.SyncOrdersResponse(results=await self._sync(list(request.orders)))

    async def SyncOrderStream(self, request_iterator: AsyncIterator[pb.SyncOrderStreamRequest],
                              context: grpc.aio.ServicerContext
                              ) -> AsyncIterator[pb.SyncOrderStreamResponse]:
        async for request in request_iterator:
            yield pb.SyncOrderStreamResponse(results=await self._sync(list(request.orders)))

    def _key(self, key: pb.OrderKey) -> tuple[str, str, str]:
        grant.channel(key.channel)
        ov.order_key(key.channel, key.shop, key.order_id, self.settings)
        return key.channel, key.shop, key.order_id

    async def GetOrder(self, request: pb.GetOrderRequest,
                       context: grpc.aio.ServicerContext) -> pb.GetOrderResponse:
        order = await self.reads.get(*self._key(request.key))
        return pb.GetOrderResponse(order=co.to_order(order))

    async def GetOrderHistory(self, request: pb.GetOrderHistoryRequest,
                              context: grpc.aio.ServicerContext) -> pb.GetOrderHistoryResponse:
        key = self._key(request.key)
        if request.offset < 0:
            raise InvalidArgument("offset", "must not be negative")
        if not 0 <= request.page_size <= HISTORY_MAX:
            raise InvalidArgument("page_size", f"must be between 0 and {HISTORY_MAX}")
        events = await self.reads.history(*key, request.offset, request.page_size or HISTORY_MAX)
        return pb.GetOrderHistoryResponse(events=[co.to_event(_disclosed(e)) for e in events])

    async def ListOrders(self, request: pb.ListOrdersRequest,
                         context: grpc.aio.ServicerContext) -> pb.ListOrdersResponse:
        grant.channel(request.channel)
        query = listing.Query(
            channel=request.channel,
            state=states.parse("state", request.state) if request.state else None,
            warehouse_id=request.warehouse_id,
            created_from_ms=convert.timestamp_ms(request.created_from),
            created_to_ms=convert.timestamp_ms(request.created_to),
            page_size=request.page_size, page_token=request.page_token)
        page = await self.reads.list_orders(query)
        return pb.ListOrdersResponse(orders=[co.to_order(o) for o in page.orders],
                                     next_page_token=page.next_token)

    async def UpdateAddress(self, request: pb.UpdateAddressRequest,
                            context: grpc.aio.ServicerContext) -> pb.UpdateAddressResponse:
        key = self._key(request.key)
        address = co.address(request.address)
        ov.address("address", address)
        ov.actor("actor", request.actor)
        ov.text("reason", request.reason)
        r = await self.hub.update_address(*key, address, request.actor or "operator",
                                          request.reason)
        return pb.UpdateAddressResponse(outcome=co.outcome(r.outcome.value),
                                        order=co.to_order(r.order) if r.order else None)

    async def ReportShipment(self, request: pb.ReportShipmentRequest,
                             context: grpc.aio.ServicerContext) -> pb.ReportShipmentResponse:
        key = self._key(request.key)
        shipment = co.shipment(request.shipment)
        ov.time_ms("shipment.shipped_at", shipment.shipped_at_ms, self.settings,
                   self.hub.clock())
        ov.text("shipment.carrier", shipment.carrier, required=True)
        ov.text("shipment.tracking_number", shipment.tracking_number, required=True)
        ov.actor("actor", request.actor)
        r = await self.hub.report_shipment(*key, shipment, request.actor or "wms")
        return pb.ReportShipmentResponse(outcome=co.outcome(r.outcome.value),
                                         order=co.to_order(r.order) if r.order else None)

    async def UpdateOrderState(self, request: pb.UpdateOrderStateRequest,
                               context: grpc.aio.ServicerContext
                               ) -> pb.UpdateOrderStateResponse:
        key = self._key(request.key)
        to = states.parse("state", request.state)
        ov.text("actor", request.actor, required=True)
        ov.text("reason", request.reason)
        r = await self.hub.transition(*key, to, request.actor, request.reason)
        return pb.UpdateOrderStateResponse(outcome=co.outcome(r.outcome.value),
                                           order=co.to_order(r.order) if r.order else None)

    async def RestockOrder(self, request: pb.RestockOrderRequest,
                           context: grpc.aio.ServicerContext) -> pb.RestockOrderResponse:
        key = self._key(request.key)
        v.text_id("restock_id", request.restock_id, self.settings)
        if not request.lines:
            raise InvalidArgument("lines", "must hold at least one line")
        for i, line in enumerate(request.lines):
            v.code(f"lines[{i}].sku", line.sku)
            v.quantity(f"lines[{i}].quantity", line.quantity, self.settings)
        ov.text("reason", request.reason)
        ov.actor("actor", request.actor)
        r = await self.hub.restock(*key, request.restock_id,
                                   [(ln.sku, ln.quantity) for ln in request.lines],
                                   request.actor or "wms", request.reason)
        return pb.RestockOrderResponse(outcome=co.outcome(r.outcome.value),
                                       order=co.to_order(r.order) if r.order else None)

    async def PullOrderEvents(self, request: pb.PullOrderEventsRequest,
                              context: grpc.aio.ServicerContext) -> pb.PullOrderEventsResponse:
        grant.group(self.hub.events.group(request.group))
        batch = await self.hub.events.pull(request.group, request.consumer, request.max_events,
                                           convert.duration_ms("wait", request.wait))
        return pb.PullOrderEventsResponse(batch_id=batch.batch_id,
                                          events=[co.to_event(cast(OrderEvent, e))
                                                  for e in batch.events])

    async def AckOrderEvents(self, request: pb.AckOrderEventsRequest,
                             context: grpc.aio.ServicerContext) -> pb.AckOrderEventsResponse:
        grant.group(self.hub.events.batch_group(request.batch_id))
        return pb.AckOrderEventsResponse(acknowledged=await self.hub.events.ack(request.batch_id))

    async def GetFulfilmentStats(self, request: pb.GetFulfilmentStatsRequest,
                                 context: grpc.aio.ServicerContext
                                 ) -> pb.GetFulfilmentStatsResponse:
        rows = await self.fulfilment.stats(request.day, request.channel, request.warehouse_id,
                                           by_channel=request.by_channel)
        return pb.GetFulfilmentStatsResponse(rows=[co.to_stats(r) for r in rows])

    async def ExpediteOrder(self, request: pb.ExpediteOrderRequest,
                            context: grpc.aio.ServicerContext) -> pb.ExpediteOrderResponse:
        key = self._key(request.key)
        ov.text("actor", request.actor, required=True)
        ov.text("reason", request.reason)
        r = await self.hub.expedite(*key, request.actor, request.reason)
        return pb.ExpediteOrderResponse(outcome=co.outcome(r.outcome.value),
                                        order=co.to_order(r.order) if r.order else None)

    async def FindOrders(self, request: pb.FindOrdersRequest,
                         context: grpc.aio.ServicerContext) -> pb.FindOrdersResponse:
        ask = finding.ask(request.phone, request.order_number, request.tracking_number,
                          request.page_size, self.settings)
        found = await self.reads.find(ask)
        return pb.FindOrdersResponse(orders=[co.to_found(finding.describe(s, self.settings))
                                             for s in found])

    async def ReportWarehouseState(self, request: pb.ReportWarehouseStateRequest,
                                   context: grpc.aio.ServicerContext
                                   ) -> pb.ReportWarehouseStateResponse:
        key = self._key(request.key)
        state = warehouse.check_state(request.state)
        ov.text("raw_status", request.raw_status)
        at_ms = co.timestamp("reported_at", request.reported_at)
        ov.time_ms("reported_at", at_ms, self.settings, self.hub.clock(), required=True)
        ov.text("actor", request.actor, required=True)
        r = await self.hub.report_warehouse_state(*key, state, request.raw_status, at_ms,
                                                  request.actor)
        return pb.ReportWarehouseStateResponse(
            outcome=co.outcome(r.outcome.value), order=co.to_order(r.order) if r.order else None)

    async def SetAfterSalesReason(self, request: pb.SetAfterSalesReasonRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> pb.SetAfterSalesReasonResponse:
        key = self._key(request.key)
        v.code("sku", request.sku)
        ov.text("batch", request.batch)
        aftersales.check_reason(request.level1, request.level2)
        ov.text("note", request.note)
        ov.text("actor", request.actor, required=True)
        ov.text("channel_reason", request.channel_reason)
        if not request.channel_reason and grant.adapter_only():
            raise InvalidArgument("channel_reason", "an adapter's reason is mapped from "
                                                    "the channel's code: name it")
        r = await self.hub.set_after_sales(*key, aftersales.Reason(
            request.sku, request.batch, request.level1, request.level2, request.note,
            request.channel_reason), request.actor)
        return pb.SetAfterSalesReasonResponse(outcome=co.outcome(r.outcome.value),
                                              order=co.to_order(r.order) if r.order else None)

    async def GetAfterSalesReport(self, request: pb.GetAfterSalesReportRequest,
                                  context: grpc.aio.ServicerContext
                                  ) -> pb.GetAfterSalesReportResponse:
        grant.channel(request.channel)
        if request.channel and request.channel not in CHANNELS:
            raise InvalidArgument("channel", f"unknown channel {request.channel!r}")
        low = parse_day(request.day_from, "day_from")[0]
        high = parse_day(request.day_to, "day_to")[1]
        if not low < high <= low + aftersales.PERIOD_MAX_DAYS * aftersales.DAY_MS:
            raise InvalidArgument("day_to", "must be on or after day_from, at most "
                                            f"{aftersales.PERIOD_MAX_DAYS} days later")
        groups = aftersales.check_groups(list(request.group_by))
        rows, scanned = await aftersales.report_over(self.reads.list_orders, request.channel,
                                                     low, high, groups)
        return pb.GetAfterSalesReportResponse(scanned=scanned, rows=[pb.AfterSalesRow(
            sku=r.sku, batch=r.batch, level1=r.level1, level2=r.level2, orders=r.orders,
            units=r.units) for r in rows])

    async def ListOverdueOrders(self, request: pb.ListOverdueOrdersRequest,
                                context: grpc.aio.ServicerContext
                                ) -> pb.ListOverdueOrdersResponse:
        grant.channel(request.channel)
        last, orders = await self.overdue.listing(request.node, request.channel,
                                                  request.page_size)
        return co.to_overdue(last, orders)


def _may_read(ref: str) -> bool:
    """Whether the caller may read the order `ref` ("channel:shop/order_id"): an adapter
    its own channels' orders only; operators and readers any."""
    g = grant.current()
    return g is None or g.channels is None or ref.split(":", 1)[0] in g.channels


def _result(r: SyncResult, key: tuple[str, str, str]) -> pb.SyncResult:
    """One order's answer, a suspected duplicate named only to a caller who may read it
    (the adapter learns of the suspicion and the review that decides it)."""
    out = co.to_result(r, key)
    del out.suspected_duplicates[:]
    out.suspected_duplicates.extend(d for d in r.duplicates if _may_read(d))
    return out


def _disclosed(e: OrderEvent) -> OrderEvent:
    """An event as the caller may see it: which orders another one is suspected to
    duplicate is told to who may read them."""
    if e.type != ev.EventType.DUPLICATE_SUSPECTED or all(
            _may_read(ref) for ref in ev.duplicates_of(e)):
        return e
    return dataclasses.replace(e, reason=ev.DUPLICATE_REASON + "an order of another channel",
                               changes={})
