"""The Redis Cluster failover of `make chaos`, shortened: three primaries with a replica
each, two `reservation serve` on Cluster, workers reserving and confirming; one primary
killed (SIGKILL), the Cluster promotes its replica, the node comes back as a replica.
With RESERVATION_REDIS_WAIT_REPLICAS=1 every hold, confirm and write-back event a client
was told about is there afterwards, and the service takes writes again."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import cluster_failover, failover

pytestmark = pytest.mark.cluster


async def test_with_the_replica_wait_a_cluster_failover_loses_nothing_acknowledged(
        tmp_path: Path) -> None:
    result = await cluster_failover.run_cluster_failover(tmp_path, wait=1, workers=4)
    assert len(result.told.held) > 0 and len(result.told.confirmed) > 0
    assert result.writes_after, failover.table([result])
    assert (result.lost_holds, result.lost_confirms, result.lost_events) == ([], [], []), \
        failover.table([result])
