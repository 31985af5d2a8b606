"""Redis access of the oversell guard: the guard_tick and guard_set scripts and the plain
reads behind a SKU's guard view. Confirmed sales are counted by the confirm path itself
(count_sale in _lib.lua).

Scripts run through the core `Store.eval` (registration, NOSCRIPT reloads, Unavailable);
plain reads use `redis_errors()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from reservation.storage import keys
from reservation.storage.replies import GuardSetReply, GuardTickReply
from reservation.storage.store import Store, redis_errors


def per_mille(value: float) -> int:
    """Factors travel to Lua as integers, so the scripts compute exactly."""
    return round(value * 1000)


@dataclass(frozen=True)
class GuardRecord:
    """What Redis holds about one SKU's guard, unread: the view is built in guard/."""

    exists: bool
    guard: dict[str, str]
    sold: dict[str, str]
    available: int
    sale: dict[str, str] = field(default_factory=dict)
    """The SKU's flash-sale fields ({} for none): whether the hot factor applies."""


class GuardStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings

    def shard(self, sku: str) -> int:
        return keys.shard_of(sku, self.settings.shards)

    async def tick(self, shard: int, lease_ms: int) -> GuardTickReply:
        s = self.settings
        return await self.store.eval(  # type: ignore[no-any-return]
            "guard_tick",
            [keys.guards(shard), keys.write_back(shard), keys.guard_tick_lease(shard)],
            [*self.store.head(shard), lease_ms, s.safety_days, per_mille(s.safety_factor),
             per_mille(s.safety_factor_hot), per_mille(s.breaker_hysteresis),
             s.breaker_margin])

    async def change(self, sku: str, what: str, channel: str, value: str) -> GuardSetReply:
        s, shard = self.settings, self.shard(sku)
        return await self.store.eval(  # type: ignore[no-any-return]
            "guard_set", [keys.guards(shard), keys.write_back(shard)],
            [*self.store.head(shard), sku, what, channel, value, s.safety_days,
             per_mille(s.safety_factor), per_mille(s.safety_factor_hot)])

    async def record(self, sku: str) -> GuardRecord:
        shard = self.shard(sku)
        with redis_errors():
            async with self.store.client.pipeline(transaction=False) as pipe:
                pipe.exists(keys.stock(shard, sku))
                pipe.hgetall(keys.guard(shard, sku))
                pipe.hgetall(keys.sold(shard, sku))
                pipe.hgetall(keys.stock(shard, sku))
                pipe.hgetall(keys.sale(shard, sku))
                exists, guard, sold, stock, sale = await pipe.execute()
        available = sum(c["available"] for c in keys.parse_counters(stock).values())
        return GuardRecord(bool(exists), guard, sold, available, sale)

    async def open_breakers(self, shard: int) -> list[tuple[str, str, int]]:
        """(sku, channel, opened at ms) of one shard's OPEN breakers."""
        with redis_errors():
            rows = await self.store.client.zrange(keys.breakers(shard), 0, -1, withscores=True)
        out = []
        # decode_responses and withscores: (str member, float score) pairs
        for member, score in cast(list[tuple[str, float]], rows):
            sku, _, channel = member.rpartition("|")
            out.append((sku, channel, int(score)))
        return out
