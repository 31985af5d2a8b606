"""Many orders at once (ReserveBatch, ReserveStream): each order exactly as `reserve` does it.

Every order runs through `Reservations.reserve`, concurrently: same validation,
idempotency and all-or-nothing lines, by construction. What makes a batch cheap is
underneath: the coalescer (coalesce.py) sends all the claims of one loop turn in one
pipeline and folds the reserve calls of one shard into one reserve_many script call.
One order's failure is that order's outcome, never the batch's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from reservation.domain.models import Reservation, ReserveCommand
from reservation.errors import InvalidArgument, ReservationError
from reservation.reserving.reservations import Reservations
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
    """Outcomes in request order."""
    return list(await asyncio.gather(*(reserve_one(reservations, c) for c in cmds)))
