"""The Redis failover of `make chaos`, shortened: a primary with one replica and three
sentinels, two `reservation serve`, workers reserving and confirming; the primary
killed (SIGKILL) or frozen until a replica is promoted and then let go. With
RESERVATION_REDIS_WAIT_REPLICAS=1 every hold, confirm and write-back event a client was
told about is there afterwards, and the service takes writes again."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import failover


@pytest.mark.parametrize("scenario", failover.SCENARIOS)
async def test_with_the_replica_wait_a_failover_loses_nothing_acknowledged(
        tmp_path: Path, scenario: str) -> None:
    result = await failover.run_failover(tmp_path, scenario, wait=1, workers=4)
    assert len(result.told.held) > 0 and len(result.told.confirmed) > 0
    assert result.writes_after, failover.table([result])
    assert (result.lost_holds, result.lost_confirms, result.lost_events) == ([], [], []), \
        failover.table([result])
