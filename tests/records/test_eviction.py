"""Eviction: a closed order past the hot window leaves Redis once the records store has
every one of its events, and reads the same before and after (every field); with the
follower stopped nothing leaves. Real Redis, the real server, SQLite and PostgreSQL;
time is moved through the evictor's clock, never waited for."""

from __future__ import annotations

import time

import grpc
import pytest

from reservation import clock
from reservation.records.eviction import Evictor
from reservation.records.store import Records
from reservation.server.app import App
from reservation.storage import orders as order_keys
from reservation.storage.orders import order_ref
from reservation.v1 import order_service_pb2 as opb
from tests.helpers import channel_order, get_order, history, move, sync
from tests.records.helpers import (
    CLOSED,
    QUERIES,
    N,
    all_pages,
    channel_of,
    closing_orders,
    engine_of,
    follower_of,
    hub_of,
)

DAY_MS = 24 * 3600 * 1000
OPEN = [f"C{i:02d}" for i in range(N) if f"C{i:02d}" not in CLOSED]


def _evictor(app: App, days_later: float) -> Evictor:
    """An evictor whose clock reads `days_later` days from now."""
    return Evictor(hub_of(app), Records(engine_of(app)),
                   clock=lambda: clock.now_ms() + int(days_later * DAY_MS))


async def _in_redis(app: App, oid: str) -> bool:
    return await hub_of(app).orders.exists(order_ref(channel_of(oid), "shop-1", oid))


async def _snapshot(stub, oids: list[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {oid: (await get_order(stub, oid, channel=channel_of(oid)),
                  await history(stub, oid, channel=channel_of(oid))) for oid in oids}


async def _fulfilment(stub) -> list[opb.FulfilmentStats]:  # type: ignore[no-untyped-def]
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3600))  # when they were made
    reply = await stub.GetFulfilmentStats(opb.GetFulfilmentStatsRequest(day=today),
                                          timeout=10)
    return list(reply.rows)


async def test_a_closed_order_past_the_window_leaves_redis_and_reads_the_same(
        quiet_app: App, order_stub) -> None:
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    oids = [f"C{i:02d}" for i in range(N)]
    before = await _snapshot(order_stub, oids)
    lists = {(size, tuple(q.items())): await all_pages(order_stub, size, **q)
             for size in (1, 5, 100) for q in QUERIES}

    stats = await _fulfilment(order_stub)
    # Inside the window (6 days after closing, the default window is 7): all stay.
    await _evictor(quiet_app, 6).evict_all()
    assert [oid for oid in oids if not await _in_redis(quiet_app, oid)] == []

    await _evictor(quiet_app, 8).evict_all()
    assert [oid for oid in oids if not await _in_redis(quiet_app, oid)] == CLOSED
    hub = hub_of(quiet_app)
    for oid in CLOSED:
        ref = order_ref(channel_of(oid), "shop-1", oid)
        shard = await hub.orders.locate(ref, None)  # the locator stays
        assert shard is not None
        assert not await hub.store.client.exists(order_keys.history(shard, ref))
        assert await hub.store.client.zscore(order_keys.index(shard), ref) is None

    assert await _snapshot(order_stub, oids) == before  # every field, every event
    for (size, q), listed in lists.items():
        assert await all_pages(order_stub, size, **dict(q)) == listed, (size, q)
    # Fulfilment figures of the day count the evicted orders as before.
    assert await _fulfilment(order_stub) == stats and stats[-1].created == N


async def test_with_the_follower_stopped_nothing_is_evicted(quiet_app: App,
                                                           order_stub) -> None:
    """The follower applies the orders' creation, then stops; they close while it is
    stopped. Far past the window, nothing leaves Redis: the store has not got their last
    events. Once the follower runs again, they go."""
    await sync(order_stub, *(channel_order(f"S{i}", "PENDING_PAYMENT", ("SKU-1", 1),
                                           phone=f"1390000{i:04d}") for i in range(4)))
    for i in range(4):
        await move(order_stub, f"S{i}", "CANCELLED")
    await follower_of(quiet_app).catch_up()
    for i in range(4):  # the follower is stopped from here on
        await move(order_stub, f"S{i}", "CLOSED")
    await _evictor(quiet_app, 365).evict_all()
    hub = hub_of(quiet_app)
    kept = [await hub.orders.exists(order_ref("jd", "shop-1", f"S{i}")) for i in range(4)]
    assert kept == [True] * 4
    await follower_of(quiet_app).catch_up()
    await _evictor(quiet_app, 365).evict_all()
    kept = [await hub.orders.exists(order_ref("jd", "shop-1", f"S{i}")) for i in range(4)]
    assert kept == [False] * 4


async def test_an_evicted_order_resent_stays_as_it_was(quiet_app: App, order_stub) -> None:
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    await _evictor(quiet_app, 8).evict_all()
    oid = CLOSED[0]
    before = await _snapshot(order_stub, [oid])
    # The channel sends it again (as new, and as closed): nothing arrives again.
    for state in ("PENDING_PAYMENT", "CLOSED"):
        results = await sync(order_stub, channel_order(
            oid, state, ("SKU-1", 1), channel=channel_of(oid), phone="13800000000",
            modified_s=int(time.time())))
        assert [r.outcome for r in results] == [opb.SYNC_OUTCOME_UNCHANGED]
    assert not await _in_redis(quiet_app, oid)
    assert await _snapshot(order_stub, [oid]) == before
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await move(order_stub, oid, "PAID", channel=channel_of(oid))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "records store" in (e.value.details() or "")
