"""PullBatch / AckBatch over the shard streams: delivery, redelivery, dead letter, trimming."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from reservation.storage import keys
from reservation.v1 import write_back_service_pb2 as wpb
from tests.helpers.reservations import (
    EXPIRED,
    confirm,
    line,
    load,
    order,
    release,
    reserve,
    wait_for_state,
)
from tests.helpers.waiting import now_ms, past, wait_until
from tests.helpers.writeback import VISIBILITY_MS, pull_request

E = wpb.WriteBackEventType


async def pull_all(wb, consumer: str = "wms-1", ack: bool = True) -> list[wpb.WriteBackEvent]:
    """Pull until a pull comes back empty; acknowledge each batch unless told not to."""
    events: list[wpb.WriteBackEvent] = []
    while True:
        batch = await wb.PullBatch(pull_request(consumer), timeout=10)
        if not batch.events:
            return events
        events += batch.events
        if ack:
            await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id), timeout=10)



async def blocked_read(redis_url: str) -> None:
    """Return once a client of Redis waits in a blocking XREAD (a long poll's wait)."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await wait_until(client.client_list,
                         lambda clients: any(c["cmd"] == "xread" and "b" in c["flags"]
                                             for c in clients),
                         "a long poll blocked in XREAD")
    finally:
        await client.aclose()


async def stream_lengths(redis_url: str, shards: int) -> int:
    async with aioredis.Redis.from_url(redis_url) as r:
        return sum([await r.xlen(keys.write_back(s)) for s in range(shards)])


async def test_every_state_change_is_delivered_as_one_event(stubs, wb):
    await load(stubs, ("apple", "sh", 10))
    await reserve(stubs, order("o1", line("apple", 2)))
    await confirm(stubs, "o1")
    await reserve(stubs, order("o2", line("apple", 3)))
    await release(stubs, "o2")

    events = await pull_all(wb)

    assert [(e.type, e.sku, e.warehouse_id, e.quantity) for e in events] == [
        (E.WRITE_BACK_EVENT_TYPE_STOCK_LOADED, "apple", "sh", 10),
        (E.WRITE_BACK_EVENT_TYPE_HELD, "apple", "sh", 2),
        (E.WRITE_BACK_EVENT_TYPE_CONFIRMED, "apple", "sh", 2),
        (E.WRITE_BACK_EVENT_TYPE_HELD, "apple", "sh", 3),
        (E.WRITE_BACK_EVENT_TYPE_RELEASED, "apple", "sh", 3),
    ]
    assert [e.order_id for e in events[1:]] == ["o1", "o1", "o2", "o2"]
    assert all(e.delivery_count == 1 and e.occurred_at.seconds > 0 for e in events)
    assert len({e.event_id for e in events}) == 5


async def test_an_expiry_is_written_back_exactly_once(stubs, wb):
    await load(stubs, ("apple", "sh", 10))
    await reserve(stubs, order("o1", line("apple", 2), hold_ttl_ms=100))
    await wait_for_state(stubs, "o1", EXPIRED)

    events = await pull_all(wb)

    assert [(e.type, e.order_id, e.quantity) for e in events] == [
        (E.WRITE_BACK_EVENT_TYPE_STOCK_LOADED, "", 10),
        (E.WRITE_BACK_EVENT_TYPE_HELD, "o1", 2),
        (E.WRITE_BACK_EVENT_TYPE_EXPIRED, "o1", 2),
    ]


async def test_an_acknowledged_batch_is_not_delivered_again(stubs, wb):
    await load(stubs, ("apple", "sh", 10), ("pear", "bj", 5))
    first = await pull_all(wb)
    delivered_by = now_ms()

    # past the visibility timeout (tests/writeback/conftest.py): nothing may come back
    await past(delivered_by + VISIBILITY_MS)

    assert len(first) == 2
    assert await pull_all(wb) == []


async def test_an_empty_pull_has_no_batch_id(wb):
    batch = await wb.PullBatch(pull_request(wait_ms=50), timeout=10)
    assert batch.batch_id == "" and list(batch.events) == []


# No redelivery wanted here: on a loaded machine draining 30 events can outlast the
# module's 300 ms visibility timeout, and redelivered events would be counted twice.
@pytest.mark.parametrize("settings_overrides", [{"write_back_visibility_timeout_ms": 60_000}])
async def test_a_batch_holds_at_most_max_events(stubs, wb):
    await load(stubs, *[(f"sku-{i}", "sh", 1) for i in range(30)])

    sizes = []
    while batch := (await wb.PullBatch(pull_request(max_events=7), timeout=10)).events:
        sizes.append(len(batch))

    assert sum(sizes) == 30 and max(sizes) <= 7


