"""Reserve, confirm, release and read orders: the domain over the Lua scripts.

An order's lines are grouped by shard. One script call per shard decides that part
atomically (all its lines or none). Most orders have one part and take one Redis call:
the identity claim and the reserve in one script (claim_reserve.lua); on Redis Cluster
that needs the order's home key in the part's slot, else they are two calls. An order
spanning shards is a small saga with its decisions kept at its home record (multi.py),
so it is held, confirmed or released whole whoever crashes when; every step is
idempotent, so concurrent copies of one request converge on the same answer. On one
Redis a new multi-shard order is placed in one script call instead (place_many.lua runs
the saga's placing steps atomically and leaves the same records); a retry, and every
order on Cluster, takes the saga's steps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from reservation.reserving.multi import MultiShard, Phase, Replies, view_parts
from reservation.settings import Settings
from reservation.storage import keys
from reservation.storage.replies import Claimed, PartReply
from reservation.storage.store import Store


@dataclass(slots=True)
class Started:
    """An order whose one script call is queued (Reservations.start): claim_reserve for
    a one-part order, place for a multi-shard one on one Redis."""

    cmd: ReserveCommand
    ref: str
    parts: list[Part]
    mine: Identity
    sent: asyncio.Future[Any]
    """The script's raw reply, from this turn's pipeline."""


SUPERSEDE_ROUNDS = 3
"""Attempts of a request whose key names a REJECTED other request: each replaces the
rejected one; concurrent corrected copies converge in two (see Reservations.reserve)."""


class OtherRequest(AlreadyExists):
    """The key (channel, order_id) names another request (other lines or buyer_id);
    `existing` is its recorded identity. ALREADY_EXISTS unless that one was REJECTED."""

    def __init__(self, ref: str, existing: str) -> None:
        super().__init__(f"order {ref} was already reserved with different lines or "
                         "buyer_id; an idempotency key (channel, order_id) names one "
                         "request (a REJECTED one may be replaced at once)")
        self.ref = ref
        self.existing = existing


class Reservations:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.multi = MultiShard(store, settings.order_lease_ms)

    def candidates(self, line: OrderLine, cmd: ReserveCommand) -> str:
        """Warehouses to try for a line, in order: the line's own warehouse, else the
        routed order (cmd.routes), else "" (the script uses the SKU's priority order)."""
        if line.warehouse_id:
            return line.warehouse_id
        return dict(cmd.routes).get(line.sku, "")

    async def reserve(self, cmd: ReserveCommand) -> Reservation:
        """Hold the order's lines (or queue or reject it). Its key (channel, order_id)
        names one request: the same request again is answered as recorded; another
        request under the key is ALREADY_EXISTS, unless the recorded one was REJECTED
        (a typo'd SKU, sold out...): then the new one replaces it at once."""
        for _ in range(SUPERSEDE_ROUNDS - 1):
            try:
                return await self._reserve_once(cmd)
            except OtherRequest as exc:
                await self._supersede(cmd, exc)
        return await self._reserve_once(cmd)

    async def _supersede(self, cmd: ReserveCommand, exc: OtherRequest) -> None:
        """Drop the recorded identity of a REJECTED order so `cmd` can claim the key;
        re-raise `exc` (ALREADY_EXISTS) when the recorded order holds, held or waits.
        Compare-and-delete: a concurrent request that replaced it first wins."""
        if await self.store.order_identity(exc.ref) != exc.existing:
            return  # replaced (or dropped) meanwhile: the caller tries again against it
        theirs = Identity.decode(exc.existing)
        try:
            recorded = await self.get(cmd.channel, cmd.order_id)
        except NotFound:
            raise exc from None  # claimed, nothing reserved yet: a request in flight
        if recorded.reservation_id != theirs.reservation_id:
            return  # replaced between the two reads
        if recorded.state != State.REJECTED:
            raise exc
        await self.store.drop_identity(exc.ref, exc.existing)

    async def _reserve_once(self, cmd: ReserveCommand) -> Reservation:
        started = self.start(cmd)
        if started is None:
            return await self._reserve_general(cmd)
        with contextlib.suppress(Exception):  # finished() raises it (translated)
            await started.sent
        done = self.finished(started)
        return done if done is not None else await self.after_claimed(started)

    def start(self, cmd: ReserveCommand) -> Started | None:
        """The order's one script call, validated and queued in this turn's pipeline: a
        one-part order's claim and reserve (Store.claims_with_reserve), or a multi-shard
        order's placing on one Redis (Store.places_whole); None for any other order
        (reserve() takes it the general way). ReserveBatch starts all its orders, then
        waits once (batch.py)."""
        validation.reserve(cmd, self.settings)
        ref = keys.order_ref(cmd.channel, cmd.order_id)
        parts = orders.split_by_shard(cmd.lines, self.settings.shards)
        if len(parts) > 1:
            return self._start_place(cmd, ref, parts) if self.store.places_whole() else None
        if not self.store.claims_with_reserve(ref, parts[0].shard):
            return None
        part = parts[0]
        mine = Identity(orders.new_reservation_id(), cmd.buyer_id, part.spec)
        sent = self.store.send_claim_reserve(
            part.shard, ref, mine.encode(), mine.reservation_id, cmd.channel,
            cmd.order_id, cmd.buyer_id, part.spec, self._lines(part, cmd),
            cmd.hold_ttl_ms, cmd.allow_queue, cmd.load_day, cmd.device_id, cmd.client_ip)
        return Started(cmd, ref, parts, mine, sent)

    def _start_place(self, cmd: ReserveCommand, ref: str, parts: list[Part]) -> Started:
        mine = Identity(orders.new_reservation_id(), cmd.buyer_id, orders.spec(cmd.lines),
                        Phase.PLACING)
        sent = self.store.send_place(
            ref, mine, [(p.shard, p.spec, self._lines(p, cmd)) for p in parts],
            cmd.channel, cmd.order_id, cmd.hold_ttl_ms, cmd.load_day, cmd.device_id,
            cmd.client_ip)
        return Started(cmd, ref, parts, mine, sent)

    def finished(self, started: Started) -> Reservation | None:
        """A started order's view once its call came back; None when the order already
        had an identity (a retry: after_claimed goes on with it)."""
        cmd = started.cmd
        if len(started.parts) > 1:
            placed = self.store.place_reply(started.sent)
            if isinstance(placed, Claimed):
                return None
            if isinstance(placed, PartReply):  # CONFLICT in a shard: as the saga answers
                self._check_held(started.ref, placed)
                raise AssertionError(f"place: unexpected reply {placed}")
            return self.combine(cmd.channel, cmd.order_id, started.mine, placed.parts)
        first = self.store.claim_reserve_reply(started.sent)
        if not isinstance(first, PartReply):
            return None
        self._check_held(started.ref, first)  # a new order: claimed and reserved
        # A REJECTED one's identity was already shortened by the script.
        return self.combine(cmd.channel, cmd.order_id, started.mine, [first],
                            started.parts[0].lines)

    async def after_claimed(self, started: Started) -> Reservation:
        """A started order whose identity was there: the same request again (answered as
        recorded, the saga's way for a multi-shard order) or another one under the same
        key (AlreadyExists)."""
        if len(started.parts) > 1:
            claimed = self.store.place_reply(started.sent)
        else:
            claimed = self.store.claim_reserve_reply(started.sent)
        assert isinstance(claimed, Claimed)
        try:
            identity = self._theirs(started.ref, started.mine, claimed.identity)
        except OtherRequest as exc:
            await self._supersede(started.cmd, exc)
            return await self.reserve(started.cmd)
        if len(started.parts) > 1:
            return await self._reserve_multi(started.ref, started.cmd, started.parts)
        return await self._reserve_one_part(started.ref, started.parts[0], identity,
                                            started.cmd)

    async def _reserve_general(self, cmd: ReserveCommand) -> Reservation:
        ref = keys.order_ref(cmd.channel, cmd.order_id)
        parts = orders.split_by_shard(cmd.lines, self.settings.shards)
        if len(parts) > 1:
            return await self._reserve_multi(ref, cmd, parts)
        identity = await self._claim(ref, cmd)
        return await self._reserve_one_part(ref, parts[0], identity, cmd)

    async def _reserve_one_part(self, ref: str, part: Part, identity: Identity,
                                cmd: ReserveCommand) -> Reservation:
        reply = await self._reserve_part(part, ref, identity, cmd, cmd.allow_queue)
        view = self.combine(cmd.channel, cmd.order_id, identity, [reply])
        if view.state == State.REJECTED:
            # Its part record lives only for the rejected retention; so does its identity.
            await self.store.shorten_identity(ref)
        return view

    async def _reserve_multi(self, ref: str, cmd: ReserveCommand,
                             parts: Sequence[Part]) -> Reservation:
        """Intent first, then the parts in shard order, stopping at a refusal; then the
        decision at home (see multi.py). Not queued: parts could not be handed stock
        together."""
        identity = await self._claim(ref, cmd, Phase.PLACING)
        replies: Replies = []
        for part in parts:
            reply = await self._reserve_part(part, ref, identity, cmd, False)
            replies.append((part, reply))
            if State(reply.state) not in PROCEEDING:
                break
        replies = await self.multi.decide_after_reserve(ref, identity, parts, replies)
        return self.combine(cmd.channel, cmd.order_id, identity, view_parts(replies))

    async def _claim(self, ref: str, cmd: ReserveCommand, phase: str = "") -> Identity:
        mine = Identity(orders.new_reservation_id(), cmd.buyer_id, orders.spec(cmd.lines),
                        phase)
        if phase:
            existing = await self.store.record_intent(ref, mine.encode())
        else:
            existing = await self.store.claim_order(ref, mine.encode())
        if existing is None:
            return mine
        return self._theirs(ref, mine, existing)

    @staticmethod
    def _theirs(ref: str, mine: Identity, existing: str) -> Identity:
        """The identity already recorded for the order, if it names the same request."""
        theirs = Identity.decode(existing)
        if (theirs.buyer_id, theirs.spec) != (mine.buyer_id, mine.spec):
            raise OtherRequest(ref, existing)
        return theirs

    def _lines(self, part: Part, cmd: ReserveCommand) -> list[tuple[str, int, str]]:
        return [(ln.sku, ln.quantity, self.candidates(ln, cmd)) for ln in part.lines]

    @staticmethod
    def _check_held(ref: str, reply: PartReply) -> None:
        if reply.code == ReplyCode.CONFLICT:
            raise AlreadyExists(f"order {ref} is held with different lines")

    async def _reserve_part(self, part: Part, ref: str, identity: Identity,
                            cmd: ReserveCommand, allow_queue: bool) -> PartReply:
        reply = await self.store.reserve(
            part.shard, ref, identity.reservation_id, cmd.channel, cmd.order_id,
            cmd.buyer_id, part.spec, self._lines(part, cmd), cmd.hold_ttl_ms, allow_queue,
            cmd.load_day, cmd.device_id, cmd.client_ip)
        self._check_held(ref, reply)
        return reply

    async def confirm(self, channel: str, order_id: str) -> Reservation:
        ref, identity, parts = await self.lookup(channel, order_id)
        if len(parts) > 1:
            replies = await self.multi.confirm(ref, identity, parts)
            return self.combine(channel, order_id, identity, view_parts(replies))
        reply = await self.store.confirm(parts[0].shard, ref)
        if reply.code == ReplyCode.NOT_FOUND:
            raise NotFound(f"order {ref} holds nothing")
        if reply.code == ReplyCode.PRECONDITION:
            raise _not_confirmable(ref, State(reply.state))
        return self.combine(channel, order_id, identity, [reply])

    async def release(self, channel: str, order_id: str) -> Reservation:
        ref, identity, parts = await self.lookup(channel, order_id)
        if len(parts) > 1:
            replies = await self.multi.release(ref, identity, parts)
            return self.combine(channel, order_id, identity, view_parts(replies))
        reply = await self.store.release(parts[0].shard, ref)
        if reply.code == ReplyCode.PRECONDITION:
            raise FailedPrecondition(f"order {ref} is CONFIRMED; sold units are not released")
        if reply.code != ReplyCode.OK:
            raise NotFound(f"order {ref} holds nothing")
        return self.combine(channel, order_id, identity, [reply])

    async def get(self, channel: str, order_id: str) -> Reservation:
        """The order as it stands; a multi-shard order found half-done is completed or
        compensated first (see multi.py), so a read never shows a partial order."""
        ref, identity, parts = await self.lookup(channel, order_id)
        if len(parts) > 1:
            found = view_parts(await self.multi.settle(ref, identity, parts))
        else:
            reply = await self.store.get(parts[0].shard, ref)
            found = [reply] if reply.code == ReplyCode.OK else []
        if not found:
            raise NotFound(f"order {ref} holds nothing")
        return self.combine(channel, order_id, identity, found)

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
                replies: Sequence[PartReply],
                lines: tuple[OrderLine, ...] | None = None) -> Reservation:
        """One order's view from its parts' replies. `lines`: the identity's lines when
        the caller has them at hand (spares parsing its spec again)."""
        if lines is None:
            lines = identity.lines
        if len(replies) == 1:
            return _one(channel, order_id, identity, replies[0], lines)
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
            lines=lines,
            allocations=tuple(allocations),
            reject_reason=RejectReason(rejected.reason) if rejected else RejectReason.NONE,
            failed_sku=rejected.failed_sku if rejected else "",
            expires_at_ms=min(r.expires_at_ms for r in held) if state == State.RESERVED else 0,
            queue_position=max(r.queue_position for r in replies),
        )


def _one(channel: str, order_id: str, identity: Identity, reply: PartReply,
         lines: tuple[OrderLine, ...]) -> Reservation:
    """combine() for the usual one-part order: the same view, without the sets and
    scans that only many parts need."""
    state = State(reply.state)
    rejected = state == State.REJECTED
    return Reservation(
        reservation_id=identity.reservation_id,
        channel=channel,
        order_id=order_id,
        buyer_id=identity.buyer_id,
        state=state,
        lines=lines,
        allocations=() if rejected else tuple(orders.parse_allocations(reply.allocations)),
        reject_reason=RejectReason(reply.reason) if rejected else RejectReason.NONE,
        failed_sku=reply.failed_sku if rejected else "",
        expires_at_ms=reply.expires_at_ms if state == State.RESERVED else 0,
        queue_position=reply.queue_position,
    )


def _not_confirmable(ref: str, state: State) -> FailedPrecondition:
    return FailedPrecondition(
        f"order {ref} is {state.value}; only a RESERVED hold can be confirmed")
