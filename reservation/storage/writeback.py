"""Redis access of the write-back API: the wb_*.lua scripts, the long-poll wait, scans.

Scripts run through the core `Store.eval`, which registers them (NOSCRIPT reloads) and
translates an unreachable Redis into `Unavailable`; plain reads use `redis_errors()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.exceptions import ResponseError

from reservation.clock import now_ms
from reservation.domain.events import WriteBackEvent, event_from_fields
from reservation.errors import FailedPrecondition
from reservation.storage import keys
from reservation.storage.replies import (
    AckReply,
    BootstrapReply,
    PullReply,
    ReplayReply,
    SnapshotReply,
    StatsReply,
)
from reservation.storage.store import Store, redis_errors

# Without a blocking read (cluster mode, or all blocking slots taken) poll this often.
POLL_S = 0.1


@dataclass(frozen=True)
class ShardPull:
    events: list[WriteBackEvent]
    acked_here: int
    """Entries the script acknowledged itself (dead-lettered, other groups' replays)."""
    boundary: str
    """Entries after this id are undelivered: where a long-poll waits from."""


Parse = Callable[[int, str, dict[str, str], int], Any]
"""(shard, entry id, fields, delivery count) -> an event of the stream."""


class WriteBackStore:
    """Pull/ack over one kind of shard stream: the stock write-back stream by default,
    or the order event stream (stream=keys.ORDER_EVENTS, with its own event parser)."""

    def __init__(self, store: Store, stream: str = keys.STOCK_EVENTS,
                 parse: Parse = event_from_fields) -> None:
        self.store = store
        self.settings = store.settings
        self.stream = stream
        self.parse = parse
        # A blocking read holds a connection of the shared, bounded pool for its whole
        # wait: at most an eighth of the pool, so long-polls never starve Reserve calls.
        self._blocking_slots = max(1, self.settings.redis_max_connections // 8)

    async def ensure_groups(self, groups: Sequence[str]) -> None:
        """Create the groups on every shard stream where its kept entries start, unless
        they exist, and stamp them read now (a group nobody pulls is idle from here).

        Done at start so that trimming (which keeps what existing groups still need)
        never removes entries a configured group has not seen yet."""
        with redis_errors():
            for group in groups:
                for shard in range(self.settings.shards):
                    stream = keys.write_back(shard, self.stream)
                    try:
                        await self.store.client.xgroup_create(
                            stream, group, id=await self._kept_from(stream), mkstream=True)
                    except ResponseError as exc:
                        if "BUSYGROUP" not in str(exc):
                            raise
                    else:
                        stats = self._group_keys(shard, group)[2]
                        await self.store.client.hset(stats, "read", str(now_ms()))
                        await self.store.client.pexpire(stats, self.settings.retention_ms)

    async def _kept_from(self, stream: str) -> str:
        """The newest entry the stream's cap trimmed ('0' for none): a new group starts
        after it, with what the stream still holds (see _wb.lua create_group)."""
        return str(await self.store.client.get(keys.stream_cut(stream)) or "0")

    def _group_keys(self, shard: int, group: str) -> list[str]:
        """The stream, the group's dead letters and its totals (one hash tag)."""
        return [keys.write_back(shard, self.stream),
                keys.write_back_dead_letter(shard, group, self.stream),
                keys.write_back_stats(shard, group, self.stream)]

    async def pull(self, shard: int, group: str, consumer: str, count: int) -> ShardPull:
        s = self.settings
        try:
            reply: PullReply = await self.store.eval(
                "wb_pull", self._group_keys(shard, group),
                [*self.store.head(shard), group, consumer, count,
                 s.write_back_visibility_timeout_ms, s.write_back_max_deliveries,
                 s.write_back_dead_letter_max, shard])
        except ResponseError as exc:
            if "BROKEN" not in str(exc):
                raise
            raise FailedPrecondition(
                f"group {group!r} lost events of shard {shard} to the stream's cap "
                f"(it fell behind by more entries than the stream keeps): bootstrap it "
                f"before it pulls again") from None
        events = [self.parse(shard, e.entry_id, e.fields, e.delivery_count)
                  for e in reply.entries]
        return ShardPull(events, reply.acked_here, reply.boundary)

    async def ack(self, shard: int, group: str, entry_ids: Sequence[str]) -> int:
        """Acknowledge (none: only trim); returns how many were newly acknowledged."""
        reply: AckReply = await self.store.eval(
            "wb_ack", [self._group_keys(shard, group)[0], self._group_keys(shard, group)[2]],
            [*self.store.head(shard), group, self.settings.retention_ms, *entry_ids])
        return reply.acknowledged

    async def wait_for_new(self, boundaries: Mapping[int, str], timeout_s: float) -> None:
        """Return when an entry arrives after a boundary, or after timeout_s (sooner when
        no blocking read is possible: Redis Cluster cannot block on many slots at once)."""
        if self.settings.redis_cluster or not boundaries or self._blocking_slots == 0:
            await asyncio.sleep(min(timeout_s, POLL_S))
            return
        streams: dict[Any, Any] = {keys.write_back(shard, self.stream): boundary
                                   for shard, boundary in boundaries.items()}
        self._blocking_slots -= 1
        try:
            with redis_errors():
                await self.store.client.xread(streams, count=1,
                                              block=max(1, int(timeout_s * 1000)))
        finally:
            self._blocking_slots += 1

    async def stats(self, shard: int, group: str) -> StatsReply:
        return await self.store.eval(  # type: ignore[no-any-return]
            "wb_stats", self._group_keys(shard, group), [*self.store.head(shard), group])

    async def dead_letters(self, shard: int, group: str,
                           count: int) -> list[tuple[str, dict[str, str]]]:
        with redis_errors():
            entries = cast(list[tuple[str, dict[str, str]]], await self.store.client.xrange(
                self._group_keys(shard, group)[1], count=count))
        return [(entry_id, dict(fields)) for entry_id, fields in entries]

    async def replay(self, shard: int, group: str, event_ids: Sequence[str]) -> int:
        reply: ReplayReply = await self.store.eval(
            "wb_replay", self._group_keys(shard, group),
            [*self.store.head(shard), group, *event_ids])
        return reply.replayed

    async def snapshot(self, shard: int, group: str, skus: Sequence[str]) -> SnapshotReply:
        return await self.store.eval(  # type: ignore[no-any-return]
            "wb_snapshot", self._group_keys(shard, group)[:2],
            [*self.store.head(shard), group, len(skus), *skus])

    async def bootstrap(self, shard: int, group: str) -> BootstrapReply:
        """Recreate the group at the stream's end and read every counter of the shard,
        in one script (see wb_bootstrap.lua)."""
        return await self.store.eval(  # type: ignore[no-any-return]
            "wb_bootstrap", self._group_keys(shard, group), [*self.store.head(shard), group])

    async def stock_skus(self) -> AsyncIterator[str]:
        """Every SKU that has stock counters (SCAN: every node in cluster mode)."""
        marker = ":stock:"
        with redis_errors():
            async for key in self.store.client.scan_iter(
                    match=f"{keys.ROOT}:{{*}}{marker}*", count=1000):
                yield key.split(marker, 1)[1]
