"""Reconciliation: the ledger's totals against the counters, every difference classified."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from reservation.clients.wms import reconcile as wms_reconcile
from reservation.clients.wms.ledger import Ledger
from reservation.clients.wms.puller import Puller
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.reservations import load, ms
from tests.helpers.writeback import Traffic, caught_up, settled

K = apb.DifferenceKind


@pytest.fixture
def ledger(tmp_path):
    opened = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield opened
    opened.close()


async def catch_up(app, wb, ledger: Ledger) -> None:
    with grpc.insecure_channel(app.target) as channel:
        puller = Puller(channel, ledger, "reconcile-test", max_events=500, wait_s=1.0)
        while not await caught_up(wb):
            await asyncio.to_thread(puller.step)


async def reconcile(app, ledger: Ledger) -> apb.ReconcileResponse:
    with grpc.insecure_channel(app.target) as channel:
        return await asyncio.to_thread(wms_reconcile.reconcile, channel, ledger)


def kinds(response: apb.ReconcileResponse) -> set[int]:
    return {d.kind for d in response.differences}


async def test_a_caught_up_ledger_has_no_differences(app, stubs, wb, ledger):
    traffic = Traffic(stubs)
    await traffic.load()
    await traffic.burst(60)
    await settled(stubs)
    await catch_up(app, wb, ledger)

    response = await reconcile(app, ledger)

    assert list(response.differences) == []
    assert response.checked_at.seconds > 0


@pytest.mark.slow
async def test_changes_not_pulled_yet_are_not_yet_written_back(app, stubs, wb, ledger):
    traffic = Traffic(stubs)
    await traffic.load()
    await settled(stubs)
    await catch_up(app, wb, ledger)
    for _ in range(4):  # later bursts confirm and release what earlier ones held
        await traffic.burst(10)
    await load(stubs, ("wb-apple", "sh", 5))
    await settled(stubs)

    response = await reconcile(app, ledger)

    assert response.differences
    assert kinds(response) == {K.DIFFERENCE_KIND_NOT_YET_WRITTEN_BACK}
    assert all(d.pending_events > 0 for d in response.differences)


async def test_a_batch_applied_but_not_acknowledged_reconciles_cleanly(app, stubs, wb, ledger):
    await load(stubs, ("apple", "sh", 10), ("pear", "bj", 4))
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="c", max_events=100))
    ledger.apply(batch.events)  # ...and the puller dies before AckBatch

    response = await reconcile(app, ledger)

    assert list(response.differences) == []


@pytest.mark.slow
async def test_dead_lettered_events_are_not_yet_written_back(app, stubs, wb, ledger):
    await load(stubs, ("apple", "sh", 10))
    for _ in range(4):  # three deliveries, never acknowledged, then the dead letter
        await wb.PullBatch(wpb.PullBatchRequest(consumer="c", max_events=10, wait=ms(1000)))

    response = await reconcile(app, ledger)

    assert [(d.counter, d.service_value, d.ledger_value, d.kind) for d in response.differences] \
        == [("loaded", 10, 0, K.DIFFERENCE_KIND_NOT_YET_WRITTEN_BACK),
            ("available", 10, 0, K.DIFFERENCE_KIND_NOT_YET_WRITTEN_BACK)]


async def test_a_ledger_sku_the_service_does_not_know_is_unknown_to_service(app, stubs):
    response = await stubs.admin.Reconcile(apb.ReconcileRequest(ledger=[
        apb.LedgerTotal(sku="ghost", warehouse_id="sh", loaded=5, available=5)]))

    assert [(d.sku, d.counter, d.kind, d.ledger_value) for d in response.differences] == [
        ("ghost", "loaded", K.DIFFERENCE_KIND_UNKNOWN_TO_SERVICE, 5),
        ("ghost", "available", K.DIFFERENCE_KIND_UNKNOWN_TO_SERVICE, 5)]


async def test_a_ledger_total_off_by_some_units_is_a_quantity_mismatch(app, stubs, wb, ledger):
    await load(stubs, ("apple", "sh", 10))
    await catch_up(app, wb, ledger)
    ledger._conn.execute("UPDATE wb_totals SET confirmed = confirmed + 3")  # a WMS bug

    response = await reconcile(app, ledger)

    assert [(d.counter, d.service_value, d.ledger_value, d.kind)
            for d in response.differences] == [
        ("confirmed", 0, 3, K.DIFFERENCE_KIND_QUANTITY_MISMATCH)]


async def test_reconcile_command_exits_1_on_a_real_difference_and_0_when_clean(
        app, stubs, wb, tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    await load(stubs, ("apple", "sh", 10))
    ledger = Ledger(url)
    await catch_up(app, wb, ledger)
    args = ["--target", app.target, "--ledger", url]

    clean = await asyncio.to_thread(wms_reconcile.main, args)
    ledger._conn.execute("UPDATE wb_totals SET loaded = loaded - 1")
    ledger.close()
    broken = await asyncio.to_thread(wms_reconcile.main, args)

    assert (clean, broken) == (0, 1)


async def test_reconcile_with_a_repeated_ledger_row_is_refused(stubs):
    row = apb.LedgerTotal(sku="apple", warehouse_id="sh", loaded=1)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.admin.Reconcile(apb.ReconcileRequest(ledger=[row, row]))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ledger[1]" in info.value.details()
