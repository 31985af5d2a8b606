"""WatchReservation: the order now and at every change, until it settles.

Each watch re-reads the order every poll interval on the server side; concurrent reads
are coalesced into one Redis round trip per event-loop turn by the store, so a thousand
watchers cost a few pipelines, not a thousand round trips. The caller polls nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from reservation.domain.models import Reservation
from reservation.reserving.reservations import Reservations


async def watch(reservations: Reservations, channel: str, order_id: str,
                poll_ms: int, max_ms: int) -> AsyncIterator[Reservation]:
    """Yield the order, then each changed view; stop when settled or after max_ms (the
    caller then watches again). The first read raises NotFound for an unknown order."""
    last = await reservations.get(channel, order_id)
    yield last
    deadline = time.monotonic() + max_ms / 1000
    while not last.state.settled and time.monotonic() < deadline:
        await asyncio.sleep(poll_ms / 1000)
        current = await reservations.get(channel, order_id)
        if current != last:
            last = current
            yield current
