"""Eviction: a closed order past the hot window leaves Redis once the records store has
every one of its events, and reads the same before and after (every field); with the
follower stopped nothing leaves. Real Redis, the real server, SQLite and PostgreSQL;
time is moved through the evictor's clock, never waited for."""

from __future__ import annotations

import asyncio
import hashlib
import time

import grpc
import pytest

from reservation import clock
from reservation.records.eviction import Evictor
from reservation.records.store import Records
from reservation.server.app import App
from reservation.storage import keys
from reservation.storage import orders as order_keys
from reservation.storage.orders import EVICTED, EVICTED_GRACE_MS, order_ref
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, get_order, history, move, sync
from tests.helpers.records import (
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
from tests.helpers.waiting import wait_until

DAY_MS = 24 * 3600 * 1000
OPEN = [f"C{i:02d}" for i in range(N) if f"C{i:02d}" not in CLOSED]


def _evictor(app: App, days_later: float) -> Evictor:
    """An evictor whose clock reads `days_later` days from now."""
    return Evictor(hub_of(app), Records(engine_of(app)),
                   clock=lambda: clock.now_ms() + int(days_later * DAY_MS))


async def _in_redis(app: App, oid: str) -> bool:
    return await hub_of(app).orders.exists(order_ref(channel_of(oid), "shop-1", oid))


async def _snapshot(stub, oids: list[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """GetOrder, GetOrderHistory and FindOrders (by the buyer's phone) of each order."""
    return {oid: (await get_order(stub, oid, channel=channel_of(oid)),
                  await history(stub, oid, channel=channel_of(oid)),
                  list((await stub.FindOrders(opb.FindOrdersRequest(
                      phone=f"1380000{int(oid[1:]):04d}"), timeout=10)).orders))
            for oid in oids}


def _bucket(app: App, ref: str) -> str:
    """The ogone bucket an evicted order's locator lives in, stated on its own: 1024
    per shard, by the first four hex digits of the ref's SHA-1, in the ref's home shard."""
    n = int(hashlib.sha1(ref.encode()).hexdigest()[:4], 16) % 1024
    return f"{keys.prefix(keys.shard_of(ref, hub_of(app).settings.shards))}ogone:{n}"


async def _finders_of(app: App, ref: str) -> list[str]:
    """Every FindOrders index that lists the order."""
    client = hub_of(app).store.client
    return [name async for name in client.scan_iter(match="rsv:{*}:ofind:*")
            if await client.zscore(name, ref) is not None]


async def _resend(stub, oid: str) -> list[int]:  # type: ignore[no-untyped-def]
    """The order sent again by its channel, as new and as closed, and twice in one batch
    (the repeat goes one by one): the outcomes."""
    def again(state: str) -> opb.ChannelOrder:
        return channel_order(oid, state, ("SKU-1", 1), channel=channel_of(oid),
                             phone="13800000000", modified_s=int(time.time()))
    return [r.outcome for state in ("PENDING_PAYMENT", "CLOSED")
            for r in await sync(stub, again(state), again(state))]


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

    hub = hub_of(quiet_app)
    refs = {oid: order_ref(channel_of(oid), "shop-1", oid) for oid in CLOSED}
    shards = {oid: await hub.orders.locate(ref, None) for oid, ref in refs.items()}
    assert [oid for oid, ref in refs.items() if not await _finders_of(quiet_app, ref)] == []
    await _evictor(quiet_app, 8).evict_all()
    assert [oid for oid in oids if not await _in_redis(quiet_app, oid)] == CLOSED
    client = hub.store.client
    for oid, ref in refs.items():
        shard = shards[oid]
        assert shard is not None
        # What stays: the locator as a field of its bucket, until the locator's own
        # expiry; the record's version and gone mark for a day.
        assert await hub.orders.locate(ref, None) == EVICTED
        assert not await client.exists(order_keys.locator(ref, hub.settings.shards))
        assert (await client.hget(_bucket(quiet_app, ref), ref) or "").startswith(f"{shard}:")
        assert await client.hgetall(order_keys.record(shard, ref)) == {"v": "4", "gone": "1"}
        assert 0 < await client.pttl(order_keys.record(shard, ref)) <= EVICTED_GRACE_MS
        # What goes: document, history, index entry, the stock hold, FindOrders entries.
        assert not await client.exists(order_keys.history(shard, ref))
        assert await client.zscore(order_keys.index(shard), ref) is None
        assert not await client.exists(keys.hold(shard, ref))
        assert await _finders_of(quiet_app, ref) == []

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


async def _stays_as_it_was(app: App, stub, oid: str,  # type: ignore[no-untyped-def]
                           before: dict[str, object]) -> None:
    """A resend answers UNCHANGED and changes nothing; an operator's change is refused."""
    assert await _resend(stub, oid) == [opb.SYNC_OUTCOME_UNCHANGED] * 4
    assert not await _in_redis(app, oid)
    assert await _snapshot(stub, [oid]) == before
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await move(stub, oid, "PAID", channel=channel_of(oid))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "records store" in (e.value.details() or "")


async def test_an_evicted_order_resent_stays_as_it_was(quiet_app: App, order_stub) -> None:
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    await _evictor(quiet_app, 8).evict_all()
    first, second = CLOSED[0], CLOSED[1]
    before = await _snapshot(order_stub, [first, second])
    await _stays_as_it_was(quiet_app, order_stub, first, {first: before[first]})
    # A day later the record's version and gone mark are gone too (their TTL, cut
    # short here): the locator's field alone recognises the resend.
    hub = hub_of(quiet_app)
    ref = order_ref(channel_of(second), "shop-1", second)
    shard = keys.shard_of("SKU-1", hub.settings.shards)
    assert await hub.store.client.delete(order_keys.record(shard, ref)) == 1
    await _stays_as_it_was(quiet_app, order_stub, second, {second: before[second]})


# The previous release's eviction: the document, history and index entry out, the
# record kept as v + gone with its TTL, the locator string and the holds untouched.
_PREVIOUS_ARCHIVE = """
local v = redis.call('HGET', KEYS[1], 'v')
redis.call('HDEL', KEYS[1], 'doc')
redis.call('HSET', KEYS[1], 'v', tonumber(v) + 1, 'gone', '1')
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
"""


async def test_orders_evicted_by_the_previous_release_are_still_recognised(
        quiet_app: App, order_stub) -> None:
    """An upgrade keeps dedup of the orders the previous release evicted (it reads their
    record), and an eviction the previous release left halfway (not marked in the store)
    is finished in the new layout."""
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    hub = hub_of(quiet_app)
    client = hub.store.client
    old, halfway = CLOSED[0], CLOSED[1]
    before = await _snapshot(order_stub, [old, halfway])
    refs = {oid: order_ref(channel_of(oid), "shop-1", oid) for oid in (old, halfway)}
    shard = keys.shard_of("SKU-1", hub.settings.shards)
    for ref in refs.values():
        await client.eval(_PREVIOUS_ARCHIVE, 3, order_keys.record(shard, ref),  # type: ignore[misc]
                          order_keys.history(shard, ref), order_keys.index(shard), ref)
    await asyncio.to_thread(Records(engine_of(quiet_app)).mark_evicted, [refs[old]],
                            clock.now_ms())
    await _stays_as_it_was(quiet_app, order_stub, old, {old: before[old]})

    await _evictor(quiet_app, 8).evict_all()
    assert await hub.orders.locate(refs[old], None) == shard  # marked before: as it was
    assert await hub.orders.locate(refs[halfway], None) == EVICTED
    assert not await client.exists(keys.hold(shard, refs[halfway]))
    assert 0 < await client.pttl(order_keys.record(shard, refs[halfway])) <= EVICTED_GRACE_MS
    await _stays_as_it_was(quiet_app, order_stub, halfway, {halfway: before[halfway]})


async def test_an_evicted_orders_locator_lasts_as_long_as_it_would_have(
        quiet_app: App, order_stub) -> None:
    """The bucket field is due when the locator string would have expired: past it the
    order is not recognised any more (the channels' resend horizon), and the bucket
    drops a dead field the next time an order is evicted into it."""
    await closing_orders(order_stub)
    await follower_of(quiet_app).catch_up()
    hub = hub_of(quiet_app)
    client = hub.store.client
    short, other = (order_ref(channel_of(oid), "shop-1", oid) for oid in CLOSED[:2])
    await client.pexpire(order_keys.locator(short, hub.settings.shards), 5000)
    dead = "jd:shop-1/long-gone"
    await client.hset(_bucket(quiet_app, other), dead, "3:1")  # due at 1 ms past 1970
    await _evictor(quiet_app, 8).evict_all()
    assert [await hub.orders.locate(r, None) for r in (short, other)] == [EVICTED] * 2
    assert await client.hexists(_bucket(quiet_app, other), dead) is False
    await wait_until(lambda: hub.orders.locate(short, None), lambda s: s is None,
                     "the evicted order's locator due")
    await wait_until(lambda: client.hexists(_bucket(quiet_app, short), short),
                     lambda found: not found, "its field gone with its bucket")
