"""Confirm, release and expiry of holds, and the sweeper running in several replicas."""

from __future__ import annotations

import asyncio

import grpc
import pytest
import redis.asyncio as aioredis

from reservation.server.app import start_app
from reservation.storage import keys
from tests.helpers.reservations import (
    CONFIRMED,
    EXPIRED,
    RELEASED,
    RESERVED,
    assert_invariant,
    confirm,
    get,
    levels,
    line,
    load,
    order,
    release,
    reserve,
    wait_for_state,
)
from tests.helpers.server import Stubs, test_settings
from tests.helpers.waiting import past


async def test_confirm_makes_the_hold_permanent(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 2)))
    r = await confirm(stubs, "o1")
    assert r.state == CONFIRMED and not r.HasField("expires_at")
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held, lv.confirmed) == (3, 0, 2)
    assert (await confirm(stubs, "o1")).state == CONFIRMED  # idempotent


async def test_release_returns_the_units(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 2)))
    assert (await release(stubs, "o1")).state == RELEASED
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held) == (5, 0)
    assert (await release(stubs, "o1")).state == RELEASED  # idempotent, nothing moves twice
    assert (await levels(stubs, "A"))["W1"].available == 5


async def test_unconfirmed_hold_expires_and_its_units_return(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 2), hold_ttl_ms=300))
    r = await wait_for_state(stubs, "o1", EXPIRED)
    assert r.state == EXPIRED
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held) == (5, 0)


async def test_confirm_after_expiry_is_refused_and_changes_nothing(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 2), hold_ttl_ms=200))
    await wait_for_state(stubs, "o1", EXPIRED)
    before = await levels(stubs, "A")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await confirm(stubs, "o1")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "EXPIRED" in err.value.details()
    assert await levels(stubs, "A") == before


@pytest.mark.parametrize("settings_overrides", [{"sweep_interval_ms": 60_000}])
async def test_confirm_past_expiry_is_refused_even_before_the_sweeper_ran(stubs):
    await load(stubs, ("A", "W1", 5))
    held = await reserve(stubs, order("o1", line("A", 1), hold_ttl_ms=100))
    await past(held.expires_at.ToMilliseconds())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await confirm(stubs, "o1")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.held, lv.confirmed) == (1, 0)


async def test_confirm_after_release_is_refused(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 1)))
    await release(stubs, "o1")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await confirm(stubs, "o1")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_release_after_confirm_is_refused_and_changes_nothing(stubs):
    await load(stubs, ("A", "W1", 5))
    await reserve(stubs, order("o1", line("A", 1)))
    await confirm(stubs, "o1")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await release(stubs, "o1")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await levels(stubs, "A"))["W1"].confirmed == 1


async def test_unknown_order_is_not_found(stubs):
    for call in (get, confirm, release):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call(stubs, "never-sent")
        assert err.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.slow
async def test_expiry_sweepers_in_three_replicas_expire_each_hold_once(redis_url):
    apps = [await start_app(test_settings(redis_url, sweep_interval_ms=10)) for _ in range(3)]
    try:
        async with grpc.aio.insecure_channel(apps[0].target) as channel:
            stubs = Stubs(channel)
            await load(stubs, ("A", "W1", 200), ("A", "W2", 200))
            await asyncio.gather(*(reserve(stubs, order(f"o{i}", line("A", 2), hold_ttl_ms=200))
                                   for i in range(150)))
            for i in range(150):
                await wait_for_state(stubs, f"o{i}", EXPIRED)
            by_wh = await levels(stubs, "A")
            assert_invariant(by_wh)
            assert sum(lv.available for lv in by_wh.values()) == 400
            assert sum(lv.held for lv in by_wh.values()) == 0
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        expired = 0
        for shard in range(apps[0].settings.shards):
            for _, fields in await client.xrange(keys.write_back(shard)):
                expired += fields["t"] == "EXPIRED"
        await client.aclose()
        # Each hold has exactly one allocation here, so one EXPIRED event per hold.
        assert expired == 150
    finally:
        for app in apps:
            await app.stop(grace=0)


async def test_get_reservation_shows_the_current_state(stubs):
    await load(stubs, ("A", "W1", 5))
    r = await reserve(stubs, order("o1", line("A", 2), buyer="b-7"))
    seen = await get(stubs, "o1")
    assert (seen.state, seen.reservation_id, seen.buyer_id) == (RESERVED, r.reservation_id, "b-7")
    assert [(ln.sku, ln.quantity) for ln in seen.lines] == [("A", 2)]
    assert seen.allocations == r.allocations


async def test_a_multi_shard_order_with_one_part_expired_releases_its_other_parts(stubs):
    from tests.helpers.shards import skus_in_different_shards

    a, b = skus_in_different_shards(2)
    await load(stubs, (a, "W1", 5), (b, "W1", 5))
    await reserve(stubs, order("o1", line(a), line(b), hold_ttl_ms=200))
    r = await wait_for_state(stubs, "o1", EXPIRED)
    assert r.state == EXPIRED
    # Whatever the sweeper had reached, reading the order settled every part.
    for sku in (a, b):
        lv = (await levels(stubs, sku))["W1"]
        assert (lv.available, lv.held) == (5, 0)
