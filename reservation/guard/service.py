"""Safety stock and circuit breakers: what operators read and change, and the periodic
work every replica runs.

- Safety stock of a SKU = average daily confirmed units over the last `safety_days`
  whole UTC days x `safety_factor` (x `safety_factor_hot` while its flash sale is open
  or it is in live-stream mode), rounded up; an operator may override it.
- Breaker per (SKU, channel): the channel's threshold is its own if an operator gave
  one, else the safety stock. The reserve script refuses an order that would take the
  SKU's available units below it (CHANNEL_PAUSED) and opens the breaker in the same
  atomic step; an OPEN breaker refuses every order of that channel for the SKU. It
  closes when available reaches the threshold plus a band (hysteresis). A forced state
  wins until cleared. Each transition is a write-back event (CHANNEL_PAUSED /
  CHANNEL_RESUMED) for the channel adapters' feed.
- Confirmed units are counted per SKU and UTC day where CONFIRMED is written (the
  outbox in _lib.lua), so once per sale, atomically with it. Every `breaker_tick_ms`
  each replica runs the tick on every shard (recompute safety stocks, close breakers,
  collect alerts); a lease makes one replica do a shard's tick per period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from reservation.clock import now_ms
from reservation.domain import validation
from reservation.errors import InvalidArgument, NotFound, ReservationError
from reservation.guard.models import BreakerState, OpenBreaker, SkuGuard, build
from reservation.settings import Settings
from reservation.storage.guard import GuardStore
from reservation.storage.store import Store

log = logging.getLogger(__name__)

Alert = Callable[[str, str, str], None]
"""(sku, channel, OPEN|CLOSED) of a transition, heard once across replicas."""

MAX_LIST = 1000


class Guard:
    def __init__(self, store: GuardStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @classmethod
    def over(cls, store: Store) -> Guard:
        return cls(GuardStore(store), store.settings)

    # -- operators ----------------------------------------------------------------------
    async def get(self, sku: str) -> SkuGuard:
        validation.code("sku", sku)
        record = await self.store.record(sku)
        if not record.exists:
            raise NotFound(f"no stock was ever loaded for SKU {sku}")
        shard = self.store.shard(sku)
        opened = {ch: at for s, ch, at in await self.store.open_breakers(shard) if s == sku}
        s = self.settings
        return build(sku, record, opened, now_ms(), s.safety_days, s.breaker_hysteresis,
                     s.breaker_margin, s.safety_factor, s.safety_factor_hot)

    async def set_safety_stock(self, sku: str, override: int | None, clear: bool,
                               live: bool | None) -> SkuGuard:
        validation.code("sku", sku)
        if override is not None and clear:
            raise InvalidArgument("clear_override", "cannot be set together with override")
        if override is not None:
            validation.quantity("override", override, self.settings, allow_zero=True)
            await self._change(sku, "safety", "", str(override))
        if clear:
            await self._change(sku, "safety", "", "")
        if live is not None:
            await self._change(sku, "live", "", "1" if live else "0")
        return await self.get(sku)

    async def set_threshold(self, sku: str, channel: str, threshold: int | None) -> SkuGuard:
        """threshold None: clear the channel's own threshold."""
        validation.code("sku", sku)
        validation.channel("channel", channel)
        if threshold is not None:
            validation.quantity("threshold", threshold, self.settings, allow_zero=True)
        await self._change(sku, "threshold", channel, "" if threshold is None else str(threshold))
        return await self.get(sku)

    async def force(self, sku: str, channel: str, state: BreakerState) -> SkuGuard:
        """state NONE clears the force."""
        validation.code("sku", sku)
        validation.channel("channel", channel)
        transition = await self._change(sku, "force", channel, state.value)
        if transition:
            log.warning("breaker %s %s/%s by an operator", transition, sku, channel)
        return await self.get(sku)

    async def _change(self, sku: str, what: str, channel: str, value: str) -> str:
        reply = await self.store.change(sku, what, channel, value)
        if reply.code == "NOT_FOUND":
            raise NotFound(f"no stock was ever loaded for SKU {sku}")
        return reply.transition

    async def open_breakers(self, limit: int = 0) -> list[OpenBreaker]:
        if not 0 <= limit <= MAX_LIST:
            raise InvalidArgument("page_size", f"must be between 0 and {MAX_LIST}, got {limit}")
        rows = await asyncio.gather(*(self.store.open_breakers(shard)
                                      for shard in range(self.settings.shards)))
        found = sorted((OpenBreaker(*row) for shard_rows in rows for row in shard_rows),
                       key=lambda b: (b.opened_at_ms, b.sku, b.channel))
        return found[:limit or MAX_LIST]

    # -- every replica, periodically ------------------------------------------------------
    async def run_once(self, lease: bool = True) -> tuple[list[str], list[str]]:
        """Tick every shard. Returns ("sku|channel" opened by
        orders since the last tick, closed now), each heard by one replica only.
        lease=False runs every shard's tick now (tests, operators' tools)."""
        shards = range(self.settings.shards)
        lease_ms = max(1, self.settings.breaker_tick_ms - 10) if lease else 0
        replies = await asyncio.gather(*(self.store.tick(shard, lease_ms) for shard in shards))
        opened = [b for r in replies for b in r.opened]
        closed = [b for r in replies for b in r.closed]
        for b in opened:
            sku, _, channel = b.rpartition("|")
            log.warning("breaker OPEN %s/%s: available reached the channel's threshold; "
                        "orders are rejected CHANNEL_PAUSED", sku, channel)
        for b in closed:
            sku, _, channel = b.rpartition("|")
            log.warning("breaker CLOSED %s/%s: stock is back above the threshold", sku, channel)
        return opened, closed

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except ReservationError as exc:  # Redis away: health reports it; retry
                log.debug("guard tick skipped: %s", exc)
            await asyncio.sleep(self.settings.breaker_tick_ms / 1000)
