"""Multi-shard orders: whole or not at all, whoever crashes when.

An order whose lines sit in several shards has one part per shard, each decided by its
own script call; no Redis call spans shards (they may be on different Cluster nodes).
So the order is a small saga whose decisions are made in one place, its home record
(storage/lua/phase.lua), and whose parts only ever follow a decision:

    PLACING --all parts held--> HELD --confirm commits--> CONFIRMED
       |                          |
       +--a part refused----------+--released / a part expired--> ABORTED

- Reserve records the intent (PLACING, and a pending entry that the recovery sweep
  finds if nobody finishes) before the first part is held, then holds the parts in
  shard order and decides HELD, or ABORTED when a part is refused.
- ABORTED is followed by releasing every part; a part not reached yet gets a RELEASED
  tombstone, so a slow or retried copy of the request arriving later holds nothing.
- Confirm is two-phase: it takes a numbered attempt at the home record, locks every part
  against expiry (lock.lua; a part not RESERVED refuses and nothing is confirmed), and
  only then commits at home (HELD with that attempt live -> CONFIRMED). From that point
  every part is locked and gets confirmed, by the confirmer or by whoever comes next, so
  no part is ever confirmed alone and the write-back stream never carries a confirmed
  part of an order that was not decided confirmed whole.
- Whoever finds an order half-done completes or compensates it the same way: a retried
  Reserve, GetReservation, Confirm, Release, and the recovery sweep every replica runs
  (reserving/recovery.py) over the pending entries and over locks whose lease passed.
  Every step is idempotent and every decision a compare-and-set at home, so any number
  of actors may race.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from reservation.domain.models import Reservation, State
from reservation.domain.orders import Identity, Part
from reservation.domain.states import PROCEEDING, ReplyCode
from reservation.errors import FailedPrecondition, Unavailable
from reservation.storage.replies import PartReply
from reservation.storage.store import Store


class Phase(StrEnum):
    PLACING = "PLACING"
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    ABORTED = "ABORTED"
    NONE = ""  # no home record (expired), or a one-part order


class BeingPlaced(Unavailable):
    """A reader found the order's placer still at work (within its lease): retry."""


Replies = list[tuple[Part, PartReply | None]]
"""Each part with its record, None when the part holds no record yet."""


def _found(replies: Replies) -> list[PartReply]:
    return [r for _, r in replies if r is not None]


def _all_held(replies: Replies) -> bool:
    return all(r is not None and r.state == State.RESERVED for _, r in replies)


def _any_ended(replies: Replies) -> bool:
    """A part refused, expired or released: the order can never be held whole."""
    return any(r is not None and State(r.state) not in PROCEEDING for _, r in replies)


def missing_lines(replies: Replies) -> str:
    """The lines of parts that are not held, with what their part is instead."""
    out = []
    for part, reply in replies:
        if reply is None or reply.state != State.RESERVED:
            why = reply.state if reply is not None else "not held"
            out += [f"{ln.sku} x{ln.quantity} ({why})" for ln in part.lines]
    return ", ".join(out)


