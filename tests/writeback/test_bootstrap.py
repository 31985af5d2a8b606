"""A write-back group added later starts from a snapshot of the counters, then follows the
streams; reconcile then agrees exactly, as it does for a group that was there all along."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from reservation.clients.wms import bootstrap as wms_bootstrap
from reservation.clients.wms import reconcile as wms_reconcile
from reservation.clients.wms.ledger import Ledger
from reservation.clients.wms.puller import Puller
from reservation.v1 import admin_service_pb2 as apb
from tests.helpers.writeback import Traffic, caught_up, ledger_totals, settled

LATE = "late-wms"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"write_back_groups": f"wms,{LATE}", "write_back_visibility_timeout_ms": 300}


@pytest.fixture
def ledger(tmp_path):
    opened = Ledger(f"sqlite:///{tmp_path / 'late.db'}")
    yield opened
    opened.close()


async def pull_until_caught_up(app, wb, ledger: Ledger, group: str) -> None:
    with grpc.insecure_channel(app.target) as channel:
        puller = Puller(channel, ledger, "late-1", group=group, max_events=500, wait_s=0.5)
        while not await caught_up(wb, group):
            await asyncio.to_thread(puller.step)


@pytest.mark.slow
async def test_a_late_group_bootstrapped_from_a_snapshot_reconciles_exactly(
        app, stubs, wb, ledger, tmp_path):
    traffic = Traffic(stubs, seed=11)
    await traffic.load()
    await traffic.burst(60)
    # The default group pulls and acknowledges: trimming removes what the late group
    # never saw, so only a snapshot can give it the history.
    with grpc.insecure_channel(app.target) as channel:
        first = Puller(channel, Ledger(f"sqlite:///{tmp_path / 'wms.db'}"), "wms-1",
                       max_events=500, wait_s=0.5)
        while not await caught_up(wb):
            await asyncio.to_thread(first.step)

    with grpc.insecure_channel(app.target) as channel:
        rows = await asyncio.to_thread(wms_bootstrap.bootstrap, channel, ledger, LATE)
    assert rows > 0
    await traffic.burst(60)  # changes after the snapshot come through the stream
    after = await settled(stubs)
    await pull_until_caught_up(app, wb, ledger, LATE)

    assert ledger_totals(ledger) == after
    with grpc.insecure_channel(app.target) as channel:
        response = await asyncio.to_thread(wms_reconcile.reconcile, channel, ledger, LATE)
    assert list(response.differences) == []


async def test_bootstrap_refuses_a_ledger_that_is_not_empty(app, stubs, ledger):
    traffic = Traffic(stubs)
    await traffic.load()
    with grpc.insecure_channel(app.target) as channel:
        await asyncio.to_thread(wms_bootstrap.bootstrap, channel, ledger, LATE)
        with pytest.raises(ValueError, match="not empty"):
            await asyncio.to_thread(wms_bootstrap.bootstrap, channel, ledger, LATE)


async def test_bootstrap_of_an_unconfigured_group_names_the_field(stubs):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.admin.BootstrapWriteBackGroup(
            apb.BootstrapWriteBackGroupRequest(group="nobody"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "group" in err.value.details()
