"""A Redis Cluster failover under load (part of `make chaos`), beside the Sentinel one
(benchmarks/chaos/failover.py, whose services, workers, checks and table it shares).

The system: a Cluster of three primaries with one replica each (tests/helpers/redis_servers.py's
LocalRedisCluster), two `reservation serve` with RESERVATION_REDIS_CLUSTER=true, and
workers reserving one unit at a time across the 64 shards (so on every primary) and
confirming half of what they hold. The fault:

- **cluster-kill**: one primary is killed (SIGKILL) under load; the Cluster promotes its
  replica itself (no Sentinel); the killed node is started again on the same port and
  configuration and rejoins as a replica (the Cluster tells it whom to follow), as a
  restarted pod does.

Afterwards, through the service: every order answered RESERVED still held or confirmed,
every acknowledged Confirm confirmed, and the write-back streams (read through a Cluster
client) hold a HELD event for every answered hold and a CONFIRMED event for every
acknowledged Confirm. With RESERVATION_REDIS_WAIT_REPLICAS=1 (WAIT to every primary a
pipeline wrote to) nothing may be missing; with it off what is missing is counted. The
service must take writes again once every primary has a replica again (until the killed
node is back, the promoted primary has none, and writes to its shards wait in vain:
UNAVAILABLE).

No partition here: a Cluster replica finds its primary at the address the Cluster
gossips, so a relay in between (as failover.py's partition uses) would need every node
to announce another port; on loopback a kill alone leaves nothing unsent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.asyncio.cluster import RedisCluster

from benchmarks.chaos.failover import (
    BOUND_S,
    SHARDS,
    FailoverResult,
    Services,
    judged,
    under_load,
)
from reservation.storage import keys
from tests.helpers.redis_servers import LocalRedisCluster

SCENARIO = "cluster-kill"


def role(port: int) -> str:
    """'master', 'slave', or '' when the node does not answer."""
    try:
        with redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                         socket_timeout=2) as r:
            return str(r.info("replication")["role"])
    except (redis.RedisError, OSError):
        return ""


def wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Cluster failover: {what}, not within {BOUND_S:.0f} s")
        time.sleep(0.1)


def healed(cluster: LocalRedisCluster) -> bool:
    """Every node answers with cluster_state ok, and every primary has its replica
    online (whichever node is which: a loaded box may provoke a second failover)."""
    try:
        return (cluster.cluster_states() == ["ok"] * len(cluster.nodes)
                and cluster.replicas_online())
    except (redis.RedisError, OSError):
        return False


def kill_a_primary(cluster: LocalRedisCluster) -> float:
    """SIGKILL a primary, wait until the Cluster promoted another node in its place, and
    start it again; the seconds until the promotion."""
    primary = next(n for n in cluster.nodes if role(n.port) == "master")
    masters = sum(role(n.port) == "master" for n in cluster.nodes)
    started = time.monotonic()
    primary.kill9()
    wait_for("no replica promoted", lambda: sum(
        role(n.port) == "master" for n in cluster.nodes if n is not primary) == masters)
    promoted_after = time.monotonic() - started
    primary.start()  # the same port and nodes.conf: it rejoins, told to replicate
    return promoted_after


async def events(cluster: LocalRedisCluster) -> set[tuple[str, str]]:
    """(type, order id) of every write-back event in every shard's stream."""
    found: set[tuple[str, str]] = set()
    r = RedisCluster(host="127.0.0.1", port=cluster.ports[0], decode_responses=True)
    try:
        for shard in range(SHARDS):
            for _, fields in await r.xrange(keys.write_back(shard)):
                if fields.get("ch") == "failover":
                    found.add((fields["t"], fields["oid"]))
    finally:
        await r.aclose()
    return found


async def run_cluster_failover(workdir: Path, wait: int, workers: int = 8,
                               seed: int = 1) -> FailoverResult:
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = LocalRedisCluster(workdir / "redis", replicas=1)
    await asyncio.to_thread(cluster.start)
    services = Services(workdir, {"RESERVATION_REDIS_URL": cluster.url,
                                  "RESERVATION_REDIS_CLUSTER": "true"}, wait)
    try:
        await asyncio.to_thread(services.start)

        async def faulted() -> float:
            return await asyncio.to_thread(kill_a_primary, cluster)

        async def settled() -> None:
            await asyncio.to_thread(wait_for, "not healed", lambda: healed(cluster))

        told, promoted_after, writes_after, states = await under_load(
            services.targets, f"{SCENARIO}-w{wait}", workers, seed, faulted, settled)
        have = await events(cluster)
    finally:
        await asyncio.to_thread(services.stop)
        await asyncio.to_thread(cluster.stop)
    return judged(SCENARIO, wait, told, states, have, promoted_after, writes_after)
