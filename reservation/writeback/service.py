"""The write-back API: pull (long-poll), acknowledge, stats, dead letters and replay.

A pull walks the shards one script call at a time, from a random shard so no shard
starves, until the batch is full: each call delivers at most what the batch still has
room for, so a consumer is never handed entries it will not return (they would sit in
its pending list until the visibility timeout). When every shard is empty it blocks on
all streams at once (XREAD from each stream's boundary: race-free) and walks again.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Sequence

from reservation.domain import validation
from reservation.domain.events import WriteBackEvent
from reservation.errors import FailedPrecondition, InvalidArgument
from reservation.settings import Settings
from reservation.storage.store import Store
from reservation.storage.writeback import WriteBackStore
from reservation.writeback import batch_ids
from reservation.writeback.models import Batch, Stats

NONE = "none"
"""The group list that names no group."""
_EVENT_ID = re.compile(r"(\d+)-(\d+-\d+)")


class WriteBack:
    """Pull/ack over one kind of shard stream for a fixed set of consumer groups (the
    WMS groups of the stock stream by default; the order hub uses it for its own)."""

    def __init__(self, store: WriteBackStore, settings: Settings,
                 groups: str | None = None, setting: str = "write_back_groups") -> None:
        self.store = store
        self.settings = settings
        self.setting = setting
        listed = settings.write_back_groups if groups is None else groups
        # 'none': no group at all (an empty variable means the default, as for every
        # setting), for a service that nothing pulls.
        self.groups = () if listed.strip() == NONE else tuple(
            g.strip() for g in listed.split(",") if g.strip())

    @classmethod
    def over(cls, store: Store) -> WriteBack:
        return cls(WriteBackStore(store), store.settings)

    async def start(self) -> None:
        for group in self.groups:
            validation.code(self.setting, group)
        await self.store.ensure_groups(self.groups)

    def group(self, value: str) -> str:
        """The group asked for (default: the first configured one), if configured."""
        if not self.groups:
            setting = f"RESERVATION_{self.setting.upper()}"
            raise FailedPrecondition(f"no consumer group is configured on the service "
                                     f"({setting} is empty)")
        if not value:
            return self.groups[0]
        validation.code("group", value)
        if value not in self.groups:
            setting = f"RESERVATION_{self.setting.upper()}"
            raise InvalidArgument("group", f"{value!r} is not configured on the service: "
                                           f"{setting} is {','.join(self.groups)!r} (add it "
                                           "there and restart the service)")
        return value

    # -- pull and acknowledge -----------------------------------------------------------
    async def pull(self, group: str, consumer: str, max_events: int, wait_ms: int) -> Batch:
        group = self._checked_pull(group, consumer, max_events, wait_ms)
        deadline = time.monotonic() + wait_ms / 1000
        # Wake up at least once per visibility timeout: redeliveries become due by time
        # passing, which no stream write announces. Half the socket timeout keeps the
        # blocking read clear of it.
        slice_s = min(self.settings.write_back_visibility_timeout_ms,
                      self.settings.redis_timeout_ms // 2) / 1000
        while True:
            events, boundaries = await self._walk(group, consumer, max_events)
            left = deadline - time.monotonic()
            if events or left <= 0:
                return self._batch(group, events)
            await self.store.wait_for_new(boundaries, min(left, max(slice_s, 0.01)))

    def _checked_pull(self, group: str, consumer: str, max_events: int, wait_ms: int) -> str:
        validation.code("consumer", consumer)
        top = self.settings.write_back_max_batch
        if not 1 <= max_events <= top:
            raise InvalidArgument("max_events", f"must be between 1 and {top}, got {max_events}")
        if wait_ms > self.settings.write_back_max_wait_ms:
            raise InvalidArgument(
                "wait", f"must be at most {self.settings.write_back_max_wait_ms / 1000:g} s")
        return self.group(group)

    async def _walk(self, group: str, consumer: str,
                    max_events: int) -> tuple[list[WriteBackEvent], dict[int, str]]:
        shards = self.settings.shards
        first = random.randrange(shards)
        events: list[WriteBackEvent] = []
        boundaries: dict[int, str] = {}
        for i in range(shards):
            shard = (first + i) % shards
            got = await self.store.pull(shard, group, consumer, max_events - len(events))
            events += got.events
            boundaries[shard] = got.boundary
            if got.acked_here:
                await self.store.ack(shard, group, ())  # trim what the script acknowledged
            if len(events) >= max_events:
                break
        return events, boundaries

    def _batch(self, group: str, events: Sequence[WriteBackEvent]) -> Batch:
        if not events:
            return Batch("", ())
        entries: dict[int, list[str]] = {}
        for e in events:
            entries.setdefault(e.shard, []).append(e.entry_id)
        return Batch(batch_ids.encode(self.settings.write_back_batch_key, group, entries),
                     tuple(events))

    def batch_group(self, batch_id: str) -> str:
        """The consumer group a batch id was issued to (its signature checked)."""
        group, _ = batch_ids.decode(self.settings.write_back_batch_key, batch_id,
                                    self.settings.shards)
        return self.group(group)

    async def ack(self, batch_id: str) -> int:
        """Acknowledge a batch; returns how many events were newly acknowledged (0 the
        second time: acknowledging twice is harmless)."""
        group, entries = batch_ids.decode(self.settings.write_back_batch_key, batch_id,
                                          self.settings.shards)
        self.group(group)
        counts = await asyncio.gather(*(self.store.ack(shard, group, ids)
                                         for shard, ids in entries.items()))
        return sum(counts)

    # -- operators ----------------------------------------------------------------------
    async def stats(self, group: str) -> Stats:
        group = self.group(group)
        rows = await asyncio.gather(*(self.store.stats(shard, group)
                                      for shard in range(self.settings.shards)))
        # A stream entry id starts with the time it was added, in ms.
        oldest = [int(r.oldest_unacknowledged_id.split("-")[0]) for r in rows
                  if r.oldest_unacknowledged_id]
        age = max(0, int(time.time() * 1000) - min(oldest)) if oldest else 0
        return Stats(pending=sum(r.pending for r in rows),
                     undelivered=sum(r.undelivered for r in rows),
                     oldest_unacknowledged_age_ms=age,
                     delivered_total=sum(r.delivered_total for r in rows),
                     acknowledged_total=sum(r.acknowledged_total for r in rows),
                     dead_lettered=sum(r.dead_letters_kept for r in rows),
                     dead_lettered_total=sum(r.dead_lettered_total for r in rows),
                     broken_shards=tuple(i for i, r in enumerate(rows) if r.broken),
                     read_at_ms=max((r.read_at_ms for r in rows), default=0))

    async def dead_letters(self, group: str, page_size: int) -> list[WriteBackEvent]:
        """The oldest dead letters (by when the event happened), at most page_size."""
        group = self.group(group)
        top = self.settings.write_back_max_batch
        if not 0 <= page_size <= top:
            raise InvalidArgument("page_size", f"must be between 0 and {top}")
        page_size = page_size or top
        per_shard = await asyncio.gather(*(self.store.dead_letters(shard, group, page_size)
                                           for shard in range(self.settings.shards)))
        events = [self.store.parse(shard, entry_id, fields, int(fields.get("n", "0")))
                  for shard, entries in enumerate(per_shard) for entry_id, fields in entries]
        events.sort(key=lambda e: (e.occurred_at_ms, e.event_id))
        return events[:page_size]

    async def replay(self, group: str, event_ids: Sequence[str]) -> int:
        """Send dead letters (all when event_ids is empty) through the stream again."""
        group = self.group(group)
        if not event_ids:
            counts = await asyncio.gather(*(self.store.replay(shard, group, ())
                                            for shard in range(self.settings.shards)))
            return sum(counts)
        by_shard: dict[int, list[str]] = {}
        for i, event_id in enumerate(event_ids):
            m = _EVENT_ID.fullmatch(event_id)
            if not m or int(m.group(1)) >= self.settings.shards:
                raise InvalidArgument(f"event_ids[{i}]", "is not a write-back event id")
            by_shard.setdefault(int(m.group(1)), []).append(event_id)
        counts = await asyncio.gather(*(self.store.replay(shard, group, ids)
                                        for shard, ids in by_shard.items()))
        return sum(counts)
