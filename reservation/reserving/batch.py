"""Many orders at once (ReserveBatch, ReserveStream): each order exactly as `reserve` does it.

Every order runs through `Reservations.reserve`'s own steps (start, finished,
after_claimed, or reserve itself), concurrently: same validation, idempotency and
all-or-nothing lines, by construction. What makes a batch cheap is
underneath: the coalescer (coalesce.py) sends all the claims of one loop turn in one
pipeline and folds the reserve calls of one shard into one reserve_many script call.
One order's failure is that order's outcome, never the batch's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from reservation.domain.models import Reservation, ReserveCommand
from reservation.errors import InvalidArgument, ReservationError
from reservation.reserving.reservations import Reservations, Started
from reservation.settings import Settings

log = logging.getLogger(__name__)

Outcome = Reservation | ReservationError
"""A processed order, or the error Reserve would have answered for it."""


def check_size(field: str, count: int, settings: Settings) -> None:
    if count == 0:
        raise InvalidArgument(field, "must hold at least one request")
    if count > settings.max_batch:
        raise InvalidArgument(field, f"holds {count} requests, at most {settings.max_batch}")


async def reserve_one(reservations: Reservations,
                      cmd: ReserveCommand | ReservationError) -> Outcome:
    """One order's outcome; errors become the outcome instead of escaping."""
    if isinstance(cmd, ReservationError):  # the request did not even convert
        return cmd
    try:
        return await reservations.reserve(cmd)
    except ReservationError as exc:
        return exc
    except Exception:
        # A bug must not sink the other orders of the batch; it is logged once here.
        log.exception("reserve failed for %s:%s", cmd.channel, cmd.order_id)
        return ReservationError("internal error")


async def reserve_all(reservations: Reservations,
                      cmds: Sequence[ReserveCommand | ReservationError]) -> list[Outcome]:
    """Outcomes in request order.

    Usual orders (one shard: Reservations.start) are started all in this loop turn and
    waited for together, without a task and a coroutine chain per order; the others,
    and started orders that turn out to be retries, go through `reserve` concurrently.
    Each order gets exactly the outcome `reserve` would give it."""
    outcomes: list[Outcome | None] = [None] * len(cmds)
    started: list[tuple[int, Started]] = []
    general: dict[int, Awaitable[Outcome]] = {}
    for i, cmd in enumerate(cmds):
        if isinstance(cmd, ReservationError):  # the request did not even convert
            outcomes[i] = cmd
            continue
        try:
            one = reservations.start(cmd)
        except Exception as exc:  # noqa: BLE001 - the order's outcome, as in reserve_one
            outcomes[i] = _outcome_of(cmd, exc)
            continue
        if one is None:
            general[i] = reserve_one(reservations, cmd)
        else:
            started.append((i, one))
    tasks = {i: asyncio.ensure_future(c) for i, c in general.items()}
    try:
        if started:
            await asyncio.wait([s.sent for _, s in started])
        for i, one in started:
            try:
                done = reservations.finished(one)
            except Exception as exc:  # noqa: BLE001 - the order's outcome, as in reserve_one
                outcomes[i] = _outcome_of(one.cmd, exc)
                continue
            if done is None:  # a retry of a recorded order: the general way, concurrently
                tasks[i] = asyncio.ensure_future(_after_claimed(reservations, one))
            else:
                outcomes[i] = done
        for i, task in tasks.items():
            outcomes[i] = await task
    finally:
        for task in tasks.values():  # the call was cancelled: so are its orders' tasks
            task.cancel()
    return [o if o is not None else ReservationError("internal error") for o in outcomes]


def start(reservations: Reservations,
          cmd: ReserveCommand | ReservationError) -> Started | ReservationError | None:
    """Reservations.start for one order of a stream: its queued call, its error as the
    outcome, or None when it goes the general way (reserve_one)."""
    if isinstance(cmd, ReservationError):
        return cmd
    try:
        return reservations.start(cmd)
    except Exception as exc:  # noqa: BLE001 - the order's outcome, as in reserve_one
        return _outcome_of(cmd, exc)


def finished(reservations: Reservations, one: Started) -> Outcome | None:
    """Reservations.finished as an outcome; None for a retry (after_claimed then)."""
    try:
        return reservations.finished(one)
    except Exception as exc:  # noqa: BLE001 - the order's outcome, as in reserve_one
        return _outcome_of(one.cmd, exc)


async def after_claimed(reservations: Reservations, one: Started) -> Outcome:
    """Reservations.after_claimed as an outcome."""
    return await _after_claimed(reservations, one)


async def _after_claimed(reservations: Reservations, one: Started) -> Outcome:
    try:
        return await reservations.after_claimed(one)
    except Exception as exc:  # noqa: BLE001 - the order's outcome, as in reserve_one
        return _outcome_of(one.cmd, exc)


def _outcome_of(cmd: ReserveCommand, exc: Exception) -> ReservationError:
    """An order's error as reserve_one reports it: a ReservationError as it is; a bug
    logged once and answered "internal error" without sinking the batch."""
    if isinstance(exc, ReservationError):
        return exc
    log.error("reserve failed for %s:%s", cmd.channel, cmd.order_id, exc_info=exc)
    return ReservationError("internal error")
