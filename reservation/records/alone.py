"""The records follower as a process of its own (`reservation records follow`).

`reservation serve` runs a follower as a background task of every replica unless
RESERVATION_RECORDS_FOLLOWER=off; this runs one alone, on the service's Redis and records
store, until SIGTERM or SIGINT. Its CPU (about 260 us per order synced, PostgreSQL's
apart) then no longer shares the hub's process and its one event loop: SyncOrders halves
with the follower in the hub's process and keeps 0.77x beside it on two cores
(docs/concepts/records.md, "Where it runs"). The lease and the cursors are the same as in
`serve`, so followers in serving processes and in processes of their own may run at once:
each group of shards is still applied by one at a time, each event once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from reservation.ordersync.hub import OrderHub
from reservation.records.database import open_records
from reservation.records.follower import Follower
from reservation.records.store import Records
from reservation.settings import Settings
from reservation.storage.startup import open_store

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def opened(settings: Settings, redis_url: str, group: tuple[int, int] = (0, 1)
                 ) -> AsyncIterator[Follower]:
    """A follower of `group` over the configured records store (migrated to the newest
    revision first, as `serve` does) and the Redis at `redis_url`; both closed after."""
    engine = await asyncio.to_thread(open_records, settings.records_database_url)
    try:
        store = await open_store(settings, redis_url)
    except BaseException:
        engine.dispose()
        raise
    try:
        yield Follower(OrderHub(store, settings), Records(engine), group=group)
    finally:
        await store.close()
        engine.dispose()


async def follow(settings: Settings, redis_url: str, group: tuple[int, int]) -> None:
    """Follow until SIGTERM or SIGINT (then the follower is cancelled and its lease left
    to expire, as when `serve` stops), or until the follower fails (raised)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with opened(settings, redis_url, group) as follower:
        await follower.start()  # the group on every stream before anything trims them
        index, groups = group
        log.info("records follower: group %d/%d, shards %s", index, groups, follower.shards)
        running = asyncio.create_task(follower.run(), name="records")
        stop = asyncio.create_task(stopping.wait())
        await asyncio.wait([running, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running  # a follower that failed raises here
        log.info("records follower: stopped")