class MultiShard:
    """The saga steps over the store; Reservations calls these for orders of 2+ parts."""

    def __init__(self, store: Store, lease_ms: int) -> None:
        self.store = store
        self.lease_ms = lease_ms

    async def read_parts(self, ref: str, parts: Sequence[Part]) -> Replies:
        out: Replies = []
        for part in parts:
            reply = await self.store.get(part.shard, ref)
            out.append((part, reply if reply.code == ReplyCode.OK else None))
        return out

    async def phase(self, ref: str, op: str = "read", arg: str | int = "") -> Phase:
        return Phase((await self.store.phase(ref, op, arg))[0])

    # -- following a decision ---------------------------------------------------------
    async def follow(self, ref: str, identity: Identity, parts: Sequence[Part],
                     phase: Phase) -> Replies:
        """Bring every part in line with the home record's decision; the parts after."""
        if phase == Phase.ABORTED:
            return await self._compensate(ref, identity, parts)
        if phase == Phase.CONFIRMED:
            return await self._commit(ref, parts)
        return await self.read_parts(ref, parts)

    async def _compensate(self, ref: str, identity: Identity, parts: Sequence[Part]) -> Replies:
        out: Replies = []
        for part in parts:
            tombstone = (part.spec, identity.reservation_id, identity.buyer_id)
            reply = await self.store.release(part.shard, ref, tombstone)
            if reply.code == ReplyCode.PRECONDITION:  # CONFIRMED: cannot be, see phase.lua
                raise Unavailable(f"order {ref}: a part is CONFIRMED in an aborted order")
            out.append((part, reply))
        await self.store.phase(ref, "done")
        return out

    async def _commit(self, ref: str, parts: Sequence[Part]) -> Replies:
        out: Replies = []
        for part, reply in await self.read_parts(ref, parts):
            if reply is not None and reply.state == State.RESERVED:
                reply = await self.store.confirm(part.shard, ref, commit=True)
                if reply.code != ReplyCode.OK:
                    raise Unavailable(f"order {ref}: a part of a confirmed order is not "
                                      f"locked ({reply.state}); retry")
            out.append((part, reply))
        return out

    # -- settling what is found half-done ---------------------------------------------
    async def settle(self, ref: str, identity: Identity, parts: Sequence[Part],
                     abort_stale_only: bool = True) -> Replies:
        """Complete or compensate the order as its parts and home record stand; the parts
        after. A PLACING order with parts not reached yet is left to its placer unless
        its lease passed (then it is aborted); Unavailable tells a reader to retry."""
        replies = await self.read_parts(ref, parts)
        phase = await self.phase(ref)  # after the parts: a decision they show is in it
        if phase == Phase.PLACING:
            if _all_held(replies):
                phase = await self.phase(ref, "decide", Phase.HELD)
            elif _any_ended(replies) or not abort_stale_only:
                phase = await self.phase(ref, "decide", Phase.ABORTED)
            else:
                phase = await self.phase(ref, "abort_due")
                if phase == Phase.PLACING:
                    raise BeingPlaced(f"order {ref} is being placed; retry")
        if phase == Phase.HELD and not _all_held(replies):
            phase = await self.phase(ref, "abort")  # CONFIRMED if a commit won the race
        if phase == Phase.ABORTED and any(r is None or r.state == State.RESERVED
                                          for _, r in replies):
            return await self.follow(ref, identity, parts, phase)
        if phase == Phase.CONFIRMED and any(r is None or r.state != State.CONFIRMED
                                            for _, r in replies):
            return await self.follow(ref, identity, parts, phase)
        return replies

    # -- reserve ----------------------------------------------------------------------
    async def decide_after_reserve(self, ref: str, identity: Identity, parts: Sequence[Part],
                                   replies: Replies) -> Replies:
        """The placer's decision once it has tried its parts (stopping at a refusal)."""
        refused = _any_ended(replies) or len(replies) < len(parts)
        phase = await self.phase(ref, "decide", Phase.ABORTED if refused else Phase.HELD)
        if phase == Phase.HELD and refused:  # decided before: a part ended since
            phase = await self.phase(ref, "abort")
        if phase in (Phase.ABORTED, Phase.CONFIRMED):
            return await self.follow(ref, identity, parts, phase)
        return await self.read_parts(ref, parts) if len(replies) < len(parts) else replies

    # -- confirm ----------------------------------------------------------------------
    async def confirm(self, ref: str, identity: Identity, parts: Sequence[Part]) -> Replies:
        replies = await self.read_parts(ref, parts)
        phase = await self.phase(ref)
        if phase == Phase.CONFIRMED:
            return await self.follow(ref, identity, parts, phase)
        if phase == Phase.ABORTED or not _all_held(replies):
            # Refused before any write: nothing is locked, nothing confirmed.
            raise FailedPrecondition(
                f"order {ref} is not held whole, nothing was confirmed; lines not held: "
                f"{missing_lines(replies) or 'none (the order was released)'}")
        if phase == Phase.PLACING:  # every part is held: the placer's decision is HELD
            phase = await self.phase(ref, "decide", Phase.HELD)
        raw_phase, attempt = await self.store.phase(ref, "attempt", self.lease_ms)
        phase = Phase(raw_phase)
        if phase == Phase.CONFIRMED:
            return await self.follow(ref, identity, parts, Phase.CONFIRMED)
        if phase != Phase.HELD:
            raise FailedPrecondition(f"order {ref} was released; nothing was confirmed")
        return await self._lock_and_commit(ref, identity, parts, attempt)

    async def _lock_and_commit(self, ref: str, identity: Identity, parts: Sequence[Part],
                               attempt: int) -> Replies:
        locked: list[Part] = []
        refused: Replies = []
        for part in parts:
            reply = await self.store.lock(part.shard, ref, attempt)
            if reply.code == ReplyCode.OK:
                locked.append(part)
            else:
                refused.append((part, reply if reply.code != ReplyCode.NOT_FOUND else None))
        if not refused:
            phase = await self.phase(ref, "commit", attempt)
            if phase == Phase.CONFIRMED:
                return await self.follow(ref, identity, parts, phase)
        # Not decided: fence this attempt (it can no longer commit), then undo its locks.
        # A copy of this confirm sharing the attempt may have committed first: then the
        # locks stay and the order is confirmed whole.
        if await self.phase(ref, "fence", attempt) == Phase.CONFIRMED:
            return await self.follow(ref, identity, parts, Phase.CONFIRMED)
        for part in locked:
            await self.store.unlock(part.shard, ref, attempt)
        if refused:
            raise FailedPrecondition(
                f"order {ref} is not held whole, nothing was confirmed; lines not held: "
                f"{missing_lines(refused)}")
        phase = await self.phase(ref)
        if phase == Phase.ABORTED:
            raise FailedPrecondition(f"order {ref} was released; nothing was confirmed")
        raise Unavailable(f"order {ref}: the confirm was interrupted, nothing was "
                          "confirmed; retry")

    # -- release ----------------------------------------------------------------------
    async def release(self, ref: str, identity: Identity, parts: Sequence[Part]) -> Replies:
        phase = await self.phase(ref, "abort")
        if phase == Phase.CONFIRMED:
            await self.follow(ref, identity, parts, phase)
            raise FailedPrecondition(f"order {ref} is CONFIRMED; sold units are not released")
        return await self.follow(ref, identity, parts, Phase.ABORTED)

    # -- recovery of a locked part ----------------------------------------------------
    async def resolve_lock(self, ref: str, identity: Identity | None, parts: Sequence[Part],
                           shard: int) -> None:
        """A part locked longer than the lease: its confirm attempt stalled or died. The
        home record says what happens: commit, compensate, or unlock (fencing the
        attempt first, so it cannot commit after the part is unlocked)."""
        reply = await self.store.get(shard, ref)
        if identity is None or reply.code != ReplyCode.OK or not reply.locked_by:
            await self.store.unlock(shard, ref, "*")  # drops a stale index entry
            return
        phase = Phase((await self.store.phase(ref, "fence", reply.locked_by))[0])
        if phase in (Phase.CONFIRMED, Phase.ABORTED):
            await self.follow(ref, identity, parts, phase)
        else:
            await self.store.unlock(shard, ref, reply.locked_by)


def view_parts(replies: Replies) -> list[PartReply]:
    return _found(replies)


def confirmed_whole(replies: Replies) -> bool:
    return all(r is not None and r.state == State.CONFIRMED for _, r in replies)


__all__ = ["MultiShard", "Phase", "Replies", "Reservation", "confirmed_whole", "view_parts"]
