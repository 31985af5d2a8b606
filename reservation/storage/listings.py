"""Redis access for the channel listings (reservation/listings/): what a listing's quantity
is computed from (a SKU's counters and guard, read together), what each listing was last
told, the resyncs operators asked for, and the listing rule set's versions
(storage/rulesets.py, as routing's and interception's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reservation.storage import keys, rulesets
from reservation.storage.store import Store, redis_errors

TOLD_TTL_MS = 30 * 24 * 3600 * 1000
"""What a listing was told is kept this long after its last push (renewed by each)."""


@dataclass(frozen=True)
class SkuRecord:
    sku: str
    counters: dict[str, dict[str, int]]
    """warehouse -> counter name -> value (keys.parse_counters)."""
    guard: dict[str, str]
    """the guard hash (see _guard.lua): safety stock, thresholds, breakers."""


class ListingStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.shards = store.settings.shards

    async def read(self, skus: Sequence[str]) -> list[SkuRecord]:
        """Counters and guard of each SKU, in one pipeline (two reads per SKU)."""
        if not skus:
            return []
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for sku in skus:
                    shard = keys.shard_of(sku, self.shards)
                    pipe.hgetall(keys.stock(shard, sku))
                    pipe.hgetall(keys.guard(shard, sku))
                replies = await pipe.execute()
        return [SkuRecord(sku, keys.parse_counters(replies[2 * i]), replies[2 * i + 1])
                for i, sku in enumerate(skus)]

    async def told(self, skus: Sequence[str]) -> list[dict[str, str]]:
        """For each SKU: listing key -> what it was last told (encoded by the service)."""
        if not skus:
            return []
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for sku in skus:
                    pipe.hgetall(keys.listing_told(keys.shard_of(sku, self.shards), sku))
                return list(await pipe.execute())

    async def record_told(self, entries: Sequence[tuple[str, str, str]]) -> None:
        """(sku, listing key, encoded value) of pushes a listing accepted."""
        if not entries:
            return
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for sku, key, value in entries:
                    told = keys.listing_told(keys.shard_of(sku, self.shards), sku)
                    pipe.hset(told, key, value)
                    pipe.pexpire(told, TOLD_TTL_MS)
                await pipe.execute()

    async def resync_epoch(self, channel: str, shop: str) -> int:
        """How many full resyncs operators asked of this listing (or of its channel)."""
        with redis_errors():
            mine, channel_wide = await self.store.client.hmget(
                keys.listing_resync(), [f"{channel}/{shop}", f"{channel}/*"])
        return int(mine or 0) + int(channel_wide or 0)

    async def ask_resync(self, channel: str, shop: str) -> int:
        """One more resync of a listing (shop "": of every shop of the channel)."""
        with redis_errors():
            return int(await self.store.client.hincrby(keys.listing_resync(),
                                                       f"{channel}/{shop or '*'}", 1))

    # -- rule set versions (storage/rulesets.py) ------------------------------------------
    async def current_version(self) -> int:
        return await rulesets.current_version(self.store, keys.listing_rules())

    async def next_version(self, expected_version: int) -> int:
        return await rulesets.next_version(self.store, keys.listing_rules(), expected_version)

    async def put_rules(self, record: str, expected_version: int) -> int:
        return await rulesets.put(self.store, keys.listing_rules(), record, expected_version)

    async def rules_records(self, versions: Sequence[int]) -> list[str | None]:
        return await rulesets.records(self.store, keys.listing_rules(), versions)
