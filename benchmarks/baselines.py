"""The systems the service is measured against, behind the same gRPC API.

* `NoopServicer`: answers Reserve/ReserveBatch/ReserveStream with a canned RESERVED
  message and touches nothing: the transport ceiling of one grpc.aio process.
* `NaiveStore`: the real service with coalescing switched off: one awaited EVALSHA (and
  one awaited SET for the claim) per call, each on its own round trip.
* `PgServicer` (pg_servicer.py): reservations as a PostgreSQL row-lock transaction.
* `OversellByOne`: the real service that answers its first refused order RESERVED with
  one unit it never held. Not a baseline: the harness's own test runs it to prove that
  a failed check fails the run (tests/benchmarks/test_harness.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import grpc

from reservation.domain.models import Allocation, RejectReason, Reservation, ReserveCommand, State
from reservation.reserving.reservations import Reservations
from reservation.storage import keys
from reservation.storage.store import Store, redis_errors
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import reservation_service_pb2_grpc as pb_grpc
from reservation.v1 import types_pb2 as types_pb


class NaiveStore(Store):
    """Store as it was before coalescing: every call awaits its own round trip."""

    def claims_with_reserve(self, ref: str, shard: int) -> bool:
        return False  # as before: the claim and the reserve are two round trips

    async def eval_raw(self, name: str, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        with redis_errors():
            return await self._scripts[name](keys=keys_, args=args)

    async def claim_order(self, ref: str, identity: str) -> str | None:
        ttl = 2 * self.settings.retention_ms
        with redis_errors():
            return await self.client.set(keys.order_home(ref, self.settings.shards), identity,
                                         nx=True, get=True, px=ttl)


class OversellByOne(Reservations):
    """Deliberately broken: one refused order is told RESERVED (one unit, held nowhere)."""

    oversold = False

    async def reserve(self, cmd: ReserveCommand) -> Reservation:
        result = await super().reserve(cmd)
        if result.state != State.REJECTED or self.oversold:
            return result
        type(self).oversold = True
        line = cmd.lines[0]
        return replace(result, state=State.RESERVED, reject_reason=RejectReason.NONE,
                       failed_sku="", allocations=(Allocation(line.sku, "wh-east", 1),))


def canned(req: pb.ReserveRequest) -> types_pb.Reservation:
    """A RESERVED answer of realistic size (allocations mirror the lines)."""
    return types_pb.Reservation(
        reservation_id="0" * 32, channel=req.channel, order_id=req.order_id,
        buyer_id=req.buyer_id, state=types_pb.RESERVATION_STATE_RESERVED,
        allocations=[types_pb.Allocation(sku=ln.sku, warehouse_id="w1", quantity=ln.quantity)
                     for ln in req.lines],
        lines=req.lines)


class NoopServicer(pb_grpc.ReservationServiceServicer):
    async def Reserve(self, request: pb.ReserveRequest,
                      context: grpc.aio.ServicerContext) -> pb.ReserveResponse:
        return pb.ReserveResponse(reservation=canned(request))

    async def ReserveBatch(self, request: pb.ReserveBatchRequest,
                           context: grpc.aio.ServicerContext) -> pb.ReserveBatchResponse:
        return pb.ReserveBatchResponse(results=[
            pb.ReserveBatchResult(reservation=canned(r)) for r in request.requests])

    async def ReserveStream(self, request_iterator: AsyncIterator[pb.ReserveStreamRequest],
                            context: grpc.aio.ServicerContext
                            ) -> AsyncIterator[pb.ReserveStreamResponse]:
        async for message in request_iterator:
            r = message.request
            yield pb.ReserveStreamResponse(channel=r.channel, order_id=r.order_id,
                                           reservation=canned(r))
