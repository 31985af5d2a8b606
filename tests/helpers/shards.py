"""SKUs chosen by where their keys live: in distinct shards, in shard order, on distinct
Cluster nodes."""

from __future__ import annotations

from reservation.settings import Settings
from reservation.storage import keys
from tests.helpers.redis_servers import LocalRedisCluster


def node_of(cluster: LocalRedisCluster, sku: str) -> int:
    """Port of the cluster node that owns the SKU's keys."""
    key = keys.stock(keys.shard_of(sku, Settings().shards), sku)
    client = cluster.client()
    try:
        return int(client.get_node_from_key(key).port)
    finally:
        client.close()


def skus_on_distinct_nodes(cluster: LocalRedisCluster, count: int) -> list[str]:
    """`count` SKU names whose keys live on `count` different nodes."""
    chosen: dict[int, str] = {}
    for i in range(1000):
        sku = f"CL-{i}"
        chosen.setdefault(node_of(cluster, sku), sku)
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError("could not spread SKUs over the cluster's nodes")


SHARDS = Settings().shards


def two_skus(node_of=None) -> tuple[str, str]:
    """(A, B): B's shard after A's (so B's part is reached second), on another node."""
    for i in range(1000):
        for j in range(1000):
            a, b = f"MS-A{i}", f"MS-B{j}"
            if keys.shard_of(a, SHARDS) < keys.shard_of(b, SHARDS) and (
                    node_of is None or node_of(a) != node_of(b)):
                return a, b
    raise AssertionError("no SKU pair found")


def first_per_shard(n: int, shards: int = 64, prefix: str = "SKU") -> dict[int, str]:
    """shard -> the first of PREFIX-0, PREFIX-1, ... in it, for `n` shards, in the order
    found."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < n:
        sku = f"{prefix}-{i}"
        found.setdefault(keys.shard_of(sku, shards), sku)
        i += 1
    return found


def skus_in_different_shards(n: int, shards: int = 64) -> list[str]:
    return list(first_per_shard(n, shards).values())


def skus_in_shard_order(n: int, shards: int = 64, prefix: str = "SKU") -> list[str]:
    """`n` SKUs in `n` different shards, lowest shard first: a multi-shard order's parts
    run in shard order, so the last of these is the last part tried."""
    found = first_per_shard(n, shards, prefix)
    return [found[s] for s in sorted(found)]
