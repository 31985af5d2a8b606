"""The audit trail exactly once in a relational store: audit pullers SIGKILLed between
their commit and their acknowledgement, against SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from reservation.clients.audit.puller import EventPuller
from reservation.clients.audit.store import AuditStore
from tests.helpers.orders import channel_order, history, move, sync
from tests.helpers.reservations import load

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"write_back_visibility_timeout_ms": 300}


@pytest.fixture(autouse=True)
async def plenty(stubs) -> None:
    await load(stubs, ("SKU-1", "WH-A", 1000))


async def traffic(hub, round_: int, n: int = 8) -> list[str]:
    """n orders created, paid, some cancelled or allocated: several events each."""
    ids = [f"R{round_}-{i}" for i in range(n)]
    await sync(hub, *[channel_order(o, "PENDING_PAYMENT", ("SKU-1", 1), modified_s=1000,
                                    phone=f"1390000{round_:02d}{i:02d}")
                      for i, o in enumerate(ids)])
    await sync(hub, *[channel_order(o, "PAID", ("SKU-1", 1), modified_s=1001,
                                    phone=f"1390000{round_:02d}{i:02d}")
                      for i, o in enumerate(ids)])
    for i, o in enumerate(ids):
        await move(hub, o, "CANCELLED" if i % 3 == 0 else "ALLOCATED", actor="wms")
    return ids


async def trail(hub, ids: list[str]) -> Counter[tuple[str, ...]]:
    """What the service's own histories say happened, one entry per event."""
    out: Counter[tuple[str, ...]] = Counter()
    for o in ids:
        for e in await history(hub, o):
            out[(e.channel, e.shop, e.order_id, str(e.version), e.type, e.from_state,
                 e.to_state)] += 1
    return out


def stored(store: AuditStore) -> Counter[tuple[str, ...]]:
    return Counter((ch, shop, oid, str(v), t, f, to)
                   for _, t, ch, shop, oid, v, f, to in store.rows())


def audit_process(target: str, db: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reservation.clients.audit.puller", "--target", target,
         "--db", db, "--max-events", "15", "--wait", "0.5", *extra],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)


def kill_after_first_commit(proc: subprocess.Popen[str]) -> str:
    """The puller prints 'applied ...' after its commit and then sleeps (--ack-delay)
    before acknowledging: SIGKILL it there."""
    try:
        return proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


async def killed_mid_batch_then_drained(app, hub, db: str, rounds: int) -> list[str]:
    ids: list[str] = []
    kills = []
    for r in range(rounds):
        ids += await traffic(hub, r)
        proc = audit_process(app.target, db, "--ack-delay", "60")
        kills.append(await asyncio.to_thread(kill_after_first_commit, proc))
    proc = audit_process(app.target, db, "--until-idle", "--wait", "1")
    assert await asyncio.to_thread(proc.wait) == 0
    assert all(line.startswith("applied 15 events") for line in kills)
    return ids


async def test_sqlite_audit_has_every_event_once_after_kills_mid_batch(app, hub, tmp_path):
    db = f"sqlite:///{tmp_path / 'audit.db'}"

    ids = await killed_mid_batch_then_drained(app, hub, db, rounds=5)

    store = AuditStore(db)
    expected = await trail(hub, ids)
    assert stored(store) == expected
    assert store.count() == sum(expected.values())
    store.close()


@pytest.fixture
def pg_audit_url() -> Iterator[str]:
    """A database of its own in the local PostgreSQL, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"audit_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


async def test_postgresql_audit_has_every_event_once_after_kills_mid_batch(
        app, hub, pg_audit_url):
    ids = await killed_mid_batch_then_drained(app, hub, pg_audit_url, rounds=4)

    store = AuditStore(pg_audit_url)
    expected = await trail(hub, ids)
    assert stored(store) == expected
    assert store.count() == sum(expected.values())
    store.close()


async def test_a_redelivered_batch_is_skipped_by_the_store(app, hub, tmp_path):
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    ids = await traffic(hub, 0, n=3)
    with grpc.insecure_channel(app.target) as channel:
        puller = EventPuller(channel, store.apply, max_events=1000, wait_s=0)
        first = await asyncio.to_thread(puller.pull)
        applied_first = store.apply(first.events)
        puller.wait_s = 2.0
        again: list = []
        for _ in range(20):  # past the visibility timeout, shard by shard as each is due
            again += (await asyncio.to_thread(puller.pull)).events
            if len(again) >= len(first.events):
                break

    assert applied_first == len(first.events) == sum((await trail(hub, ids)).values())
    assert sorted(e.event_id for e in again) == sorted(e.event_id for e in first.events)
    assert {e.delivery_count for e in again} == {2}
    assert store.apply(again) == 0
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_batch_of_old_and_new_events_stores_only_the_new_in_one_go(
        app, hub, tmp_path, request, kind):
    """The batched insert (COPY + one INSERT for PostgreSQL, executemany for SQLite)
    counts and stores only ids not seen before, also when a batch mixes both."""
    url = (f"sqlite:///{tmp_path / 'audit.db'}" if kind == "sqlite"
           else request.getfixturevalue("pg_audit_url"))
    store = AuditStore(url)
    ids = await traffic(hub, 1, n=4)
    with grpc.insecure_channel(app.target) as channel:
        puller = EventPuller(channel, store.apply, max_events=1000, wait_s=0.5)
        events = []
        for _ in range(20):
            batch = await asyncio.to_thread(puller.pull)
            events += batch.events
            await asyncio.to_thread(puller.ack, batch.batch_id)
            if len(events) >= sum((await trail(hub, ids)).values()):
                break

    half = len(events) // 2
    assert store.apply(events[:half]) == half
    assert store.apply(events) == len(events) - half
    assert store.apply(events) == 0
    assert stored(store) == await trail(hub, ids)
    store.close()
