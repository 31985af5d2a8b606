"""ReservationService: parse, call the domain, build the response. Nothing more.

Each call on one order first asks the caller's grant whether it may act on that
channel (an adapter only acts on its own): refused before any lookup, so another
channel's order is PERMISSION_DENIED, never NOT_FOUND.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from reservation.access import grant
from reservation.reserving.reservations import Reservations
from reservation.reserving.routed import reserve_routed
from reservation.reserving.watch import watch
from reservation.routing.service import Routing
from reservation.server import convert, routing_convert
from reservation.server.metrics import recorder
from reservation.server.servicers import reserve_many
from reservation.stock.levels import Inventory
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc


class ReservationServicer(pb_grpc.ReservationServiceServicer):
    def __init__(self, reservations: Reservations, inventory: Inventory,
                 routing: Routing | None = None) -> None:
        self.reservations = reservations
        self.inventory = inventory
        self.routing = routing or Routing(reservations.store, reservations.settings)

    async def Reserve(self, request: pb.ReserveRequest,
                      context: grpc.aio.ServicerContext) -> pb.ReserveResponse:
        grant.channel(request.channel)
        cmd = convert.reserve_command(request, convert.sender(context.invocation_metadata()))
        if not routing_convert.has_destination(request):
            result = await self.reservations.reserve(cmd)
            recorder.outcome(result.channel, result.state, result.reject_reason)
            return pb.ReserveResponse(reservation=convert.reservation(result))
        # Route, then hold at the routed warehouses in the routed order (one call); the
        # decision's explanation only when asked for (most callers read where it goes).
        explain = routing_convert.explain(request.routing_detail, "routing_detail", False)
        result, decision = await reserve_routed(
            self.reservations, self.routing, cmd, routing_convert.reserve_route_order(request),
            explain)
        recorder.outcome(result.channel, result.state, result.reject_reason)
        return pb.ReserveResponse(reservation=convert.reservation(result),
                                  routing=routing_convert.decision(decision, explain))

    async def ReserveBatch(self, request: pb.ReserveBatchRequest,
                           context: grpc.aio.ServicerContext) -> pb.ReserveBatchResponse:
        return await reserve_many.reserve_batch(
            self.reservations, request, convert.sender(context.invocation_metadata()))

    async def ReserveStream(self, request_iterator: AsyncIterator[pb.ReserveStreamRequest],
                            context: grpc.aio.ServicerContext
                            ) -> AsyncIterator[pb.ReserveStreamResponse]:
        sender = convert.sender(context.invocation_metadata())
        async for response in reserve_many.reserve_stream(self.reservations, request_iterator,
                                                          sender):
            yield response

    async def Confirm(self, request: pb.ConfirmRequest,
                      context: grpc.aio.ServicerContext) -> pb.ConfirmResponse:
        grant.channel(request.channel)
        result = await self.reservations.confirm(request.channel, request.order_id)
        return pb.ConfirmResponse(reservation=convert.reservation(result))

    async def Release(self, request: pb.ReleaseRequest,
                      context: grpc.aio.ServicerContext) -> pb.ReleaseResponse:
        grant.channel(request.channel)
        result = await self.reservations.release(request.channel, request.order_id)
        return pb.ReleaseResponse(reservation=convert.reservation(result))

    async def GetReservation(self, request: pb.GetReservationRequest,
                             context: grpc.aio.ServicerContext) -> pb.GetReservationResponse:
        grant.channel(request.channel)
        result = await self.reservations.get(request.channel, request.order_id)
        return pb.GetReservationResponse(reservation=convert.reservation(result))

    async def WatchReservation(self, request: pb.WatchReservationRequest,
                               context: grpc.aio.ServicerContext
                               ) -> AsyncIterator[pb.WatchReservationResponse]:
        grant.channel(request.channel)
        s = self.reservations.settings
        async for view in watch(self.reservations, request.channel, request.order_id,
                                s.watch_poll_interval_ms, s.watch_max_ms):
            yield pb.WatchReservationResponse(reservation=convert.reservation(view))

    async def GetStock(self, request: pb.GetStockRequest,
                       context: grpc.aio.ServicerContext) -> pb.GetStockResponse:
        return convert.stock(await self.inventory.get(request.sku))
