"""A rejected order is kept small and briefly: a burst of rejects cannot fill Redis, and a
retry within the rejected retention still gets the same answer."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from reservation.storage import keys
from tests.helpers.reservations import REJECTED, RESERVED, line, load, order, reserve

SHARDS = 64


@pytest.fixture
def settings_overrides():
    return {"rejected_retention_ms": 5_000}


async def ttls(url: str, ref: str, sku: str) -> tuple[int, int]:
    async with aioredis.Redis.from_url(url) as r:
        home = await r.pttl(keys.order_home(ref, SHARDS))
        part = await r.pttl(keys.hold(keys.shard_of(sku, SHARDS), ref))
    return home, part


async def test_a_rejected_order_and_its_identity_live_only_for_the_rejected_retention(
        stubs, redis_url):
    await load(stubs, ("PHONE", "W1", 1))
    assert (await reserve(stubs, order("o-1", line("PHONE")))).state == RESERVED
    rejected = await reserve(stubs, order("o-2", line("PHONE"), buyer="b2"))
    assert rejected.state == REJECTED
    home, part = await ttls(redis_url, "jd:o-2", "PHONE")
    assert 0 < home <= 5_000 and 0 < part <= 5_000
    # A held order keeps the long retention.
    home, part = await ttls(redis_url, "jd:o-1", "PHONE")
    assert home > 5_000 and part > 5_000


async def test_a_retry_within_the_window_gets_the_same_rejection(stubs, redis_url):
    await load(stubs, ("PHONE", "W1", 1))
    await reserve(stubs, order("o-1", line("PHONE")))
    first = await reserve(stubs, order("o-2", line("PHONE"), buyer="b2"))
    await load(stubs, ("PHONE", "W1", 5))  # stock came back, but the answer stands
    again = await reserve(stubs, order("o-2", line("PHONE"), buyer="b2"))
    assert again.state == REJECTED
    assert again.reservation_id == first.reservation_id


async def test_a_rejected_order_keeps_no_candidate_list(stubs, redis_url):
    await load(stubs, ("PHONE", "W1", 1))
    await reserve(stubs, order("o-1", line("PHONE", 2, "W1")))
    async with aioredis.Redis.from_url(redis_url, decode_responses=True) as r:
        record = await r.get(keys.hold(keys.shard_of("PHONE", SHARDS), "jd:o-1"))
    fields = record.split("\t")
    assert fields[4] == "REJECTED" and fields[14] == ""
