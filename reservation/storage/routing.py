"""Redis access for routing: warehouses, rule set versions, today's loads, recent orders.

Warehouses and rule sets live under one hash tag ({routing}), so a version check is one
HMGET and a put is one script. Loads are counted per shard by the reserve script (the
count moves with the hold); a warehouse's load is the sum over the shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reservation.storage import keys, rulesets
from reservation.storage.store import Store, redis_errors

RECENT_KEPT = 1000


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
