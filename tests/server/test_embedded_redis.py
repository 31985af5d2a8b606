"""The private redis-server `reservation serve` starts when no RESERVATION_REDIS_URL is set:
what its durability rests on, read back from the running server.

A kill -9 test (tests/storage/test_restart.py) shows that acknowledged holds survive a
process crash with AOF; it cannot tell `appendfsync everysec` from `no` (the OS page cache
outlives the process either way) and says nothing about power loss. So the fsync policy is
checked here, on the server itself.
"""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from reservation.server.app import redis_for
from reservation.settings import Settings


async def test_embedded_redis_keeps_an_aof_fsynced_every_second(tmp_path: Path) -> None:
    async with redis_for(Settings(redis_url=None, data_dir=str(tmp_path))) as url, \
            aioredis.Redis.from_url(url, decode_responses=True) as r:
        config = await r.config_get("append*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", "everysec")
        await r.set("probe", "1")
    assert any((tmp_path / "redis").rglob("*.aof")), "no AOF file in the data dir"
