"""Redis access for interception: rule set versions (storage/rulesets.py, as routing's,
on the interception hash), review tasks, the per-day orders of a receiver phone hash, totals."""

from __future__ import annotations

from reservation.storage import keys, rulesets
from reservation.storage.store import Store, redis_errors

PHONE_DAYS_MS = 2 * 24 * 3600 * 1000


class InterceptionStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.client = store.client

    # -- rule sets (the same script and record shape as routing's) ----------------------
    async def current_version(self) -> int:
        return await rulesets.current_version(self.store, keys.interception_rules())

    async def next_version(self, expected_version: int) -> int:
        return await rulesets.next_version(self.store, keys.interception_rules(), expected_version)

    async def put_rules(self, record: str, expected_version: int) -> int:
        return await rulesets.put(self.store, keys.interception_rules(), record,
                                  expected_version)

    async def rules_record(self, version: int) -> str | None:
        return await rulesets.record(self.store, keys.interception_rules(), version)

    # -- the orders of one phone on one day ----------------------------------------------
    async def phone_orders(self, day: str, buyer_hash: str, ref: str) -> int:
        """Adds the order (once) and returns how many orders the phone has that day."""
        key = keys.phone_orders(day, buyer_hash)
        with redis_errors():
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, ref)
                pipe.pexpire(key, PHONE_DAYS_MS)
                pipe.scard(key)
                *_, count = await pipe.execute()
        return int(count)

    # -- review tasks -------------------------------------------------------------------
    async def review(self, ref: str) -> str | None:
        with redis_errors():
            return await self.client.get(keys.review(ref))

    async def open_review(self, ref: str, record: str, now_ms: int, ttl_ms: int,
                          day: str, replace: bool = False) -> bool:
        """Opens a review unless one is open for the order (with `replace`, the open one
        becomes this record); True when opened or replaced."""
        with redis_errors():
            if await self.client.zscore(keys.reviews_open(), ref) is not None:
                if replace:
                    await self.client.set(keys.review(ref), record, px=ttl_ms)
                return replace
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(keys.review(ref), record, px=ttl_ms)
                pipe.zadd(keys.reviews_open(), {ref: now_ms})
                pipe.hincrby(keys.review_stats(day), "opened", 1)
                pipe.pexpire(keys.review_stats(day), ttl_ms)
                await pipe.execute()
        return True

    async def close_review(self, ref: str, record: str, now_ms: int, ttl_ms: int, day: str,
                           by: str) -> bool:
        """Closes an open review (by 'by_person' or 'automatic'); False if none was open."""
        with redis_errors():
            if await self.client.zscore(keys.reviews_open(), ref) is None:
                return False
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(keys.reviews_open(), ref)
                pipe.set(keys.review(ref), record, px=ttl_ms)
                pipe.zadd(keys.reviews_closed(), {ref: now_ms})
                pipe.zremrangebyscore(keys.reviews_closed(), "-inf", now_ms - ttl_ms)
                pipe.hincrby(keys.review_stats(day), by, 1)
                pipe.pexpire(keys.review_stats(day), ttl_ms)
                await pipe.execute()
        return True

    async def open_refs(self, limit: int) -> list[str]:
        with redis_errors():
            return list(await self.client.zrange(keys.reviews_open(), 0, limit - 1))

    async def closed_refs(self, limit: int) -> list[str]:
        with redis_errors():
            return list(await self.client.zrevrange(keys.reviews_closed(), 0, limit - 1))

    async def stats(self, day: str) -> dict[str, int]:
        with redis_errors():
            raw = await self.client.hgetall(keys.review_stats(day))
        return {k: int(v) for k, v in raw.items()}
