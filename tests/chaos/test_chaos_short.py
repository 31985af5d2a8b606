"""A short seeded chaos run (make chaos runs the long one): real `reservation serve`
replicas, Redis with AOF always, the WMS puller, and kill -9 / SIGSTOP / CLIENT PAUSE
faults while multi-shard, single and queued orders run beside the order hub's adapters
(orders synced unpaid, paid, shipped, cancelled, refunded, resent); a replica is killed
mid order sync (its other shard's hold made, and its anchor write) first; every checker
must pass."""

from __future__ import annotations

import asyncio

from benchmarks.chaos.__main__ import table, violations
from benchmarks.chaos.run import run_seed

SEED = 7
FAULTS = 6
FIRST = ("order-part", "order-apply")


def test_a_short_seeded_fault_schedule_breaks_no_guarantee(tmp_path):
    result = asyncio.run(run_seed(SEED, FAULTS, replicas=2, workers=6, workdir=tmp_path,
                                  first=FIRST))
    injected = result.faults.injected
    assert sum(injected.values()) == FAULTS
    assert all(injected[k] + injected[f"{k} missed"] >= 1 for k in FIRST), injected
    assert sum(rec.multi for rec in result.traffic.records.values()) > 0
    assert sum(rec.multi for rec in result.traffic.hub.values()) > 0
    assert sum(len(rec.told) for rec in result.traffic.hub.values()) > 0
    assert result.ok, violations([result]) + "\n" + table([result])
