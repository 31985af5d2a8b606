"""WatchReservation: the order now and at every change, until it settles.

Each watch re-reads the order every poll interval on the server side; concurrent reads
are coalesced into one Redis round trip per event-loop turn by the store, so a thousand
watchers cost a few pipelines, not a thousand round trips. The caller polls nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from reservation.domain.models import Reservation, State
from reservation.reserving.reservations import Reservations

# A dead-lettered order waits for a person, which can take long: the stream ends there
# too, and the caller watches again if it wants to see the operator's decision.
SETTLED = {State.CONFIRMED, State.RELEASED, State.EXPIRED, State.REJECTED,
           State.DEAD_LETTERED}


async def watch(reservations: Reservations, channel: str, order_id: str,
                poll_ms: int, max_ms: int) -> AsyncIterator[Reservation]:
    """Yield the order, then each changed view; stop when settled or after max_ms (the
    caller then watches again). The first read raises NotFound for an unknown order."""
    last = await reservations.get(channel, order_id)
    yield last
    deadline = time.monotonic() + max_ms / 1000
    while last.state not in SETTLED and time.monotonic() < deadline:
        await asyncio.sleep(poll_ms / 1000)
        current = await reservations.get(channel, order_id)
        if current != last:
            last = current
            yield current
