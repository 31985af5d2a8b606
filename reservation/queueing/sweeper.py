"""Background work every replica runs: expiry sweeping and the queue retry loop.

Safe with any number of replicas at once: each pass is one script per shard, and a
script removes what it handled from its index atomically, so two replicas never handle
the same hold or queued order twice.
"""

from __future__ import annotations

import asyncio
import logging

from reservation.errors import Unavailable
from reservation.logs import Throttled
from reservation.storage.store import Store

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.settings = store.settings
        self._tasks: list[asyncio.Task[None]] = []

    async def sweep_once(self, serve_queues: bool) -> tuple[int, int, int]:
        """One pass over every shard; returns (expired, dead-lettered, served)."""
        results = await asyncio.gather(*(self.store.sweep(shard, serve_queues)
                                         for shard in range(self.settings.shards)))
        return (sum(r.expired for r in results), sum(r.dead_lettered for r in results),
                sum(r.served for r in results))

    async def _loop(self, interval_ms: int, serve_queues: bool) -> None:
        outage = Throttled(log)  # Redis away: said once a minute, not every pass
        while True:
            try:
                await self.sweep_once(serve_queues)
                outage.ok()
            except Unavailable as exc:
                outage.warning("sweep skipped: %s", exc)
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(interval_ms / 1000)

    def start(self) -> None:
        s = self.settings
        self._tasks = [
            asyncio.create_task(self._loop(s.sweep_interval_ms, False), name="expiry-sweeper"),
            asyncio.create_task(self._loop(s.queue_retry_interval_ms, True), name="queue-retry"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