async def test_long_poll_returns_the_event_that_arrives_while_waiting(stubs, wb, redis_url):
    waiting = asyncio.ensure_future(wb.PullBatch(pull_request(wait_ms=20_000), timeout=30))
    await blocked_read(redis_url)  # the pull is waiting in Redis: the event arrives after
    await load(stubs, ("apple", "sh", 4))

    batch = await waiting

    assert [(e.sku, e.quantity) for e in batch.events] == [("apple", 4)]


async def test_unacknowledged_events_are_redelivered_after_the_visibility_timeout(stubs, wb):
    await load(stubs, ("apple", "sh", 10), ("pear", "bj", 5))
    first = await wb.PullBatch(pull_request("wms-1"), timeout=10)

    # Long-poll: returns once the visibility timeout (300 ms here) has passed.
    again = await wb.PullBatch(pull_request("wms-2", wait_ms=5000), timeout=10)

    assert sorted(e.event_id for e in again.events) == sorted(e.event_id for e in first.events)
    assert {e.delivery_count for e in again.events} == {2}


@pytest.mark.slow
async def test_an_event_delivered_max_deliveries_times_goes_to_the_dead_letter(stubs, wb):
    await load(stubs, ("apple", "sh", 10))
    deliveries = []
    for _ in range(3):  # max_deliveries = 3 in these tests
        batch = await wb.PullBatch(pull_request(wait_ms=5000), timeout=10)
        deliveries.append([(e.event_id, e.delivery_count) for e in batch.events])
    event_id = deliveries[0][0][0]

    fourth = await wb.PullBatch(pull_request(wait_ms=1000), timeout=10)
    dead = await wb.ListWriteBackDeadLetters(wpb.ListWriteBackDeadLettersRequest(), timeout=10)
    stats = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(), timeout=10)

    assert deliveries == [[(event_id, 1)], [(event_id, 2)], [(event_id, 3)]]
    assert list(fourth.events) == []
    assert [(e.event_id, e.delivery_count, e.quantity) for e in dead.events] == [(event_id, 3, 10)]
    assert (stats.dead_lettered, stats.dead_lettered_total, stats.pending) == (1, 1, 0)


@pytest.mark.slow
async def test_a_replayed_dead_letter_is_delivered_again_under_its_event_id(stubs, wb):
    await load(stubs, ("apple", "sh", 10))
    for _ in range(4):  # three deliveries, then the dead letter
        await wb.PullBatch(pull_request(wait_ms=1000), timeout=10)
    [dead] = (await wb.ListWriteBackDeadLetters(wpb.ListWriteBackDeadLettersRequest())).events

    replay = await wb.ReplayWriteBackDeadLetters(
        wpb.ReplayWriteBackDeadLettersRequest(event_ids=[dead.event_id]), timeout=10)
    events = await pull_all(wb)
    left = await wb.ListWriteBackDeadLetters(wpb.ListWriteBackDeadLettersRequest())

    assert replay.replayed == 1
    assert [(e.event_id, e.delivery_count, e.quantity) for e in events] == [
        (dead.event_id, 1, 10)]
    assert list(left.events) == []


async def test_acknowledging_trims_the_streams_to_nothing(app, stubs, wb, redis_url):
    lengths = []
    for round_ in range(5):
        await load(stubs, *[(f"sku-{i}", "sh", round_ + 1) for i in range(40)])
        await pull_all(wb)
        lengths.append(await stream_lengths(redis_url, app.settings.shards))

    assert lengths == [0] * 5


async def test_unacknowledged_events_stay_in_the_stream_until_acknowledged(
        app, stubs, wb, redis_url):
    await load(stubs, *[(f"sku-{i}", "sh", 1) for i in range(10)])
    batch = await wb.PullBatch(pull_request(), timeout=10)
    before = await stream_lengths(redis_url, app.settings.shards)

    await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id), timeout=10)

    assert before == 10
    assert await stream_lengths(redis_url, app.settings.shards) == 0


async def test_stats_count_pending_undelivered_and_totals(stubs, wb):
    await load(stubs, *[(f"sku-{i}", "sh", 1) for i in range(6)])
    batch = await wb.PullBatch(pull_request(max_events=4), timeout=10)
    mid = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(), timeout=10)
    await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id), timeout=10)
    end = await wb.GetWriteBackStats(wpb.GetWriteBackStatsRequest(), timeout=10)

    assert (mid.pending, mid.undelivered, mid.delivered_total, mid.acknowledged_total) == (
        4, 2, 4, 0)
    assert (end.pending, end.undelivered, end.acknowledged_total) == (0, 2, 4)
