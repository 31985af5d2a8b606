"""ReserveBatch and ReserveStream at the gRPC edge: protobuf in and out, per-order errors.

The servicer delegates here so it stays a list of thin methods.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

from reservation.access import grant
from reservation.domain.models import ReserveCommand
from reservation.errors import InvalidArgument, ReservationError
from reservation.reserving import batch
from reservation.reserving.reservations import Reservations, Started
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
    """Each request is processed as it arrives; responses go out as they are ready (so
    not necessarily in request order: they echo channel and order_id). At most
    max_batch orders of one stream are in flight; beyond that reading waits (backpressure).
    The usual order is started as it is read and answered from its reply's callback
    (batch.start / batch.finished), without a task per message; others take a task."""
    done: asyncio.Queue[pb.ReserveStreamResponse | None] = asyncio.Queue()
    window = asyncio.Semaphore(reservations.settings.max_batch)
    tasks: set[asyncio.Task[None]] = set()

    async def one(req: pb.ReserveRequest, cmd: ReserveCommand | ReservationError,
                  started: Started | None = None) -> None:
        try:
            if started is not None:  # a retry of a recorded order (see finish)
                outcome = await batch.after_claimed(reservations, started)
            else:
                outcome = await batch.reserve_one(reservations, cmd)
            done.put_nowait(stream_response(req, outcome))
        finally:
            window.release()

    def spawn(req: pb.ReserveRequest, cmd: ReserveCommand | ReservationError,
              started: Started | None = None) -> None:
        task = asyncio.create_task(one(req, cmd, started))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    sent: set[asyncio.Future[Any]] = set()

    def finish(req: pb.ReserveRequest, started: Started, _: asyncio.Future[Any]) -> None:
        """The usual order's reply came back: its response, without a task of its own."""
        sent.discard(started.sent)
        if started.sent.cancelled():  # the stream is being torn down
            window.release()
            return
        outcome = batch.finished(reservations, started)
        if outcome is None:  # a retry: a task takes it on (and releases the window)
            spawn(req, started.cmd, started)
            return
        try:
            done.put_nowait(stream_response(req, outcome))
        finally:
            window.release()

    async def read() -> None:
        try:
            async for message in requests:
                await window.acquire()
                req = message.request
                cmd = _command(req, sender)
                started = batch.start(reservations, cmd)
                if isinstance(started, Started):
                    sent.add(started.sent)
                    started.sent.add_done_callback(functools.partial(finish, req, started))
                elif started is not None:  # refused before any Redis call
                    done.put_nowait(stream_response(req, started))
                    window.release()
                else:
                    spawn(req, cmd)
            # Every response before the end marker: replies still on their way (whose
            # callbacks may spawn a task for a retry) and the tasks.
            while sent or tasks:
                if sent:
                    await asyncio.wait(set(sent))
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
