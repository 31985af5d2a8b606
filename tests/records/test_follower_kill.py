"""A `reservation serve` killed (SIGKILL) while its follower applies order events, and
started again: the records store ends with every event once and every order as the hub
answers it. Real processes, real Redis, SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select

from reservation.records.database import engine_for
from reservation.records.schema import order_events
from reservation.records.store import Records
from reservation.server.convert_orders import to_order
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.cli import start_serve, stop_serve
from tests.helpers.orders import channel_order, get_order, history, move, sync
from tests.helpers.reservations import load
from tests.helpers.server import Stubs
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.slow  # real processes, killed and started again

ROUNDS = 3
PER_ROUND = 40


async def _round(target: str, r: int) -> list[str]:
    """Orders of this round: synced in batches, some cancelled and closed."""
    ids = [f"K{r}-{i}" for i in range(PER_ROUND)]
    async with grpc.aio.insecure_channel(target) as channel:
        if r == 0:
            await load(Stubs(channel), ("SKU-1", "WH-A", 10_000))
        stub = order_service_pb2_grpc.OrderServiceStub(channel)
        for start in range(0, PER_ROUND, 10):
            await sync(stub, *(channel_order(oid, "PENDING_PAYMENT", phone=f"1380000{i:04d}")
                               for i, oid in enumerate(ids[start:start + 10], start)))
        for oid in ids[::3]:
            await move(stub, oid, "CANCELLED")
            await move(stub, oid, "CLOSED")
    return ids


def test_killed_mid_stream_nothing_twice_nothing_missing(tmp_path: Path, redis_url: str) -> None:
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    env = {"RESERVATION_REDIS_URL": redis_url, "RESERVATION_RECORDS_URL": url}
    ids: list[str] = []
    for r in range(ROUNDS):
        served = start_serve(tmp_path, **env)
        try:
            ids += asyncio.run(_round(served.target, r))
        finally:
            served.proc.kill()  # SIGKILL: wherever the follower is, it stops there
            served.proc.wait()
    served = start_serve(tmp_path, **env)
    engine = engine_for(url)
    try:
        asyncio.run(_check(served.target, Records(engine), ids))
        with engine.connect() as c:
            total = c.execute(select(func.count()).select_from(order_events)).scalar_one()
            distinct = c.execute(select(func.count(func.distinct(order_events.c.event_id)))
                                 ).scalar_one()
        assert total == distinct
    finally:
        engine.dispose()
        stop_serve(served)


async def _check(target: str, records: Records, ids: list[str]) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = order_service_pb2_grpc.OrderServiceStub(channel)
        want = {oid: len(await history(stub, oid)) for oid in ids}

        async def behind() -> list[str]:
            late = []
            for oid in ids:
                found = await asyncio.to_thread(records.get, order_ref("jd", "shop-1", oid))
                if found is None or found[1] != want[oid]:
                    late.append(oid)
            return late

        await wait_until(behind, lambda late: not late, "every order in the records store",
                         deadline_s=60)
        for oid in ids:
            found = await asyncio.to_thread(records.get, order_ref("jd", "shop-1", oid))
            assert found is not None
            assert to_order(found[0]) == await get_order(stub, oid)
            assert len(await asyncio.to_thread(records.history, order_ref("jd", "shop-1", oid),
                                               0, 1000)) == want[oid]
