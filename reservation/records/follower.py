"""The records follower: keeps the SQL read model from the order event streams, exactly
once.

Each pass reads every shard's stream after the cursor the store keeps for it, and in ONE
transaction stores the audit events (each once, by event id), the current rows of the
orders they belong to (read from the hub: the events carry changes, the hub's document
is the order), a few statements for the whole pass, and the new cursors. Only then does
it move the `records` group's marks in Redis (the watermark trimming and eviction go
by). The cursors are read from the store once and then kept in memory; each commit
still compares every cursor it moves with the store's, so a cursor someone else moved
fails the commit (nothing written) and they are read again. A crash between the commit and the mark
re-reads entries the cursor has already passed: it skips them, so nothing is applied
twice, and nothing is missed because the mark never runs ahead of the store.

It runs inside `reservation serve` (a background task of every replica); a lease in
Redis lets one replica follow at a time, the others wait to take over. The cursor is
compared and set in the transaction, so even two followers at once apply nothing twice.
A follower may own a group of the shards instead of all of them (`group`: index I of N
takes the shards s with s % N == I, under a lease of the group's own): N followers on
disjoint groups apply in parallel, each shard still exactly once (its cursor is compared
in the transaction, its mark moved after the commit, shard by shard); followers whose
groups overlap only do the same work twice.

A shard whose stream's cap (RESERVATION_ORDER_EVENT_STREAM_MAX) trimmed entries past the
store's cursor is broken: events were lost before the store applied them. The follower
stops applying that shard (so the gap stays visible: reservation_stream_group_broken,
the ReservationStreamGroupBroken alert) until `reservation records repair` (repair())
refreshes the rows of every order the shard still holds in Redis and moves the cursor
past the gap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from reservation.errors import Aborted, Unavailable
from reservation.logs import Throttled
from reservation.ordersync.hub import AUDIT_GROUP, OrderHub, parse_event
from reservation.ordersync.model import Order
from reservation.records.database import first_line
from reservation.records.store import START, Records, TrailEvent
from reservation.storage.orders import order_ref
from reservation.storage.records import RecordStreams

log = logging.getLogger(__name__)

BATCH = 500
"""Stream entries of one shard read per pass."""
PASS = 5000
"""Entries applied in one transaction at most (shards past it wait for the next pass):
a pass is done well within the lease."""
LEASE_MS = 10_000
"""How long a follower that stopped renewing keeps the others waiting."""
IDLE_WAIT_S = 1.0
"""Longest wait for new entries when every shard is caught up (a new entry ends it)."""


REPAIR_CHUNK = 200
"""Orders written per transaction by repair()."""


@dataclass(frozen=True)
class _Pass:
    """A pass read and ready to commit."""

    moves: dict[int, tuple[str, str]]
    """shard -> (its cursor expected, its last entry in the pass)"""
    trail: list[TrailEvent]
    current: dict[str, Order | None]
    docs: dict[str, str]
    """ref -> the order's document as Redis keeps it (stored as it is)"""
    passed: int


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _end_if_cancelled() -> None:
    """End the task if it was cancelled, even when the CancelledError never reached us.
    Python 3.11's asyncio.wait_for, which redis-py sends every command in (the socket
    timeout), returns the send's result instead of raising when the cancel arrives just
    as the send is done (CPython gh-86296, fixed in 3.12): the cancel is lost, and a
    follower whose every turn sends commands would renew its lease for good. The request
    still counts in Task.cancelling(), so the loops ask it at each turn."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def lost(cursor: str, trimmed: str) -> bool:
    """Whether the stream trimmed entries the store had not applied: its newest trimmed
    id is past the cursor. A store with no cursor yet starts with what the stream holds
    (what was trimmed before it existed was never its to lose)."""
    return cursor != START and _id(trimmed) > _id(cursor)


class Follower:
    def __init__(self, hub: OrderHub, records: Records, batch: int = BATCH,
                 group: tuple[int, int] = (0, 1)) -> None:
        index, groups = group
        if not 0 <= index < groups:
            raise ValueError(f"records follower group {index} of {groups}: no such group")
        self.group = group
        self.shards = [s for s in range(hub.settings.shards) if s % groups == index]
        """The shards this follower applies (all of them in the one group)."""
        self.hub = hub
        self.records = records
        self.streams = RecordStreams(hub.store)
        self.batch = batch
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._broken = Throttled(log)
        self._known: dict[int, str] = {}
        """Each shard's cursor as this follower last read or committed it."""
        self._turn = 0

    async def start(self) -> None:
        """The group exists before anything can trim the streams (call at start-up)."""
        await self.streams.ensure_group()

    async def follow_shard(self, shard: int) -> int:
        """Apply the next run of the shard's entries; how many entries it passed (0 for
        a broken shard: see repair)."""
        return await self.follow([shard])

    async def follow(self, shards: Sequence[int]) -> int:
        """Apply the next run of entries of each shard (up to `batch` a shard, PASS in
        all), every shard's in ONE transaction; how many entries it passed (a broken
        shard's none: see repair; 0 too when another follower moved a cursor first)."""
        prepared = await self._prepare(shards, {})
        return 0 if prepared is None else await self._commit(prepared)

    async def _stream(self, shards: Sequence[int], renew: bool = False) -> int:
        """Passes back to back until every shard is applied (or, with `renew`, the lease
        is lost); how many entries they passed. Each pass is read from Redis while the
        previous one commits (its SQL runs in a thread: the follower waited for it with
        nothing else to do for about a third of its time); the commits still follow one
        another, each comparing the cursors it moves, so a pass read past a commit that
        failed fails too (nothing written) and the cursors are read again."""
        total = 0
        inflight: asyncio.Task[int] | None = None
        ahead: dict[int, str] = {}  # past the pass in flight
        try:
            while not renew or await self.streams.lease(self.owner, LEASE_MS, self.group):
                _end_if_cancelled()
                prepared = await self._prepare(shards, ahead)
                if inflight is not None:
                    task, inflight = inflight, None
                    passed = await task
                    total += passed
                    if passed == 0:  # a cursor moved by someone else: read them again
                        ahead = {}
                        continue
                if prepared is None:
                    break
                ahead.update((s, last) for s, (_, last) in prepared.moves.items())
                inflight = asyncio.create_task(self._commit(prepared))
        finally:
            if inflight is not None:  # _prepare failed: the commit under way ends first
                await asyncio.wait([inflight])
                if not inflight.cancelled() and inflight.exception() is None:
                    total += inflight.result()
        return total

    async def _prepare(self, shards: Sequence[int],
                       ahead: dict[int, str]) -> _Pass | None:
        """The next pass: the entries after each shard's cursor (or after `ahead`, the
        pass being committed) and the orders they belong to, as the hub has them now.
        None: no shard has entries to apply."""
        # Each pass starts one shard further on: past PASS, no shard always waits.
        self._turn = (self._turn + 1) % len(shards)
        shards = [*shards[self._turn:], *shards[:self._turn]]
        expected = await self._cursors(shards)
        expected.update((s, c) for s, c in ahead.items() if s in expected)
        read = await asyncio.gather(*(self.streams.read(s, expected[s], self.batch)
                                      for s in shards))
        moves: dict[int, tuple[str, str]] = {}
        trail: list[TrailEvent] = []
        passed = 0
        for shard, (trimmed, entries) in zip(shards, read, strict=True):
            if lost(expected[shard], trimmed):
                self._broken.warning("records follower: shard %d lost order events past "
                                     "the store's cursor %s (trimmed up to %s by the "
                                     "stream's cap); not applying it until `reservation "
                                     "records repair`", shard, expected[shard], trimmed)
                continue
            if not entries or passed >= PASS:
                continue
            moves[shard] = (expected[shard], entries[-1][0])
            passed += len(entries)
            for entry_id, fields in entries:
                # The audit trail is the entries of the `audit` tag; feed-<channel>
                # entries are copies of some of them for a channel's adapter.
                if fields.get("g") != AUDIT_GROUP:
                    continue
                e = parse_event(shard, entry_id, fields, 0)
                trail.append(TrailEvent(e.event_id, shard, entry_id,
                                        order_ref(e.channel, e.shop, e.order_id), e,
                                        fields["e"]))
        if not moves:
            return None
        refs = list(dict.fromkeys(t.ref for t in trail))  # one read per order
        orders_ = dict(zip(refs, await self.hub.read_many(refs), strict=True))
        current = {ref: None if o is None else o[0] for ref, o in orders_.items()}
        docs = {ref: o[1] for ref, o in orders_.items() if o is not None}
        return _Pass(moves, trail, current, docs, passed)

    async def _commit(self, p: _Pass) -> int:
        """Apply a prepared pass, then move the group's marks; how many entries it
        passed (0: another follower moved a cursor first, nothing written)."""
        if not await asyncio.to_thread(self.records.apply_many, p.moves, p.trail,
                                       p.current, p.docs):
            self._known.clear()
            return 0
        self._known.update((s, last) for s, (_, last) in p.moves.items())
        await asyncio.gather(*(self.committed(s, last) for s, (_, last) in p.moves.items()))
        return p.passed

    async def _cursors(self, shards: Sequence[int]) -> dict[int, str]:
        """The store's cursors, read once and then kept: this follower's commits move
        them, and a commit compares each with the store's, so one moved by anyone else
        fails the commit (nothing written) and they are read again."""
        if any(s not in self._known for s in shards):
            known = await asyncio.to_thread(self.records.cursors)
            # A follower that died between a commit and its marks left them behind
            # the store: they catch up now (forward only), not at the shard's next entry.
            # (Its own shards' marks: another group's are its follower's.)
            mine = sorted({*self.shards, *shards})
            await asyncio.gather(*(self.committed(s, known[s]) for s in mine if s in known))
            self._known = {s: known.get(s, START) for s in mine}
        return {s: self._known[s] for s in shards}

    async def committed(self, shard: int, last: str) -> None:
        """After the commit: the group's mark follows the store's cursor."""
        await self.streams.mark(shard, last)

    async def standing(self) -> tuple[int | None, list[int]]:
        """When the oldest order event the store has not applied was written (None:
        every shard is applied to its end), the lag to watch; and the broken shards."""
        known = await asyncio.to_thread(self.records.cursors)
        oldest = None
        broken = []
        for shard in range(self.hub.settings.shards):
            cursor = known.get(shard, START)
            trimmed, nxt = await self.streams.read(shard, cursor, 1)
            if lost(cursor, trimmed):
                broken.append(shard)
            if nxt:
                at = int(nxt[0][0].split("-")[0])  # an entry id starts with its time in ms
                oldest = at if oldest is None else min(oldest, at)
        return oldest, broken

    async def oldest_unapplied_ms(self) -> int | None:
        return (await self.standing())[0]

    async def repair(self, shard: int) -> int:
        """Repair a broken shard from what Redis still holds: the rows of every order
        the shard has in Redis are written again from the hub (their current state is
        whole: it is the order's document), and the cursor moves to the newest entry
        the cap trimmed, so the follower applies what the stream still keeps. The audit
        events that were trimmed are not in the store; the orders they belong to keep
        more events in Redis's history than the store has, so eviction leaves them in
        Redis (GetOrderHistory answers from there) until their retention ends. Returns
        how many orders were written (0: the shard was not broken)."""
        expected = await asyncio.to_thread(self.records.cursor, shard)
        trimmed, _ = await self.streams.read(shard, expected, 1)
        if not lost(expected, trimmed):
            return 0
        refs = await self.streams.shard_orders(shard)
        # The rows first, the cursor unchanged (the follower keeps off the shard while
        # it is broken); then the cursor past the gap, compared and set.
        for k in range(0, len(refs), REPAIR_CHUNK):
            chunk = refs[k:k + REPAIR_CHUNK]
            read = await self.hub.get_many(chunk)
            await self._apply_or_abort(shard, expected, expected,
                                       dict(zip(chunk, read, strict=True)))
        await self._apply_or_abort(shard, expected, trimmed, {})
        await self.committed(shard, trimmed)
        return len(refs)

    async def _apply_or_abort(self, shard: int, expected: str, last: str,
                              current: dict[str, Order | None]) -> None:
        if not await asyncio.to_thread(self.records.apply, shard, expected, last, [],
                                       current):
            raise Aborted(f"records repair of shard {shard}: another follower moved its "
                          "cursor meanwhile; run the repair again")

    async def catch_up(self) -> int:
        """Apply until every stream of the group is applied; how many entries were
        passed."""
        return await self._stream(self.shards)

    async def run(self) -> None:
        """Follow for as long as the service runs (one replica at a time)."""
        trouble = Throttled(log)
        shards = self.shards
        while True:
            _end_if_cancelled()
            try:
                if not await self.streams.lease(self.owner, LEASE_MS, self.group):
                    await asyncio.sleep(LEASE_MS / 3000)
                    continue
                # Passes while there are entries, the lease renewed before each.
                await self._stream(shards, renew=True)
                await self.streams.streams.wait_for_new(await self._cursors(shards),
                                                        IDLE_WAIT_S)
                trouble.ok()
            except Unavailable as exc:
                trouble.warning("records follower: redis unavailable: %s", exc)
                await asyncio.sleep(1)
            except SQLAlchemyError as exc:
                trouble.warning("records follower: the records store failed: %s", first_line(exc))
                await asyncio.sleep(1)
