"""ReserveBatch and ReserveStream at the gRPC edge: protobuf in and out, per-order errors.

The servicer delegates here so it stays a list of thin methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from reservation.access import grant
from reservation.domain.models import ReserveCommand
from reservation.errors import InvalidArgument, ReservationError
from reservation.reserving import batch, stream
from reservation.reserving.reservations import Reservations
from reservation.server import convert
from reservation.server.interceptors.errors import status_code
from reservation.server.metrics import recorder
from reservation.v1 import reservation_service_pb2 as pb


def _command(req: pb.ReserveRequest, sender: tuple[str, str] = ("", "")
             ) -> ReserveCommand | ReservationError:
    """The order's command, or its error (an order of a channel the caller may not act
    on is refused alone: PERMISSION_DENIED in its result, the others go ahead)."""
    try:
        grant.channel(req.channel)
        if req.HasField("destination"):
            raise InvalidArgument("destination", "routed reserves go through Reserve (one "
                                  "order per call); batches take lines with warehouses or "
                                  "the SKU's priority order")
        return convert.reserve_command(req, sender)
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


async def reserve_batch(reservations: Reservations, request: pb.ReserveBatchRequest,
                        sender: tuple[str, str] = ("", "")) -> pb.ReserveBatchResponse:
    """sender: the call's device and client address (convert.sender), for every order."""
    batch.check_size("requests", len(request.requests), reservations.settings)
    outcomes = await batch.reserve_all(reservations,
                                       [_command(r, sender) for r in request.requests])
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
    sender: tuple[str, str] = ("", ""),
) -> AsyncIterator[pb.ReserveStreamResponse]:
    """Each request is processed as it arrives and answered as it is ready (reserving/
    stream.py: the flow control); responses echo channel and order_id."""
    async def commands() -> AsyncIterator[tuple[pb.ReserveRequest, stream.Command]]:
        async for message in requests:
            yield message.request, _command(message.request, sender)

    async for req, outcome in stream.reserve_each(reservations, commands()):
        yield stream_response(req, outcome)
