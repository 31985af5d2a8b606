"""Redis access for routing: warehouses, rule set versions, today's loads, recent orders.

Warehouses and rule sets live under one hash tag ({routing}), so a version check is one
HMGET and a put is one script. Loads are counted per shard by the reserve script (the
count moves with the hold); a warehouse's load is the sum over the shards.

What a routing decision reads (the versions, the candidates' available units, today's
loads) is one `Snapshot`, and the snapshots concurrent calls ask for in one event-loop
turn are read in one pipeline (`SnapshotReader`): Python's cost per Redis round trip,
not Redis, is what routing paid per order. Orders remembered for SimulateRouting are
buffered and written in batches (`RecentBuffer`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reservation.storage import keys, rulesets
from reservation.storage.coalesce import TurnBatcher
from reservation.storage.store import Store, redis_errors

RECENT_KEPT = 1000
MAX_INFLIGHT_READS = 2
"""Snapshot pipelines in flight before new reads wait for one to return: under load the
batches grow instead of the pipelines multiplying; an idle service reads at once."""
RECENT_FLUSH_S = 0.2
"""Remembered orders reach Redis this long after the first unwritten one at most."""


@dataclass(frozen=True)
class Versions:
    """What a replica compares to know whether its cached rules/warehouses are stale."""

    rules: int
    warehouses: int


class RoutingStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client

    async def versions(self) -> Versions:
        with redis_errors():
            current, wh = await self.client.hmget(keys.routing_rules(), "current", "wh")
        return Versions(int(current or 0), int(wh or 0))

    # -- warehouses -------------------------------------------------------------------
    async def put_warehouse(self, warehouse_id: str, record: str) -> None:
        with redis_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hset(keys.routing_warehouses(), warehouse_id, record)
                pipe.hincrby(keys.routing_rules(), "wh", 1)
                await pipe.execute()

    async def warehouse_records(self) -> dict[str, str]:
        with redis_errors():
            return await self.client.hgetall(keys.routing_warehouses())

    # -- rule sets --------------------------------------------------------------------
    async def put_rules(self, record: str, expected_version: int) -> int:
        return await rulesets.put(self.store, keys.routing_rules(), record, expected_version)

    async def rules_record(self, version: int) -> str | None:
        return await rulesets.record(self.store, keys.routing_rules(), version)

    async def rules_records(self, versions: Sequence[int]) -> list[str | None]:
        return await rulesets.records(self.store, keys.routing_rules(), versions)

    # -- stock ------------------------------------------------------------------------
    async def available(self, skus: Sequence[str]) -> dict[str, dict[str, int]]:
        """Available units per SKU and warehouse: one HMGET-free pipeline of HGETALLs (the
        routing path needs only the 'a' counters, not levels, warehouses or queues)."""
        shards = self.store.settings.shards
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for sku in skus:
                    pipe.hgetall(keys.stock(keys.shard_of(sku, shards), sku))
                hashes = await pipe.execute()
        out: dict[str, dict[str, int]] = {}
        for sku, fields in zip(skus, hashes, strict=True):
            out[sku] = {f[:-2]: int(v) for f, v in fields.items() if f.endswith("|a")}
        return out

    # -- loads ------------------------------------------------------------------------
    async def loads(self, day: str) -> dict[str, int]:
        """Orders routed to each warehouse on `day` (yyyymmdd), summed over the shards."""
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for shard in range(self.store.settings.shards):
                    pipe.hgetall(keys.load(shard, day))
                per_shard = await pipe.execute()
        total: dict[str, int] = {}
        for counts in per_shard:
            for wh, n in counts.items():
                total[wh] = total.get(wh, 0) + int(n)
        return total

    # -- recent orders ----------------------------------------------------------------
    async def remember(self, records: Sequence[str]) -> None:
        if not records:
            return
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.lpush(keys.routing_recent(), *records)
                pipe.ltrim(keys.routing_recent(), 0, RECENT_KEPT - 1)
                await pipe.execute()

    async def recent(self, limit: int) -> list[str]:
        with redis_errors():
            return await self.client.lrange(keys.routing_recent(), 0, limit - 1)


@dataclass(frozen=True)
class Snapshot:
    """What one routing decision reads, all from one pipeline. `stock` holds every SKU
    and warehouse the batch asked for (callers read theirs); `loads` is None when no
    caller needed them. Shared by the callers of a batch: read-only."""

    versions: Versions | None            # None: no caller asked for them
    stock: dict[str, dict[str, int]]     # sku -> warehouse id -> available units
    loads: dict[str, int] | None         # warehouse id -> orders routed there today


class _Ask:
    __slots__ = ("day", "future", "loads", "skus", "versions", "warehouses")

    def __init__(self, future: asyncio.Future[Snapshot], skus: Sequence[str],
                 warehouses: Sequence[str], versions: bool, loads: bool, day: str) -> None:
        self.future = future
        self.skus = skus
        self.warehouses = warehouses
        self.versions = versions
        self.loads = loads
        self.day = day


class SnapshotReader(TurnBatcher[_Ask]):
    """Reads for concurrent routing calls, coalesced by the store's mechanism
    (coalesce.TurnBatcher): the asks of one event-loop turn share one pipeline: one HMGET
    of the '<wh>|a' counters per SKU (each SKU once, however many asks name it), and when
    any caller asks, HMGET of the versions and today's load hash of every shard. Each
    value is read after its caller asked, so a decision is as fresh as with its own
    reads. One SKU and nothing else is one plain HMGET (a pipeline costs redis-py more).
    `before_flush` may stage more commands on the pipeline (the recent-order buffer).

    Not the store's Coalescer itself: an ask is answered from the union of the batch's
    reads (twenty asks for three SKUs read three hashes), not by a reply of its own; and
    the pipeline carries the recent orders' write, which on the Coalescer would make the
    whole batch wait for the replicas (RESERVATION_REDIS_WAIT_REPLICAS)."""

    def __init__(self, store: Store,
                 before_flush: Callable[[Any], Callable[[list[Any]], None] | None]
                 | None = None) -> None:
        super().__init__(MAX_INFLIGHT_READS)
        self.store = store
        self.before_flush = before_flush
        self.stats = {"pipelines": 0, "reads": 0}

    def read(self, skus: Sequence[str], warehouses: Sequence[str], versions: bool,
             loads: bool, day: str) -> asyncio.Future[Snapshot]:
        future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self._queue(_Ask(future, skus, warehouses, versions, loads, day))
        return future

    async def _send(self, batch: list[_Ask]) -> None:
        snapshots = await self._execute(batch)
        for ask, snap in zip(batch, snapshots, strict=True):
            if not ask.future.done():  # a caller cancelled meanwhile
                ask.future.set_result(snap)

    async def _execute(self, batch: list[_Ask]) -> list[Snapshot]:
        shards = self.store.settings.shards
        skus = list(dict.fromkeys(s for ask in batch for s in ask.skus))
        whs = list(dict.fromkeys(w for ask in batch for w in ask.warehouses))
        days = list(dict.fromkeys(ask.day for ask in batch if ask.loads))
        want_versions = any(ask.versions for ask in batch)
        fields = [f"{w}|a" for w in whs]
        self.stats["reads"] += len(batch)
        if len(skus) == 1 and fields and not days and not want_versions:
            with redis_errors():
                values = await self.store.client.hmget(
                    keys.stock(keys.shard_of(skus[0], shards), skus[0]), fields)
            only = {skus[0]: {w: int(v) for w, v in zip(whs, values, strict=True)
                              if v is not None}}
            return [Snapshot(None, only, None) for _ in batch]
        with redis_errors():
            pipe = self.store.client.pipeline(transaction=False)
            if want_versions:
                pipe.hmget(keys.routing_rules(), "current", "wh")
            for sku in skus:
                if fields:
                    pipe.hmget(keys.stock(keys.shard_of(sku, shards), sku), fields)
            for day in days:
                for shard in range(shards):
                    pipe.hgetall(keys.load(shard, day))
            after = self.before_flush(pipe) if self.before_flush else None
            replies = await pipe.execute()
        self.stats["pipelines"] += 1
        versions = None
        at = 0
        if want_versions:
            current, wh = replies[0]
            versions = Versions(int(current or 0), int(wh or 0))
            at = 1
        stock: dict[str, dict[str, int]] = {}
        if fields:
            for sku, values in zip(skus, replies[at:at + len(skus)], strict=True):
                stock[sku] = {w: int(v) for w, v in zip(whs, values, strict=True)
                              if v is not None}
            at += len(skus)
        else:
            stock = {sku: {} for sku in skus}
        by_day: dict[str, dict[str, int]] = {}
        for day in days:
            total: dict[str, int] = {}
            for counts in replies[at:at + shards]:
                for w, n in counts.items():
                    total[w] = total.get(w, 0) + int(n)
            by_day[day] = total
            at += shards
        if after is not None:
            after(replies[at:])
        return [Snapshot(versions if ask.versions else None, stock,
                         by_day[ask.day] if ask.loads else None) for ask in batch]


class RecentBuffer:
    """Orders remembered for SimulateRouting: kept in this process (the newest
    RECENT_KEPT) and written to the shared list in batches, on the next snapshot
    pipeline or after RECENT_FLUSH_S, whichever comes first, instead of a Redis write
    per order. `flush()` writes what is buffered now (SimulateRouting calls it first)."""

    def __init__(self, store: Store, encode: Callable[[Any], bytes | str]) -> None:
        self.store = store
        self.encode = encode
        self._items: deque[Any] = deque(maxlen=RECENT_KEPT)
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, items: Sequence[Any]) -> None:
        self._items.extend(items)
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(RECENT_FLUSH_S, self._flush_soon)

    def stage(self, pipe: Any) -> Callable[[list[Any]], None] | None:
        """Put the buffered orders on `pipe` (a snapshot read's); None: nothing to put."""
        if not self._items:
            return None
        records = [self.encode(o) for o in self._items]
        self._items.clear()
        pipe.lpush(keys.routing_recent(), *records)
        pipe.ltrim(keys.routing_recent(), 0, RECENT_KEPT - 1)
        return lambda replies: None

    async def flush(self) -> None:
        if not self._items:
            return
        with redis_errors():
            pipe = self.store.client.pipeline(transaction=False)
            self.stage(pipe)
            await pipe.execute()

    def _flush_soon(self) -> None:
        self._timer = None
        if self._items:
            task = asyncio.get_running_loop().create_task(self._flush_logged())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush_logged(self) -> None:
        # A failed write only loses simulation samples; the next orders try again.
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - best effort, see above
            return
