"""The recovery sweep: every replica finishes multi-shard orders that nobody finished.

A placer or confirmer that crashed (or stalled past the lease) leaves two traces, both
indexed by Redis time: a pending entry at the order's home shard (placed but not yet
decided, or aborted but not yet compensated) and locks on parts (a confirm that did not
reach or finish its decision). Each pass reads what is due in every shard and settles
it through the same idempotent steps as a retry would (multi.py); the compare-and-set at
the home record makes any number of replicas sweeping at once safe.
"""

from __future__ import annotations

import asyncio
import logging

from reservation.domain import orders
from reservation.domain.orders import Identity
from reservation.errors import ReservationError, Unavailable
from reservation.logs import Throttled
from reservation.reserving.multi import BeingPlaced, MultiShard, Phase
from reservation.storage.store import Store

log = logging.getLogger(__name__)


class Recovery:
    def __init__(self, store: Store, multi: MultiShard) -> None:
        self.store = store
        self.multi = multi
        self.settings = store.settings
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """One pass over every shard; returns how many orders or locks it looked at."""
        due = await asyncio.gather(*(self.store.due(shard)
                                     for shard in range(self.settings.shards)))
        handled = 0
        for shard, (pending, locked) in enumerate(due):
            for ref in pending:
                handled += await self._guard(self._settle(ref), ref)
            for ref in locked:
                handled += await self._guard(self._unlock_or_commit(ref, shard), ref)
        return handled

    async def _guard(self, step: object, ref: str) -> int:
        try:
            await step  # type: ignore[misc]
        except BeingPlaced as exc:  # its placer is still at work: the next pass
            log.info("recovery of %s deferred: %s", ref, exc)
        except Unavailable:
            raise
        except ReservationError as exc:
            log.info("recovery of %s deferred: %s", ref, exc)
        return 1

    async def _identity(self, ref: str) -> Identity | None:
        raw = await self.store.order_identity(ref)
        return Identity.decode(raw) if raw else None

    async def _settle(self, ref: str) -> None:
        identity = await self._identity(ref)
        if identity is None:
            await self.store.phase(ref, "done")  # the record expired: drop the entry
            return
        parts = orders.split_by_shard(identity.lines, self.settings.shards)
        await self.multi.settle(ref, identity, parts)
        if await self.multi.phase(ref) == Phase.ABORTED:
            await self.multi.follow(ref, identity, parts, Phase.ABORTED)  # then "done"

    async def _unlock_or_commit(self, ref: str, shard: int) -> None:
        identity = await self._identity(ref)
        parts = (orders.split_by_shard(identity.lines, self.settings.shards)
                 if identity else [])
        await self.multi.resolve_lock(ref, identity, parts, shard)

    async def _loop(self) -> None:
        period = max(self.settings.order_lease_ms / 4, self.settings.sweep_interval_ms) / 1000
        outage = Throttled(log)  # Redis away: said once a minute, not every pass
        while True:
            try:
                await self.run_once()
                outage.ok()
            except Unavailable as exc:
                outage.warning("recovery pass skipped: %s", exc)
            except Exception:
                log.exception("recovery pass failed")
            await asyncio.sleep(period)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="multi-shard-recovery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
