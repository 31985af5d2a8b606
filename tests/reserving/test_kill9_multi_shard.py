"""kill -9 of the service in the middle of multi-shard reserves and confirms.

A real `reservation serve` process (one replica, so every call in flight dies with it)
over a real redis-server with AOF always; workers send orders (half of them over two
shards), confirm and release them; the replica is killed with SIGKILL three times and
restarted. Afterwards no multi-shard order may be partly held or partly confirmed, in
Redis or in the WMS ledger, and every acknowledged answer must stand (the chaos
checkers, benchmarks/chaos/checks.py)."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.chaos.__main__ import table, violations
from benchmarks.chaos.run import run_seed

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow


def test_killing_the_only_replica_mid_order_leaves_no_partial_order(tmp_path):
    result = asyncio.run(run_seed(11, 3, replicas=1, workers=12, workdir=tmp_path,
                                  kinds=("replica-kill9",)))
    report = violations([result]) + "\n" + table([result])
    assert result.faults.injected["replica-kill9"] == 3, report
    multi = [r for r in result.traffic.records.values() if r.multi]
    assert any("RESERVED" in r.answers for r in multi), report
    assert result.ok, report
