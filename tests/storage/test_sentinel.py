"""Redis high availability: the service finds its primary through Sentinel
(RESERVATION_REDIS_SENTINELS / _SENTINEL_MASTER), follows a failover, and with
RESERVATION_REDIS_WAIT_REPLICAS answers a write only once a replica has it.

Real processes: a primary, a replica and three `redis-server --sentinel` on loopback
(tests/helpers/redis_servers.py, LocalSentinelGroup); the primary is killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
import redis

from reservation.server.app import App, start_app
from reservation.settings import Settings
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.redis_servers import LocalSentinelGroup
from tests.helpers.reservations import RESERVED, get, levels, line, load, order, reserve
from tests.helpers.server import Stubs

BOUND_S = 60.0  # a failover that has not finished by then failed


def settings_for(group: LocalSentinelGroup, **overrides: Any) -> Settings:
    base: dict[str, Any] = {"port": 0, "sweep_interval_ms": 50, "grace_period_s": 0.5,
                            "queue_retry_interval_ms": 200, **group.settings()}
    base.update(overrides)
    return Settings(**base)


async def started(group: LocalSentinelGroup, **overrides: Any) -> tuple[App, Stubs, Any]:
    app = await start_app(settings_for(group, **overrides))
    channel = grpc.aio.insecure_channel(app.target)
    return app, Stubs(channel), channel


def replica_keys(group: LocalSentinelGroup, pattern: str) -> list[str]:
    """Keys on the (first) replica, read straight from it."""
    with redis.Redis(host="127.0.0.1", port=group.replicas[0].port,
                     decode_responses=True) as r:
        return sorted(r.scan_iter(match=pattern))


async def test_the_service_finds_its_primary_through_the_sentinels(
        redis_sentinel: LocalSentinelGroup) -> None:
    app, stubs, channel = await started(redis_sentinel)
    try:
        await load(stubs, ("SEN-A", "WH-1", 5))
        r = await reserve(stubs, order("sen-1", line("SEN-A", 2)))
        assert r.state == RESERVED
        assert (await levels(stubs, "SEN-A"))["WH-1"].held == 2
    finally:
        await channel.close()
        await app.stop(grace=0)
    with redis.Redis(host="127.0.0.1", port=redis_sentinel.primary_port(),
                     decode_responses=True) as r:
        assert r.info("replication")["role"] == "master"
        assert any(r.scan_iter(match="*SEN-A*"))


async def test_with_the_wait_on_an_answered_write_is_already_on_the_replica(
        redis_sentinel: LocalSentinelGroup) -> None:
    app, stubs, channel = await started(redis_sentinel, redis_wait_replicas=1)
    try:
        await load(stubs, ("SEN-W", "WH-1", 30))
        for i in range(20):
            r = await reserve(stubs, order(f"sen-w-{i}", line("SEN-W", 1)))
            assert r.state == RESERVED
            # Read the replica at once, no waiting: WAIT made the answer wait for it.
            assert replica_keys(redis_sentinel, f"*hold:jd:sen-w-{i}") != []
        assert app.store._coalescer.stats.get("waits", 0) >= 20
    finally:
        await channel.close()
        await app.stop(grace=0)


async def test_too_few_replicas_make_writes_unavailable_and_reads_still_work(
        redis_sentinel: LocalSentinelGroup) -> None:
    # Two replicas asked for, one there: every write is refused, none is answered as done.
    app, stubs, channel = await started(redis_sentinel, redis_wait_replicas=2,
                                        redis_wait_timeout_ms=200)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await load(stubs, ("SEN-U", "WH-1", 5))
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "1 of 2 replicas confirmed it within 200 ms" in (exc.value.details() or "")
        # Reads wait for nothing (nothing to replicate): the order lookup still answers.
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stubs.rs.GetReservation(rpb.GetReservationRequest(
                channel="jd", order_id="nope"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()
        await app.stop(grace=0)


async def retry_unavailable(call: Any, bound_s: float = BOUND_S) -> Any:
    """`call()` until it stops being UNAVAILABLE (a failover in progress)."""
    deadline = asyncio.get_running_loop().time() + bound_s
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE or \
                    asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_the_service_follows_a_failover_and_keeps_what_it_answered(
        redis_sentinel: LocalSentinelGroup) -> None:
    app, stubs, channel = await started(redis_sentinel, redis_wait_replicas=1)
    try:
        await load(stubs, ("SEN-F", "WH-1", 10))
        told = [await reserve(stubs, order(f"sen-f-{i}", line("SEN-F", 1))) for i in range(4)]
        assert [r.state for r in told] == [RESERVED] * 4
        old = redis_sentinel.primary_port()
        assert redis_sentinel.primary is not None
        redis_sentinel.primary.kill9()
        new = await asyncio.to_thread(redis_sentinel.wait_for_promotion, old)
        assert new == redis_sentinel.replicas[0].port
        # The promoted replica had every answered hold (the wait): the service, now on it,
        # shows them all. Writes need a replica again, so with wait 1 and none left they
        # stay UNAVAILABLE: this test reads only.
        for i, r in enumerate(told):
            got = await retry_unavailable(lambda i=i: get(stubs, f"sen-f-{i}"))
            assert (got.reservation_id, got.state) == (r.reservation_id, RESERVED)
        assert (await retry_unavailable(lambda: levels(stubs, "SEN-F")))["WH-1"].held == 4
    finally:
        await channel.close()
        await app.stop(grace=0)


async def test_without_the_wait_the_service_writes_again_after_a_failover(
        redis_sentinel: LocalSentinelGroup) -> None:
    app, stubs, channel = await started(redis_sentinel)
    try:
        await load(stubs, ("SEN-G", "WH-1", 10))
        old = redis_sentinel.primary_port()
        assert redis_sentinel.primary is not None
        redis_sentinel.primary.kill9()
        await asyncio.to_thread(redis_sentinel.wait_for_promotion, old)
        r = await retry_unavailable(lambda: reserve(stubs, order("sen-g-1", line("SEN-G", 1))))
        assert r.state in (RESERVED, pb.RESERVATION_STATE_REJECTED)
        await retry_unavailable(lambda: stubs.admin.LoadStock(apb.LoadStockRequest(
            items=[pb.StockItem(sku="SEN-H", warehouse_id="WH-1", quantity=3)],
            mode=apb.LOAD_MODE_ADD)))
        assert (await levels(stubs, "SEN-H"))["WH-1"].available == 3
    finally:
        await channel.close()
        await app.stop(grace=0)
