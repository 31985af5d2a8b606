"""Dead-lettered orders: queued too long, now waiting for a person to decide.

Only single-shard orders are ever queued (see reservations.py), so each dead letter is
one hold record in one shard, listed from that shard's dead-letter index.
"""

from __future__ import annotations

from reservation.domain import validation
from reservation.domain.models import Reservation
from reservation.domain.states import ReplyCode
from reservation.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from reservation.reserving.reservations import Reservations
from reservation.storage import keys
from reservation.storage.replies import PartReply

MAX_PAGE = 1000


class DeadLetters:
    def __init__(self, reservations: Reservations) -> None:
        self.reservations = reservations
        self.store = reservations.store
        self.settings = reservations.settings

    async def list(self, sku: str = "", page_size: int = 100) -> list[Reservation]:
        """Dead letters, oldest first per shard; of one SKU when `sku` is given."""
        if not 0 <= page_size <= MAX_PAGE:
            raise InvalidArgument("page_size", f"must be between 0 and {MAX_PAGE}")
        limit = page_size or 100
        validation.code("sku", sku, required=False)
        shards = ([keys.shard_of(sku, self.settings.shards)] if sku
                  else range(self.settings.shards))
        found: list[Reservation] = []
        for shard in shards:
            for ref in await self.store.dead_letter_refs(shard, limit):
                channel, order_id = ref.split(":", 1)
                reservation = await self.reservations.get(channel, order_id)
                if sku and sku not in {ln.sku for ln in reservation.lines}:
                    continue
                found.append(reservation)
                if len(found) == limit:
                    return found
        return found

    async def requeue(self, channel: str, order_id: str) -> Reservation:
        """Back at the tail of its SKUs' queues with a fresh deadline (served at once
        if stock is there)."""
        return await self._decide(channel, order_id, "REQUEUE")

    async def reject(self, channel: str, order_id: str) -> Reservation:
        return await self._decide(channel, order_id, "REJECT")

    async def _decide(self, channel: str, order_id: str, action: str) -> Reservation:
        ref, identity, parts = await self.reservations.lookup(channel, order_id)
        reply: PartReply = await self.store.dead_letter(parts[0].shard, ref, action)
        if reply.code == ReplyCode.PRECONDITION:
            raise FailedPrecondition(f"order {ref} is {reply.state}, not DEAD_LETTERED")
        if reply.code == ReplyCode.QUEUE_FULL:
            raise ResourceExhausted(f"the queue of order {ref} is full; try again later")
        return self.reservations.combine(channel, order_id, identity, [reply])
