"""Multi-shard orders are held, confirmed and released whole, whoever stops half-way.

Each test runs on one Redis and on the local 3-master Redis Cluster (the order's two
SKUs then live on different nodes). The failing line always sits in the LATER shard, so
the first part is held before the refusal. Crashes are reproduced exactly by driving the
store's steps directly and stopping where a killed process would have stopped; the
recovery sweep (or the next reader) must then finish the order. tests/chaos runs the
same with real kill -9.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest

from reservation.domain import orders
from reservation.domain.models import OrderLine
from reservation.domain.orders import Identity
from reservation.server.app import App, start_app
from reservation.storage import keys
from reservation.v1 import reservation_service_pb2 as rpb
from tests.helpers.reservations import (
    CONFIRMED,
    REJECTED,
    RELEASED,
    RESERVED,
    confirm,
    get,
    levels,
    line,
    load,
    order,
    release,
    reserve,
)
from tests.helpers.server import Stubs, test_settings
from tests.helpers.shards import SHARDS, two_skus
from tests.helpers.snapshots import by_timer, redis_snapshot
from tests.helpers.waiting import now_ms, past

LEASE_MS = 400


@pytest.fixture(params=["redis", "cluster"])
async def env(request, tmp_path) -> AsyncIterator[tuple[App, Stubs, str, str, str]]:
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings = test_settings(url, order_lease_ms=LEASE_MS)
        a, b = two_skus()
    else:
        cluster = request.getfixturevalue("redis_cluster")
        url = request.getfixturevalue("redis_cluster_url")
        settings = test_settings(url, redis_cluster=True, order_lease_ms=LEASE_MS)
        client = cluster.client()

        def node_of(sku: str) -> int:
            return int(client.get_node_from_key(keys.stock(keys.shard_of(sku, SHARDS),
                                                           sku)).port)
        try:
            a, b = two_skus(node_of)
        finally:
            client.close()
    # No background loops: each test runs the recovery sweep itself, at the point it
    # means to, so a loaded machine cannot make a pass land between two snapshots.
    app = await start_app(settings, background=False)
    async with grpc.aio.insecure_channel(app.target) as channel:
        yield app, Stubs(channel), url, a, b
    await app.stop(grace=0)


async def stream_events(app: App, sku: str) -> list[tuple[str, str]]:
    """(type, order id) of the write-back events of `sku`, in stream order."""
    shard = keys.shard_of(sku, SHARDS)
    entries = await app.store.client.xrange(keys.write_back(shard))
    return [(f["t"], f["oid"]) for _, f in entries if f["sku"] == sku]


async def snapshot(app: App, url: str, cluster: bool) -> object:
    if not cluster:
        return await redis_snapshot(url)
    # On the cluster: every key of the order's shards, read through the app's client.
    out = {}
    for key in await app.store.client.keys("*"):
        if by_timer(key):
            continue
        out[key] = (await app.store.client.type(key), await app.store.client.dump(key))
    return out


def is_cluster(app: App) -> bool:
    return app.settings.redis_cluster


async def placed_up_to_first_part(app: App, a: str, b: str, oid: str) -> None:
    """What a placer killed right after holding its first part leaves behind."""
    store = app.store
    ref = keys.order_ref("jd", oid)
    lines = (OrderLine(a, 1), OrderLine(b, 1))
    ident = Identity("rid-" + oid, "buyer-1", orders.spec(lines), "PLACING")
    assert await store.record_intent(ref, ident.encode()) is None
    first = orders.split_by_shard(lines, SHARDS)[0]
    reply = await store.reserve(first.shard, ref, ident.reservation_id, "jd", oid, "buyer-1",
                                first.spec, [(a, 1, "")], 0, False)
    assert reply.state == "RESERVED"


async def test_a_refused_later_line_leaves_nothing_held(env):
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 1))
    await reserve(stubs, order("o-0", line(b)))  # b now has nothing available
    r = await reserve(stubs, order("o-1", line(a), line(b), buyer="b2"))
    assert r.state == REJECTED and r.failed_sku == b
    assert (await levels(stubs, a))["W1"].held == 0
    assert (await levels(stubs, a))["W1"].available == 5
    assert [t for t, oid in await stream_events(app, a) if oid == "o-1"] == ["HELD", "RELEASED"]


async def test_a_new_order_takes_one_script_call_on_one_redis_and_leaves_the_sagas_records(env):
    # On one Redis a script may touch every shard, so a new multi-shard order is placed
    # in one call (intent, parts, decision together); on the cluster it is the saga: an
    # intent, a call per part and a decision. Either way the same records remain: the
    # decision at home, nothing pending, the refused order's held part given back.
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 2))
    # A first order loads the scripts (a call that Redis answers "not loaded" is sent again).
    await reserve(stubs, order("o-0", line(a), line(b)))
    stats = app.store._coalescer.stats
    calls = []
    for oid in ("o-1", "o-2"):  # o-2 finds b sold out by o-1, in the later shard
        before = stats["commands"]
        await reserve(stubs, order(oid, line(a, 2), line(b)))
        calls.append(stats["commands"] - before)
    if is_cluster(app):
        assert min(calls) >= 4, calls  # intent, part a, part b, decision (+ compensation)
    else:
        assert calls == [1, 1]
    r1, r2 = await get(stubs, "o-1"), await get(stubs, "o-2")
    assert (r1.state, r2.state, r2.failed_sku) == (RESERVED, REJECTED, b)
    assert ((await levels(stubs, a))["W1"].available, (await levels(stubs, a))["W1"].held) == (2, 3)
    for oid, phase in (("o-1", "HELD"), ("o-2", "ABORTED")):
        ref = keys.order_ref("jd", oid)
        home = await app.store.client.get(keys.order_home(ref, SHARDS))
        assert home.split("\t")[3] == phase
        pending = keys.pending(keys.home_shard(ref, SHARDS))
        assert await app.store.client.zscore(pending, ref) is None
    assert [(t, oid) for t, oid in await stream_events(app, a) if oid in ("o-1", "o-2")] == [
        ("HELD", "o-1"), ("HELD", "o-2"), ("RELEASED", "o-2")]
    # Each again, answered as recorded, holds nothing more (the saga's idempotent way).
    assert (await reserve(stubs, order("o-1", line(a, 2), line(b)))).reservation_id == \
        r1.reservation_id
    assert (await reserve(stubs, order("o-2", line(a, 2), line(b)))).state == REJECTED
    assert (await levels(stubs, a))["W1"].held == 3


async def test_a_placer_killed_after_its_first_part_is_compensated_by_recovery(env):
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await placed_up_to_first_part(app, a, b, "o-1")
    assert (await levels(stubs, a))["W1"].held == 1
    # Within the lease a reader is told to retry, never shown a partial order.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stubs.rs.GetReservation(rpb.GetReservationRequest(channel="jd",
                                                                order_id="o-1"))
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    # After the lease, a sweep pass aborts it: part A released, part B tombstoned.
    await past(now_ms() + LEASE_MS)  # the lease taken before now has run out
    await app.recovery.run_once()
    assert (await get(stubs, "o-1")).state == RELEASED
    assert (await levels(stubs, a))["W1"].held == 0
    assert (await levels(stubs, a))["W1"].available == 5
    # The killed placer's late copy (or the caller's retry) holds nothing.
    again = await reserve(stubs, order("o-1", line(a), line(b)))
    assert again.state == RELEASED
    assert (await levels(stubs, b))["W1"].held == 0


async def test_a_retry_completes_a_half_placed_order(env):
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await placed_up_to_first_part(app, a, b, "o-1")
    r = await reserve(stubs, order("o-1", line(a), line(b)))
    assert r.state == RESERVED and len(r.allocations) == 2
    assert r.reservation_id == "rid-o-1"
    assert (await confirm(stubs, "o-1")).state == CONFIRMED


async def test_confirm_of_a_half_placed_order_names_the_missing_line_and_changes_nothing(env):
    app, stubs, url, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await placed_up_to_first_part(app, a, b, "o-1")
    before = await snapshot(app, url, is_cluster(app))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await confirm(stubs, "o-1")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{b} x1" in info.value.details() and f"{a} x1" not in info.value.details()
    assert await snapshot(app, url, is_cluster(app)) == before
    assert (await levels(stubs, a))["W1"].confirmed == 0


async def test_confirm_with_a_later_part_released_confirms_nothing(env):
    app, stubs, url, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await reserve(stubs, order("o-1", line(a), line(b)))
    # The later part is gone (as if expired and swept a sweep earlier than the first).
    await app.store.release(keys.shard_of(b, SHARDS), "jd:o-1")
    before = await snapshot(app, url, is_cluster(app))
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await confirm(stubs, "o-1")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"{b} x1 (RELEASED)" in info.value.details()
    assert await snapshot(app, url, is_cluster(app)) == before
    assert "CONFIRMED" not in {t for t, _ in await stream_events(app, a)}
    # A read settles it: the first part is given back at once.
    assert (await get(stubs, "o-1")).state == RELEASED
    assert (await levels(stubs, a))["W1"].held == 0


async def test_a_confirmer_killed_after_locking_one_part_is_unlocked_by_recovery(env):
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await reserve(stubs, order("o-1", line(a), line(b)))
    ref = "jd:o-1"
    phase, attempt = await app.store.phase(ref, "attempt", LEASE_MS)
    assert phase == "HELD"
    assert (await app.store.lock(keys.shard_of(a, SHARDS), ref, attempt)).code == "OK"
    await past(now_ms() + LEASE_MS)  # the lease taken before now has run out
    await app.recovery.run_once()
    part_a = await app.store.get(keys.shard_of(a, SHARDS), ref)
    assert part_a.state == "RESERVED" and part_a.locked_by == ""
    # The dead attempt can no longer commit; a new Confirm confirms the order whole.
    assert (await app.store.phase(ref, "commit", attempt))[0] == "HELD"
    assert (await confirm(stubs, "o-1")).state == CONFIRMED
    for sku in (a, b):
        assert (await levels(stubs, sku))["W1"].confirmed == 1


async def test_a_confirmer_killed_after_its_commit_is_finished_by_recovery(env):
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await reserve(stubs, order("o-1", line(a), line(b)))
    ref = "jd:o-1"
    _, attempt = await app.store.phase(ref, "attempt", LEASE_MS)
    for sku in (a, b):
        assert (await app.store.lock(keys.shard_of(sku, SHARDS), ref, attempt)).code == "OK"
    assert (await app.store.phase(ref, "commit", attempt))[0] == "CONFIRMED"
    # Killed here: no part confirmed yet, and none may expire or be released now.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await release(stubs, "o-1")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await past(now_ms() + LEASE_MS)  # the lease taken before now has run out
    await app.recovery.run_once()
    for sku in (a, b):
        assert (await levels(stubs, sku))["W1"].confirmed == 1
        assert [t for t, _ in await stream_events(app, sku)].count("CONFIRMED") == 1
    assert (await get(stubs, "o-1")).state == CONFIRMED


async def test_release_then_confirm_is_refused_and_release_is_whole(env):
    _app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await reserve(stubs, order("o-1", line(a), line(b)))
    assert (await release(stubs, "o-1")).state == RELEASED
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await confirm(stubs, "o-1")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    for sku in (a, b):
        lv = (await levels(stubs, sku))["W1"]
        assert (lv.held, lv.confirmed, lv.available) == (0, 0, 5)


async def test_confirm_twice_and_concurrently_confirms_once(env):
    app, stubs, _, a, b = env
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await reserve(stubs, order("o-1", line(a), line(b)))
    results = await asyncio.gather(*(stubs.rs.Confirm(rpb.ConfirmRequest(
        channel="jd", order_id="o-1"), timeout=10) for _ in range(5)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert ok, results
    for r in results:  # the others may only be told to retry
        if isinstance(r, grpc.aio.AioRpcError):
            assert r.code() == grpc.StatusCode.UNAVAILABLE, r.details()
    assert (await confirm(stubs, "o-1")).state == CONFIRMED
    for sku in (a, b):
        assert (await levels(stubs, sku))["W1"].confirmed == 1
        assert [t for t, _ in await stream_events(app, sku)].count("CONFIRMED") == 1
