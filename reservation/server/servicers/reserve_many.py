"""ReserveBatch and ReserveStream at the gRPC edge: protobuf in and out, per-order errors.

The servicer delegates here so it stays a list of thin methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from reservation.access import grant
from reservation.domain.models import ReserveCommand
from reservation.errors import InvalidArgument, ReservationError
from reservation.reserving import batch
from reservation.reserving.reservations import Reservations
from reservation.server import convert
from reservation.server.interceptors.errors import status_code
from reservation.server.metrics import recorder
from reservation.v1 import reservation_service_pb2 as pb


def _command(req: pb.ReserveRequest) -> ReserveCommand | ReservationError:
    """The order's command, or its error (an order of a channel the caller may not act
    on is refused alone: PERMISSION_DENIED in its result, the others go ahead)."""
    try:
        grant.channel(req.channel)
        if req.HasField("destination"):
            raise InvalidArgument("destination", "routed reserves go through Reserve (one "
                                  "order per call); batches take lines with warehouses or "
                                  "the SKU's priority order")
        return convert.reserve_command(req)
    except ReservationError as exc:
        return exc


def _code(exc: ReservationError) -> int:
    return int(status_code(exc).value[0])


def _record(channel: str, outcome: batch.Outcome) -> None:
    if isinstance(outcome, ReservationError):
        recorder.outcome(channel, "ERROR", type(outcome).__name__)
    else:
        recorder.outcome(outcome.channel, outcome.state, outcome.reject_reason)


def batch_result(req: pb.ReserveRequest, outcome: batch.Outcome) -> pb.ReserveBatchResult:
    _record(req.channel, outcome)
    if isinstance(outcome, ReservationError):
        return pb.ReserveBatchResult(error_code=_code(outcome), error_message=outcome.message)
    return pb.ReserveBatchResult(reservation=convert.reservation(outcome))


async def reserve_batch(reservations: Reservations,
                        request: pb.ReserveBatchRequest) -> pb.ReserveBatchResponse:
    batch.check_size("requests", len(request.requests), reservations.settings)
    outcomes = await batch.reserve_all(reservations, [_command(r) for r in request.requests])
    return pb.ReserveBatchResponse(
        results=[batch_result(r, o) for r, o in zip(request.requests, outcomes)])


def stream_response(req: pb.ReserveRequest, outcome: batch.Outcome) -> pb.ReserveStreamResponse:
    _record(req.channel, outcome)
    if isinstance(outcome, ReservationError):
        return pb.ReserveStreamResponse(channel=req.channel, order_id=req.order_id,
                                        error_code=_code(outcome),
                                        error_message=outcome.message)
    return pb.ReserveStreamResponse(channel=req.channel, order_id=req.order_id,
                                    reservation=convert.reservation(outcome))


async def reserve_stream(
    reservations: Reservations, requests: AsyncIterator[pb.ReserveStreamRequest],
) -> AsyncIterator[pb.ReserveStreamResponse]:
    """Each request is processed as it arrives; responses go out as they are ready (so
    not necessarily in request order: they echo channel and order_id). At most
    max_batch orders of one stream are in flight; beyond that reading waits (backpressure)."""
    done: asyncio.Queue[pb.ReserveStreamResponse | None] = asyncio.Queue()
    window = asyncio.Semaphore(reservations.settings.max_batch)
    tasks: set[asyncio.Task[None]] = set()

    async def one(req: pb.ReserveRequest) -> None:
        try:
            outcome = await batch.reserve_one(reservations, _command(req))
            done.put_nowait(stream_response(req, outcome))
        finally:
            window.release()

    async def read() -> None:
        try:
            async for message in requests:
                await window.acquire()
                task = asyncio.create_task(one(message.request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            done.put_nowait(None)  # end of responses (or of reading, on error)

    reader = asyncio.create_task(read())
    try:
        while (response := await done.get()) is not None:
            yield response
        await reader  # re-raises a failed read (e.g. the client went away)
    finally:
        reader.cancel()
        for task in list(tasks):
            task.cancel()
