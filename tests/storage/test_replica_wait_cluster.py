"""RESERVATION_REDIS_WAIT_REPLICAS on Redis Cluster: every primary a pipeline wrote to
confirms that its replica has it before the callers are answered (WAIT to every
primary, the fewest confirmations count). A cluster of 3 primaries with a replica each,
and the usual master-only one, where the same setting refuses every write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import redis

from reservation.server.app import start_app
from reservation.v1 import reservation_service_pb2 as rpb
from tests.helpers.redis_servers import LocalRedisCluster
from tests.helpers.reservations import RESERVED, line, load, order, reserve
from tests.helpers.server import Stubs, test_settings

# Six or three redis-server processes joined into a Cluster: the cluster tier.
pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def replicated_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedisCluster]:
    with LocalRedisCluster(tmp_path_factory.mktemp("cluster-replicas"), replicas=1) as cluster:
        yield cluster


def replica_ports(cluster: LocalRedisCluster) -> list[int]:
    ports = []
    for node in cluster.nodes:
        with redis.Redis(host="127.0.0.1", port=node.port, decode_responses=True) as r:
            if r.info("replication")["role"] == "slave":
                ports.append(node.port)
    return ports


def on_some_replica(cluster: LocalRedisCluster, pattern: str) -> bool:
    for port in replica_ports(cluster):
        with redis.Redis(host="127.0.0.1", port=port, decode_responses=True) as r:
            if any(r.scan_iter(match=pattern)):
                return True
    return False


async def started(url: str, **overrides: Any) -> tuple[Any, Stubs, grpc.aio.Channel]:
    app = await start_app(test_settings(url, redis_cluster=True, **overrides))
    channel = grpc.aio.insecure_channel(app.target)
    return app, Stubs(channel), channel


async def test_cluster_writes_are_on_a_replica_when_answered(
        replicated_cluster: LocalRedisCluster) -> None:
    app, stubs, channel = await started(replicated_cluster.url, redis_wait_replicas=1)
    try:
        skus = [f"RWC-{i}" for i in range(6)]  # shards on every primary
        for sku in skus:
            await load(stubs, (sku, "WH-1", 5))
        for i, sku in enumerate(skus):
            r = await reserve(stubs, order(f"rwc-{i}", line(sku, 1)))
            assert r.state == RESERVED
            # Straight from the replicas, at once: the answer waited for them.
            assert on_some_replica(replicated_cluster, f"*hold:jd:rwc-{i}")
        assert app.store._coalescer.stats.get("waits", 0) >= len(skus)
    finally:
        await channel.close()
        await app.stop(grace=0)


async def test_cluster_without_replicas_refuses_writes_when_the_wait_is_on(
        redis_cluster_url: str) -> None:
    app, stubs, channel = await started(redis_cluster_url, redis_wait_replicas=1,
                                        redis_wait_timeout_ms=100)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await load(stubs, ("RWN-1", "WH-1", 5))
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "0 of 1 replicas confirmed it within 100 ms" in (exc.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stubs.rs.GetReservation(rpb.GetReservationRequest(channel="jd",
                                                                    order_id="none"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await channel.close()
        await app.stop(grace=0)
