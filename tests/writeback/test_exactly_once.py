"""Exactly once into the WMS ledger: pullers die between apply and ack, the service
restarts, and in the end the ledger's totals equal the service's counters."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from reservation.clients.wms.ledger import Ledger
from reservation.clients.wms.puller import Puller
from reservation.server.app import App, start_app
from reservation.storage.redis_process import free_port
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc
from tests.helpers.server import Stubs, test_settings
from tests.helpers.waiting import wait_until
from tests.helpers.writeback import Traffic, caught_up, counters, ledger_totals, settled

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


async def start(redis_url: str, port: int) -> App:
    # The same port across restarts, so clients reconnect as they would in production.
    return await start_app(test_settings(redis_url, port=port,
                                         write_back_visibility_timeout_ms=250))


async def drain(target: str, ledger: Ledger) -> None:
    """Pull (and acknowledge) until the group has nothing pending or undelivered left;
    events a crashed puller left pending come back after the visibility timeout."""
    async with grpc.aio.insecure_channel(target) as channel:
        wb = write_back_service_pb2_grpc.WriteBackServiceStub(channel)
        with grpc.insecure_channel(target) as sync_channel:
            puller = Puller(sync_channel, ledger, "drain", max_events=200, wait_s=1.0)
            while not await caught_up(wb):
                await asyncio.to_thread(puller.step)


async def crash_and_restart_rounds(redis_url: str, ledger: Ledger, rounds: int) -> int:
    """Traffic, then pull+apply; every other round the puller 'dies' before its ack.
    Midway the service restarts between a batch's apply and its ack. Returns crashes."""
    port = free_port()
    app = await start(redis_url, port)
    crashes = 0
    try:
        async with grpc.aio.insecure_channel(app.target) as channel:
            traffic = Traffic(Stubs(channel), seed=11)
            await traffic.load()
            with grpc.insecure_channel(app.target) as sync_channel:
                for i in range(rounds):
                    await traffic.burst(15)
                    puller = Puller(sync_channel, ledger, f"puller-{i}", max_events=25)
                    batch = await asyncio.to_thread(puller.pull)
                    await asyncio.to_thread(ledger.apply, batch.events)
                    if i == rounds // 2:
                        await app.stop(grace=0)
                        app = await start(redis_url, port)
                    if i % 2 == 0 and i != rounds // 2:
                        crashes += 1  # gone before acknowledging: redelivered later
                    elif batch.events:
                        await asyncio.to_thread(puller.ack, batch.batch_id)
            await settled(traffic.stubs)
            await drain(app.target, ledger)
            assert ledger_totals(ledger) == await counters(traffic.stubs)
            stats = await write_back_service_pb2_grpc.WriteBackServiceStub(
                channel).GetWriteBackStats(wpb.GetWriteBackStatsRequest())
            # Deliveries beyond the ledger's events were redeliveries it skipped.
            assert stats.delivered_total > ledger.event_count()
    finally:
        await app.stop(grace=0)
    return crashes


async def test_ledger_equals_counters_after_crashes_between_apply_and_ack_and_a_restart(
        redis_url, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")

    crashes = await crash_and_restart_rounds(redis_url, ledger, rounds=24)

    assert crashes >= 10
    ledger.close()


@pytest.fixture
def pg_ledger_url(postgres_url: str) -> Iterator[str]:
    """A fresh schema in the session's PostgreSQL database, dropped afterwards."""
    import psycopg

    schema = f"wb_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(postgres_url, autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


async def test_postgresql_ledger_equals_counters_after_crashes_and_a_restart(
        redis_url, pg_ledger_url):
    ledger = Ledger(pg_ledger_url)

    crashes = await crash_and_restart_rounds(redis_url, ledger, rounds=16)

    assert crashes >= 6
    assert ledger.event_count() > 0
    ledger.close()


def puller_process(target: str, ledger_url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reservation.clients.wms.puller", "--target", target, "--ledger", ledger_url,
         "--max-events", "20", "--wait", "0.5", *extra],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)


def kill_after_first_apply(proc: subprocess.Popen[str]) -> str:
    """Wait for the puller to report a committed batch, then SIGKILL it (it is sleeping
    in --ack-delay, so the batch is applied and not acknowledged)."""
    try:
        return proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


async def test_puller_process_killed_between_apply_and_ack_loses_and_doubles_nothing(
        app, stubs, tmp_path):
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    traffic = Traffic(stubs, seed=5)
    await traffic.load()
    kills = []
    for _ in range(8):
        await traffic.burst(20)
        proc = puller_process(app.target, ledger_url, "--ack-delay", "60")
        kills.append(await asyncio.to_thread(kill_after_first_apply, proc))
    await settled(stubs)
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    while not await caught_up(wb):
        proc = puller_process(app.target, ledger_url, "--until-idle", "--wait", "1")
        assert await asyncio.to_thread(proc.wait) == 0

    ledger = Ledger(ledger_url)
    stats = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest())
    assert all(line.startswith("applied ") for line in kills)
    assert ledger_totals(ledger) == await counters(stubs)
    assert stats.delivered_total > ledger.event_count()
    ledger.close()


async def test_redelivered_events_are_skipped_by_the_ledger(app, stubs, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    traffic = Traffic(stubs, seed=9)
    await traffic.load()
    await traffic.burst(30)
    await settled(stubs)  # no expiry still to come: the second pull can only redeliver
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    request = wpb.PullBatchRequest(consumer="c", max_events=1000)
    first = await wb.PullBatch(request)
    applied_first = ledger.apply(first.events)
    request.wait.FromMilliseconds(5000)
    again: dict[str, int] = {}  # event id -> what applying its redelivery changed

    async def redeliver() -> set[str]:
        # After the visibility timeout the same events come again; on a loaded machine
        # they may come over several pulls, so pull until all of them were seen.
        batch = await wb.PullBatch(request)
        for e in batch.events:
            again[e.event_id] = again.get(e.event_id, 0) + ledger.apply([e])
        return set(again)

    first_ids = {e.event_id for e in first.events}
    await wait_until(redeliver, lambda seen: seen >= first_ids, "every event redelivered")

    assert applied_first == len(first.events) > 0
    assert set(again) == first_ids
    assert sum(again.values()) == 0
    ledger.close()
