"""Redis access for the overdue evaluation: a lease so one replica evaluates per period,
and the last evaluation, which every replica answers from (ListOverdueOrders, the
reservation_overdue_orders gauge)."""

from __future__ import annotations

from reservation.storage import keys
from reservation.storage.store import Store, redis_errors

_SAVE_IF_NEWER = """
local at = redis.call('HGET', KEYS[1], 'at')
if at and tonumber(at) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'doc', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
"""A slow evaluation that ends after a later one began must not replace its result."""


class OverdueStore:
    def __init__(self, store: Store) -> None:
        self.client = store.client

    async def lead(self, replica: str, period_ms: int) -> bool:
        """Whether this replica evaluates this period (the lease lapses before the next
        period, so a replica that stopped is replaced without a hand-over)."""
        with redis_errors():
            return bool(await self.client.set(keys.overdue_lease(), replica, nx=True,
                                              px=period_ms))

    async def save(self, at_ms: int, evaluation: str, ttl_ms: int) -> bool:
        """Store an evaluation made at `at_ms`, unless a later one is stored already."""
        with redis_errors():
            return bool(await self.client.eval(_SAVE_IF_NEWER, 1, keys.overdue(), at_ms,
                                               evaluation, ttl_ms))

    async def load(self) -> str | None:
        with redis_errors():
            raw: str | None = await self.client.hget(keys.overdue(), "doc")
        return raw
