"""Write-back on a real 3-master Redis Cluster: pull, acknowledge, trim, reconcile.

Each shard's stream and its dead letter share the shard's hash tag, so every script
stays in one slot; the long-poll polls instead of blocking on many slots at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from reservation.server.app import App, start_app
from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc
from tests.helpers.redis_servers import LocalRedisCluster
from tests.helpers.reservations import confirm, line, load, order, reserve
from tests.helpers.server import Stubs, test_settings
from tests.helpers.shards import skus_on_distinct_nodes


@pytest.fixture
async def cluster_stubs(redis_cluster_url: str) -> AsyncIterator[tuple[App, Stubs]]:
    app = await start_app(test_settings(redis_cluster_url, redis_cluster=True))
    async with grpc.aio.insecure_channel(app.target) as channel:
        yield app, Stubs(channel)
    await app.stop(grace=0)


async def test_pull_ack_trim_and_reconcile_work_across_cluster_nodes(
        cluster_stubs, redis_cluster: LocalRedisCluster):
    app, stubs = cluster_stubs
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    skus = skus_on_distinct_nodes(redis_cluster, 3)
    await load(stubs, *[(sku, "sh", 5) for sku in skus])
    for i, sku in enumerate(skus):
        await reserve(stubs, order(f"c{i}", line(sku, 2)))
        await confirm(stubs, f"c{i}")

    events = []
    while batch := await wb.PullBatch(wpb.PullBatchRequest(consumer="c", max_events=4)):
        if not batch.events:
            break
        events += batch.events
        await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id))
    ledger = [apb.LedgerTotal(sku=sku, warehouse_id="sh", loaded=5, available=3, confirmed=2)
              for sku in skus]
    reconciled = await stubs.admin.Reconcile(apb.ReconcileRequest(ledger=ledger))
    client = redis_cluster.client()
    try:
        left = sum(client.xlen(keys.write_back(s)) for s in range(app.settings.shards))
    finally:
        client.close()

    assert len(events) == 9 and len({e.event_id for e in events}) == 9
    assert list(reconciled.differences) == []
    assert left == 0
