"""GuardService: safety stock and circuit breakers for operators (see guard/service.py).

Every call goes through `audit.action`, with the SKU's guard before and after a change.
"""

from __future__ import annotations

import grpc

from reservation.errors import ReservationError
from reservation.guard import Guard
from reservation.guard.models import SkuGuard
from reservation.server import audit, convert
from reservation.v1 import guard_service_pb2 as pb
from reservation.v1 import guard_service_pb2_grpc as pb_grpc


class GuardServicer(pb_grpc.GuardServiceServicer):
    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def _before(self, sku: str) -> SkuGuard | None:
        try:
            return await self.guard.get(sku)
        except ReservationError:
            return None  # the action itself reports why

    async def GetGuard(self, request: pb.GetGuardRequest,
                       context: grpc.aio.ServicerContext) -> pb.GetGuardResponse:
        async with audit.action(context, "GetGuard", request.sku, read=True):
            found = await self.guard.get(request.sku)
        return pb.GetGuardResponse(guard=convert.sku_guard(found))

    async def SetSafetyStock(self, request: pb.SetSafetyStockRequest,
                             context: grpc.aio.ServicerContext) -> pb.SetSafetyStockResponse:
        async with audit.action(context, "SetSafetyStock", request.sku) as entry:
            live = convert.switch("live_stream", request.live_stream)
            override = request.override if request.HasField("override") else None
            entry.before = await self._before(request.sku)
            found = entry.after = await self.guard.set_safety_stock(
                request.sku, override, request.clear_override, live)
        return pb.SetSafetyStockResponse(guard=convert.sku_guard(found))

    async def SetBreakerThreshold(self, request: pb.SetBreakerThresholdRequest,
                                  context: grpc.aio.ServicerContext) -> pb.SetBreakerThresholdResponse:
        async with audit.action(context, "SetBreakerThreshold",
                                f"{request.sku}/{request.channel}") as entry:
            entry.before = await self._before(request.sku)
            found = entry.after = await self.guard.set_threshold(
                request.sku, request.channel, None if request.clear else request.threshold)
        return pb.SetBreakerThresholdResponse(guard=convert.sku_guard(found))

    async def ForceBreaker(self, request: pb.ForceBreakerRequest,
                           context: grpc.aio.ServicerContext) -> pb.ForceBreakerResponse:
        async with audit.action(context, "ForceBreaker",
                                f"{request.sku}/{request.channel}") as entry:
            state = convert.breaker_state(request.state)
            entry.before = await self._before(request.sku)
            found = entry.after = await self.guard.force(request.sku, request.channel, state)
        return pb.ForceBreakerResponse(guard=convert.sku_guard(found))

    async def ListOpenBreakers(self, request: pb.ListOpenBreakersRequest,
                               context: grpc.aio.ServicerContext) -> pb.ListOpenBreakersResponse:
        async with audit.action(context, "ListOpenBreakers", read=True):
            found = await self.guard.open_breakers(request.page_size)
        return pb.ListOpenBreakersResponse(breakers=[convert.open_breaker(b) for b in found])
