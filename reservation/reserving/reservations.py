"""Reserve, confirm, release and read orders: the domain over the Lua scripts.

An order's lines are grouped by shard. One script call per shard decides that part
atomically (all its lines or none). Most orders have one part and take two Redis calls:
the identity claim and the reserve script. A multi-shard order reserves part by part in
shard order and releases the parts it holds when a later part is refused, so no line
stays held; every step is idempotent, so concurrent copies of one request converge on
the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from reservation.domain import orders, validation
from reservation.domain.models import (
    OrderLine,
    RejectReason,
    Reservation,
    ReserveCommand,
    State,
)
from reservation.domain.orders import Identity, Part
from reservation.domain.states import PRECEDENCE, PROCEEDING, ReplyCode
from reservation.errors import AlreadyExists, FailedPrecondition, NotFound
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.replies import PartReply
from reservation.storage.store import Store


class Reservations:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def candidates(self, line: OrderLine) -> str:
        """Warehouses to try for a line, in order; "" lets the script use the SKU's
        priority order. The routing layer supplies a better order by overriding this."""
        return line.warehouse_id

    async def reserve(self, cmd: ReserveCommand) -> Reservation:
        validation.reserve(cmd, self.settings)
        ref = keys.order_ref(cmd.channel, cmd.order_id)
        identity = await self._claim(ref, cmd)
        parts = orders.split_by_shard(cmd.lines, self.settings.shards)
        # A queued order waits in one shard's queues; an order spanning shards is not
        # queued (its parts could not be handed stock together).
        allow_queue = cmd.allow_queue and len(parts) == 1
        replies: list[tuple[Part, PartReply]] = []
        refused = False
        for part in parts:
            if refused:  # a copy of this request may have got further: read, don't hold
                reply = await self.store.get(part.shard, ref)
                if reply.code == ReplyCode.NOT_FOUND:
                    continue
            else:
                reply = await self._reserve_part(part, ref, identity, cmd, allow_queue)
            replies.append((part, reply))
            refused = refused or State(reply.state) not in PROCEEDING
        if refused:
            for part, reply in replies:
                if reply.state == State.RESERVED:
                    await self.store.release(part.shard, ref)
        view = self.combine(cmd.channel, cmd.order_id, identity, [r for _, r in replies])
        if view.state == State.REJECTED and len(parts) == 1:
            # Its part record lives only for the rejected retention; so does its identity.
            await self.store.shorten_identity(ref)
        return view

    async def _claim(self, ref: str, cmd: ReserveCommand) -> Identity:
        mine = Identity(orders.new_reservation_id(), cmd.buyer_id, orders.spec(cmd.lines))
        existing = await self.store.claim_order(ref, mine.encode())
        if existing is None:
            return mine
        theirs = Identity.decode(existing)
        if (theirs.buyer_id, theirs.spec) != (mine.buyer_id, mine.spec):
            raise AlreadyExists(
                f"order {ref} was already reserved with different lines or buyer_id; "
                "an idempotency key (channel, order_id) names one request")
        return theirs

    async def _reserve_part(self, part: Part, ref: str, identity: Identity,
                            cmd: ReserveCommand, allow_queue: bool) -> PartReply:
        lines = [(ln.sku, ln.quantity, self.candidates(ln)) for ln in part.lines]
        reply = await self.store.reserve(
            part.shard, ref, identity.reservation_id, cmd.channel, cmd.order_id,
            cmd.buyer_id, part.spec, lines, cmd.hold_ttl_ms, allow_queue)
        if reply.code == ReplyCode.CONFLICT:
            raise AlreadyExists(f"order {ref} is held with different lines")
        return reply

    async def confirm(self, channel: str, order_id: str) -> Reservation:
        ref, identity, parts = await self.lookup(channel, order_id)
        if len(parts) > 1:
            # Check every part first, so a refusal leaves all parts as they were.
            current = await self._read(ref, identity, parts)
            if current.state not in (State.RESERVED, State.CONFIRMED):
                raise _not_confirmable(ref, current.state)
        replies = []
        for i, part in enumerate(parts):
            # Later parts get the sweeper's grace: a confirm that began before expiry
            # finishes on every shard (see confirm.lua).
            grace = 0 if i == 0 else self.settings.expiry_grace_ms
            reply = await self.store.confirm(part.shard, ref, grace)
            if reply.code == ReplyCode.NOT_FOUND:
                raise NotFound(f"order {ref} holds nothing")
            if reply.code == ReplyCode.PRECONDITION:
                raise _not_confirmable(ref, State(reply.state))
            replies.append(reply)
        return self.combine(channel, order_id, identity, replies)

    async def release(self, channel: str, order_id: str) -> Reservation:
        ref, identity, parts = await self.lookup(channel, order_id)
        replies = []
        for part in parts:
            reply = await self.store.release(part.shard, ref)
            if reply.code == ReplyCode.PRECONDITION:
                raise FailedPrecondition(
                    f"order {ref} is CONFIRMED; sold units are not released")
            if reply.code == ReplyCode.OK:
                replies.append(reply)
        if not replies:
            raise NotFound(f"order {ref} holds nothing")
        return self.combine(channel, order_id, identity, replies)

    async def get(self, channel: str, order_id: str) -> Reservation:
        ref, identity, parts = await self.lookup(channel, order_id)
        return await self._read(ref, identity, parts)

    async def _read(self, ref: str, identity: Identity, parts: Sequence[Part]) -> Reservation:
        found = [(p, r) for p in parts if (r := await self.store.get(p.shard, ref)).code == ReplyCode.OK]
        if not found:
            raise NotFound(f"order {ref} holds nothing")
        channel, order_id = ref.split(":", 1)
        view = self.combine(channel, order_id, identity, [r for _, r in found])
        if view.state in (State.EXPIRED, State.RELEASED):
            await self._release_leftovers(ref, found)
        return view

    async def _release_leftovers(self, ref: str, found: Sequence[tuple[Part, PartReply]]) -> None:
        """Shards expire a multi-shard order's parts one sweep apart. Once one part has
        expired (or was released) the order can never be confirmed whole, so the parts
        still held give their units back now rather than at their own expiry."""
        for part, reply in found:
            if reply.state == State.RESERVED:
                await self.store.release(part.shard, ref)

    async def lookup(self, channel: str, order_id: str) -> tuple[str, Identity, list[Part]]:
        """An order's ref, identity and parts; NotFound when it was never reserved."""
        validation.order_key(channel, order_id, self.settings)
        ref = keys.order_ref(channel, order_id)
        raw = await self.store.order_identity(ref)
        if raw is None:
            raise NotFound(f"no order {ref}")
        identity = Identity.decode(raw)
        return ref, identity, orders.split_by_shard(identity.lines, self.settings.shards)

    def combine(self, channel: str, order_id: str, identity: Identity,
                 replies: Sequence[PartReply]) -> Reservation:
        """One order's view from its parts' replies."""
        states = {State(r.state) for r in replies}
        state = next(s for s in PRECEDENCE if s in states)
        rejected = next((r for r in replies if r.state == State.REJECTED), None)
        held = [r for r in replies if r.state == State.RESERVED]
        allocations = [] if state == State.REJECTED else [
            a for r in replies for a in orders.parse_allocations(r.allocations)]
        return Reservation(
            reservation_id=identity.reservation_id,
            channel=channel,
            order_id=order_id,
            buyer_id=identity.buyer_id,
            state=state,
            lines=identity.lines,
            allocations=tuple(allocations),
            reject_reason=RejectReason(rejected.reason) if rejected else RejectReason.NONE,
            failed_sku=rejected.failed_sku if rejected else "",
            expires_at_ms=min(r.expires_at_ms for r in held) if state == State.RESERVED else 0,
            queue_position=max(r.queue_position for r in replies),
        )


def _not_confirmable(ref: str, state: State) -> FailedPrecondition:
    return FailedPrecondition(
        f"order {ref} is {state.value}; only a RESERVED hold can be confirmed")
