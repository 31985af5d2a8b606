"""RESERVATION_REDIS_WAIT_REPLICAS against one real Redis with no replica: a pipeline
that writes ends with WAIT, and when too few replicas confirm, its writes fail
UNAVAILABLE (naming the setting) while reads that rode in the same pipeline keep their
answers; a pipeline of reads waits for nothing; with the setting at 0 no WAIT is sent.
(With a replica, and through a failover: tests/storage/test_sentinel.py; on Cluster:
test_replica_wait_cluster.py.)"""

from __future__ import annotations

import asyncio

import pytest

from reservation.errors import Unavailable
from reservation.settings import ConfigError, Settings
from reservation.storage.store import Store, connect


def store_for(url: str, **overrides: int) -> Store:
    settings = Settings(redis_url=url, **overrides)
    return Store(connect(settings, url), settings)


async def test_unconfirmed_writes_fail_and_reads_in_the_same_pipeline_answer(
        redis_url: str) -> None:
    store = store_for(redis_url, redis_wait_replicas=1, redis_wait_timeout_ms=50)
    try:
        for _ in range(2):  # the first time also loads the scripts (a pipeline more)
            store._coalescer.stats["pipelines"] = 0
            read, write = await asyncio.gather(
                store.get(0, "jd:nobody"), store.load_stock(0, "add", [("RW-1", "WH-1", 3)]),
                return_exceptions=True)
        assert store._coalescer.stats["pipelines"] == 1  # one pipeline carried both
        assert not isinstance(read, BaseException) and read.code == "NOT_FOUND"
        assert isinstance(write, Unavailable)
        assert "0 of 1 replicas confirmed it within 50 ms " \
               "(RESERVATION_REDIS_WAIT_REPLICAS)" in write.message
    finally:
        await store.close()


async def test_a_pipeline_of_reads_sends_no_wait(redis_url: str) -> None:
    store = store_for(redis_url, redis_wait_replicas=1, redis_wait_timeout_ms=50)
    try:
        replies = await asyncio.gather(*(store.get(s, "jd:nobody") for s in range(4)))
        assert {r.code for r in replies} == {"NOT_FOUND"}
        assert store._coalescer.stats.get("waits", 0) == 0
    finally:
        await store.close()


async def test_without_the_setting_no_wait_is_sent(redis_url: str) -> None:
    store = store_for(redis_url)
    try:
        await store.load_stock(0, "add", [("RW-2", "WH-1", 3)])
        assert store._coalescer.stats.get("waits", 0) == 0
        assert store._coalescer.wait_replicas == 0
    finally:
        await store.close()


@pytest.mark.parametrize(("overrides", "says"), [
    ({"redis_sentinels": "127.0.0.1:26379"},
     "RESERVATION_REDIS_SENTINELS and RESERVATION_REDIS_SENTINEL_MASTER go together"),
    ({"redis_sentinel_master": "mymaster"},
     "RESERVATION_REDIS_SENTINELS and RESERVATION_REDIS_SENTINEL_MASTER go together"),
    ({"redis_sentinels": "127.0.0.1", "redis_sentinel_master": "m"},
     "RESERVATION_REDIS_SENTINELS='127.0.0.1': '127.0.0.1' is not host:port"),
    ({"redis_sentinels": "h:1,h:99999", "redis_sentinel_master": "m"},
     "RESERVATION_REDIS_SENTINELS='h:1,h:99999': 'h:99999' is not host:port"),
    ({"redis_sentinels": "h:1", "redis_sentinel_master": "m", "redis_url": "redis://h:1"},
     "RESERVATION_REDIS_SENTINELS is set: unset RESERVATION_REDIS_URL"),
    ({"redis_wait_replicas": 1, "redis_wait_timeout_ms": 2000},
     "RESERVATION_REDIS_WAIT_TIMEOUT_MS=2000 must be below RESERVATION_REDIS_TIMEOUT_MS=2000"),
])
def test_bad_ha_settings_are_one_line_naming_the_variable(
        overrides: dict[str, object], says: str) -> None:

    with pytest.raises(ConfigError) as exc:
        Settings(**overrides)  # type: ignore[arg-type]
    assert str(exc.value).startswith(says)
    assert "\n" not in str(exc.value)


def test_sentinels_parse_into_addresses() -> None:
    s = Settings(redis_sentinels=" 10.0.0.5:26379, [::1]:26380 ", redis_sentinel_master="m")
    assert s.sentinel_addresses == [("10.0.0.5", 26379), ("::1", 26380)]
    assert not s.embedded_redis
