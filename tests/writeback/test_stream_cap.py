"""Streams are capped (RESERVATION_WRITE_BACK_STREAM_MAX): a group that falls behind by
more than the cap is marked broken instead of silently losing events, its pulls are
refused, and the bootstrap repairs it with nothing lost (the ledger then reconciles
exactly). Real Redis, the real server and the reference puller."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY

from reservation.clients.wms import bootstrap as wms_bootstrap
from reservation.clients.wms import reconcile as wms_reconcile
from reservation.clients.wms.ledger import Ledger
from reservation.clients.wms.puller import Puller
from reservation.server.app import App
from reservation.server.gauges import GaugeSampler
from reservation.storage import keys
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.writeback import WriteBack
from tests.helpers.writeback import SKUS, Traffic, caught_up, ledger_totals, settled

CAP = 100


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"write_back_stream_max": CAP, "write_back_visibility_timeout_ms": 300}


async def _longest(app: App) -> int:
    return max([int(await app.store.client.xlen(keys.write_back(s)))
                for s in range(app.settings.shards)])


async def test_a_group_past_the_cap_is_broken_and_bootstrap_repairs_it(
        app: App, stubs, wb, tmp_path) -> None:
    traffic = Traffic(stubs, seed=5)
    await traffic.load()
    # Nothing pulls: the group falls behind until the cap trims what it never read.
    while True:
        await traffic.burst(100)
        stats = await WriteBack.over(app.store).stats("wms")
        if stats.broken_shards:
            break
        assert traffic.count < 5000, "the cap never trimmed"
    # Near exact: whole nodes of 100 entries are trimmed, never much past the cap.
    assert await _longest(app) <= 3 * CAP

    await GaugeSampler(app.store, app.inventory, WriteBack.over(app.store)).sample()
    broken = REGISTRY.get_sample_value("reservation_stream_group_broken",
                                       {"stream": "write_back", "group": "wms"})
    # Expiries keep writing events meanwhile, so another shard may break between the
    # reads; a broken shard stays broken until repaired: the gauge lies between them.
    later = await WriteBack.over(app.store).stats("wms")
    assert 1 <= len(stats.broken_shards) <= broken <= len(later.broken_shards)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        for _ in range(app.settings.shards):  # a pull walks shards from a random one
            await wb.PullBatch(wpb.PullBatchRequest(consumer="c1", max_events=1000,
                                                    group="wms"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "'wms'" in refused.value.details() and "bootstrap" in refused.value.details()

    ledger = Ledger(f"sqlite:///{tmp_path / 'wms.db'}")
    try:
        with grpc.insecure_channel(app.target) as channel:
            assert await asyncio.to_thread(wms_bootstrap.bootstrap, channel, ledger, "wms") > 0
        assert not (await WriteBack.over(app.store).stats("wms")).broken_shards
        await traffic.burst(60)  # after the snapshot: through the stream
        after = await settled(stubs)
        with grpc.insecure_channel(app.target) as channel:
            puller = Puller(channel, ledger, "wms-1", group="wms", max_events=500, wait_s=0.5)
            while not await caught_up(wb, "wms"):
                await asyncio.to_thread(puller.step)
            assert ledger_totals(ledger) == after
            assert {sku for sku, _ in after} == set(SKUS)
            response = await asyncio.to_thread(wms_reconcile.reconcile, channel, ledger, "wms")
        assert list(response.differences) == []
    finally:
        ledger.close()


async def test_a_group_that_keeps_up_is_never_broken_and_the_stream_stays_short(
        app: App, stubs, wb, tmp_path) -> None:
    traffic = Traffic(stubs, seed=6)
    await traffic.load()
    ledger = Ledger(f"sqlite:///{tmp_path / 'wms.db'}")
    try:
        with grpc.insecure_channel(app.target) as channel:
            puller = Puller(channel, ledger, "wms-1", group="wms", max_events=500, wait_s=0.2)
            for _ in range(8):
                await traffic.burst(80)
                while not await caught_up(wb, "wms"):
                    await asyncio.to_thread(puller.step)
        stats = await WriteBack.over(app.store).stats("wms")
        assert stats.broken_shards == () and stats.read_at_ms > 0
        assert await _longest(app) < CAP  # acknowledging trims far below the cap
    finally:
        ledger.close()
