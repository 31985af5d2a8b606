"""Redis access of the order hub: order ops (order_apply_many.lua), the order locator,
duplicate suspicion, records, history and the per-shard order index.

    rsv:{H}:oloc:<ref>           string the shard holding the order's record, H = shard of
                                        the ref (TTL: order retention, renewed on writes)
    rsv:{N}:ord:<ref>            hash   v (version), doc (the order as JSON)
    rsv:{N}:ohist:<ref>          list   the order's events, oldest first (same TTL)
    rsv:{N}:oidx                 zset   refs of shard N by created ms (trimmed by score)
    rsv:{N}:olog                 stream the shard's order events (pulled by the audit and
                                        feed groups, trimmed after ack)
    rsv:{H}:odup:<buyer>:<addr>  zset   refs by created ms, H = shard of the pair (TTL:
                                        the duplicate window, renewed)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from reservation.storage import keys
from reservation.storage.replies import OpReply, PartReply
from reservation.storage.store import Store, redis_errors


def order_ref(channel: str, shop: str, order_id: str) -> str:
    # Channel and shop hold no ':' or '/' (validation), so the ref is unambiguous.
    return f"{channel}:{shop}/{order_id}"


def locator(ref: str, shards: int) -> str:
    return f"{keys.prefix(keys.shard_of(ref, shards))}oloc:{ref}"


def record(shard: int, ref: str) -> str:
    return f"{keys.prefix(shard)}ord:{ref}"


def history(shard: int, ref: str) -> str:
    return f"{keys.prefix(shard)}ohist:{ref}"


def index(shard: int) -> str:
    return f"{keys.prefix(shard)}oidx"


def duplicates(buyer_hash: str, address_key: str, shards: int) -> str:
    pair = f"{buyer_hash}:{hashlib.sha1(address_key.encode()).hexdigest()[:16]}"
    return f"{keys.prefix(keys.shard_of(pair, shards))}odup:{pair}"


class OrderStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings

    def _head(self, shard: int) -> list[Any]:
        s = self.settings
        # Holds of orders live as long as the orders (a refund weeks later restocks).
        return [keys.prefix(shard), s.order_hold_ttl_ms, s.order_retention_ms]

    async def apply(self, shard: int, ops: Sequence[str]) -> list[OpReply]:
        """Order ops of one shard, each one packed argument (see _order.lua)."""
        replies: list[OpReply] = await self.store.eval(
            "order_apply_many",
            [keys.write_back(shard, keys.ORDER_EVENTS), keys.write_back(shard)],
            [*self._head(shard), len(ops), *ops])
        return replies

    async def locate(self, ref: str, shard_if_new: int | None) -> int | None:
        """The shard of the order's record; with shard_if_new, claim it if none yet."""
        key = locator(ref, self.settings.shards)
        ttl = self.settings.order_retention_ms
        with redis_errors():
            if shard_if_new is None:
                found = await self.store.client.get(key)
            else:
                found = await self.store.client.set(key, shard_if_new, nx=True, get=True,
                                                    px=ttl)
                if found is None:
                    return shard_if_new
        return None if found is None else int(found)

    async def touch_locator(self, ref: str) -> None:
        with redis_errors():
            await self.store.client.pexpire(locator(ref, self.settings.shards),
                                            self.settings.order_retention_ms)

    async def read(self, shard: int, ref: str) -> tuple[int, str] | None:
        with redis_errors():
            v, doc = await self.store.client.hmget(record(shard, ref), "v", "doc")
        return None if v is None else (int(v), doc)

    async def read_many(self, pairs: Sequence[tuple[int, str]]) -> list[tuple[int, str] | None]:
        if not pairs:
            return []
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for shard, ref in pairs:
                    pipe.hmget(record(shard, ref), "v", "doc")
                rows = await pipe.execute()
        return [None if v is None else (int(v), doc) for v, doc in rows]

    async def history(self, shard: int, ref: str, start: int, count: int) -> list[str]:
        with redis_errors():
            return list(await self.store.client.lrange(history(shard, ref), start,
                                                       start + count - 1))

    async def index_page(self, shard: int, low_ms: int, high_ms: int, after: tuple[int, str],
                         count: int) -> list[tuple[str, int]]:
        """Refs of one shard created in [low, high], ordered by (created, ref), past
        `after`; at most count."""
        with redis_errors():
            rows = await self.store.client.zrangebyscore(
                index(shard), max(low_ms, after[0]), high_ms, start=0,
                num=count + 1000, withscores=True)
        out = [(ref, int(score)) for ref, score in rows if (int(score), ref) > after]
        return out[:count]

    async def suspect_duplicates(self, ref: str, buyer_hash: str, address_key: str,
                                 created_ms: int) -> list[str]:
        """Register the order under its phone hash and address; return the other refs
        registered within the window around its creation."""
        window = self.settings.order_duplicate_window_ms
        key = duplicates(buyer_hash, address_key, self.settings.shards)
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                pipe.zadd(key, {ref: created_ms})
                pipe.zrangebyscore(key, created_ms - window, created_ms + window)
                pipe.pexpire(key, 2 * window + 60_000)
                _, near, _ = await pipe.execute()
        return [r for r in near if r != ref]

    async def holds(self, parts: Sequence[tuple[int, str]]) -> list[PartReply]:
        """The live hold records of an order's parts (shard, hold ref)."""
        out = []
        for shard, ref in parts:
            out.append(await self.store.get(shard, ref))
        return out

    # -- batches: one pipeline per step ----------------------------------------------
    async def locate_many(self, refs: Sequence[str]) -> list[int | None]:
        if not refs:
            return []
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for ref in refs:
                    pipe.get(locator(ref, self.settings.shards))
                rows = await pipe.execute()
        return [None if r is None else int(r) for r in rows]

    async def claim_many(self, claims: Sequence[tuple[str, int]]) -> list[int]:
        """Claim each (ref, shard) unless claimed; returns the shard that holds each."""
        if not claims:
            return []
        ttl = self.settings.order_retention_ms
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for ref, shard in claims:
                    pipe.set(locator(ref, self.settings.shards), shard, nx=True, get=True,
                             px=ttl)
                rows = await pipe.execute()
        return [shard if r is None else int(r) for (_, shard), r in zip(claims, rows)]

    async def suspect_many(self, items: Sequence[tuple[str, str, str, int]]) -> list[list[str]]:
        """suspect_duplicates for many (ref, buyer hash, address key, created ms)."""
        if not items:
            return []
        window = self.settings.order_duplicate_window_ms
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                for ref, buyer, addr, created in items:
                    key = duplicates(buyer, addr, self.settings.shards)
                    pipe.zadd(key, {ref: created})
                    pipe.zrangebyscore(key, created - window, created + window)
                    pipe.pexpire(key, 2 * window + 60_000)
                rows = await pipe.execute()
        return [[r for r in rows[3 * i + 1] if r != item[0]] for i, item in enumerate(items)]
