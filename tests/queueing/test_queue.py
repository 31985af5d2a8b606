"""The overflow retry queue: FIFO handoff of returned units, deadlines, dead letters,
SOLD_OUT drain, bounds, idempotency, WatchReservation — against real Redis."""

from __future__ import annotations

import asyncio
import random

import grpc
import pytest

from reservation.server.app import start_app
from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import (
    CONFIRMED,
    DEAD_LETTERED,
    EXPIRED,
    QUEUED,
    REJECTED,
    RELEASED,
    RESERVED,
    allocations,
    assert_invariant,
    confirm,
    get,
    levels,
    line,
    load,
    order,
    release,
    reserve,
    settled_orders,
    wait_for_state,
)
from tests.helpers.server import Stubs, test_settings
from tests.helpers.waiting import wait_until
from tests.helpers.writeback import replay_write_back


def queued(order_id: str, *lines: pb.OrderLine, **kw) -> rpb.ReserveRequest:
    return order(order_id, *lines, allow_queue=True, **kw)


def same_shard_skus(n: int, shards: int = 64) -> list[str]:
    by_shard: dict[int, list[str]] = {}
    i = 0
    while True:
        sku = f"Q-{i}"
        group = by_shard.setdefault(keys.shard_of(sku, shards), [])
        group.append(sku)
        if len(group) == n:
            return group
        i += 1


async def depth(stubs, sku: str) -> int:
    return (await stubs.rs.GetStock(rpb.GetStockRequest(sku=sku))).queue_depth


async def test_order_finding_units_held_waits_in_line_and_holds_nothing(stubs):
    await load(stubs, ("A", "W1", 2))
    await reserve(stubs, order("holder", line("A", 2)))
    first = await reserve(stubs, queued("q1", line("A")))
    second = await reserve(stubs, queued("q2", line("A")))
    assert (first.state, first.queue_position) == (QUEUED, 1)
    assert (second.state, second.queue_position) == (QUEUED, 2)
    assert not first.allocations
    assert (await levels(stubs, "A"))["W1"].held == 2
    assert await depth(stubs, "A") == 2


async def test_without_allow_queue_the_answer_stays_insufficient_stock(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    r = await reserve(stubs, order("o1", line("A")))
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_INSUFFICIENT_STOCK)


async def test_nothing_held_means_sold_out_queue_or_not(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await confirm(stubs, "holder")
    r = await reserve(stubs, queued("o1", line("A")))
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_SOLD_OUT)


async def test_released_units_go_to_the_queue_head_in_the_same_step(stubs, redis_url):
    await load(stubs, ("A", "W1", 2))
    await reserve(stubs, order("holder", line("A", 2)))
    await reserve(stubs, queued("q1", line("A")))
    await reserve(stubs, queued("q2", line("A")))
    await reserve(stubs, queued("q3", line("A")))
    await release(stubs, "holder")
    # No waiting: the release script itself handed the units over.
    assert [(await get(stubs, o)).state for o in ("q1", "q2", "q3")] == [
        RESERVED, RESERVED, QUEUED]
    assert (await get(stubs, "q3")).queue_position == 1
    served = await get(stubs, "q1")
    assert allocations(served) == [("A", "W1", 1)] and served.expires_at.seconds > 0
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held) == (0, 2)
    ledger = await replay_write_back(redis_url, 64)
    assert ledger[("A", "W1")]["h"] == 2


async def test_expired_units_go_to_the_queue_head_with_a_fresh_hold(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A"), hold_ttl_ms=200))
    await reserve(stubs, queued("q1", line("A"), hold_ttl_ms=60_000))
    served = await wait_for_state(stubs, "q1", RESERVED)
    assert (await get(stubs, "holder")).state == EXPIRED
    holder_expiry = (await get(stubs, "holder")).expires_at.ToMilliseconds()
    assert served.expires_at.ToMilliseconds() > holder_expiry + 30_000


async def test_a_larger_head_keeps_its_place_and_smaller_orders_do_not_overtake(stubs):
    await load(stubs, ("A", "W1", 3))
    await reserve(stubs, order("h1", line("A", 1)))
    await reserve(stubs, order("h2", line("A", 2)))
    await reserve(stubs, queued("big", line("A", 2)))
    await reserve(stubs, queued("small", line("A", 1)))
    await release(stubs, "h1")  # one unit back: not enough for the head
    assert (await get(stubs, "big")).state == QUEUED
    small = await get(stubs, "small")
    assert (small.state, small.queue_position) == (QUEUED, 2)
    assert (await levels(stubs, "A"))["W1"].available == 1
    await release(stubs, "h2")
    assert (await get(stubs, "big")).state == RESERVED
    assert (await get(stubs, "small")).state == RESERVED


async def test_fifo_serves_arrival_order_not_order_id_buyer_or_size_order(stubs):
    # Arrival X, Y, Z differs from every other order a queue could fall back on:
    # by order id Y (q1) < Z (q2) < X (q3); by buyer Z < X < Y; by size Y (1) < X (2) < Z (3).
    await load(stubs, ("A", "W1", 6))
    for holder, qty in (("h1", 2), ("h2", 1), ("h3", 3)):
        assert (await reserve(stubs, order(holder, line("A", qty)))).state == RESERVED
    arrivals = [("q3", "buyer-b", 2), ("q1", "buyer-c", 1), ("q2", "buyer-a", 3)]
    for oid, buyer, qty in arrivals:
        assert (await reserve(stubs, queued(oid, line("A", qty), buyer=buyer))).state == QUEUED
    assert [(await get(stubs, oid)).queue_position for oid, _, _ in arrivals] == [1, 2, 3]

    await release(stubs, "h1")  # 2 units back: exactly the first arrival's size
    assert [(await get(stubs, oid)).state for oid, _, _ in arrivals] == [RESERVED, QUEUED, QUEUED]
    assert [(await get(stubs, oid)).queue_position for oid in ("q1", "q2")] == [1, 2]
    await release(stubs, "h2")
    assert [(await get(stubs, oid)).state for oid, _, _ in arrivals] == [RESERVED, RESERVED, QUEUED]
    await release(stubs, "h3")
    assert [(await get(stubs, oid)).state for oid, _, _ in arrivals] == [RESERVED] * 3
    assert_invariant(await levels(stubs, "A"))


async def test_a_multi_line_queued_order_gets_all_its_lines_or_none(stubs):
    s1, s2 = same_shard_skus(2)
    await load(stubs, (s1, "W1", 1), (s2, "W1", 1))
    await reserve(stubs, order("h1", line(s1)))
    await reserve(stubs, order("h2", line(s2)))
    await reserve(stubs, queued("both", line(s1), line(s2)))
    await reserve(stubs, queued("later", line(s1)))
    await release(stubs, "h1")
    assert (await get(stubs, "both")).state == QUEUED
    assert (await get(stubs, "later")).state == QUEUED  # FIFO: it waits behind "both"
    assert (await levels(stubs, s1))["W1"].held == 0
    await release(stubs, "h2")
    both = await get(stubs, "both")
    assert both.state == RESERVED
    assert sorted(allocations(both)) == sorted([(s1, "W1", 1), (s2, "W1", 1)])


async def test_an_order_spanning_shards_is_not_queued(stubs):
    a, b = ("A", next(s for s in (f"B{i}" for i in range(100))
                      if keys.shard_of(s, 64) != keys.shard_of("A", 64)))
    await load(stubs, (a, "W1", 1), (b, "W1", 1))
    await reserve(stubs, order("holder", line(a)))
    r = await reserve(stubs, queued("o1", line(a), line(b)))
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_INSUFFICIENT_STOCK)
    assert (await levels(stubs, b))["W1"].available == 1


async def test_top_up_serves_the_queue(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A", 3)))
    await load(stubs, ("A", "W1", 3))
    assert (await get(stubs, "q1")).state == RESERVED
    assert (await levels(stubs, "A"))["W1"].available == 0


async def test_when_the_last_hold_is_confirmed_the_queue_is_rejected_sold_out(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    await reserve(stubs, queued("q2", line("A")))
    await confirm(stubs, "holder")
    for oid in ("q1", "q2"):
        r = await get(stubs, oid)
        assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_SOLD_OUT)
    assert await depth(stubs, "A") == 0


@pytest.mark.parametrize("settings_overrides", [{"queue_bound": 2}])
async def test_past_the_bound_orders_are_rejected_queue_full(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    await reserve(stubs, queued("q2", line("A")))
    r = await reserve(stubs, queued("q3", line("A")))
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_QUEUE_FULL)
    assert await depth(stubs, "A") == 2


async def test_resending_a_queued_order_answers_its_place_and_adds_no_entry(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    first = await reserve(stubs, queued("q2", line("A")))
    copies = await asyncio.gather(*(reserve(stubs, queued("q2", line("A"))) for _ in range(20)))
    assert {(c.state, c.queue_position, c.reservation_id) for c in copies} == {
        (QUEUED, 2, first.reservation_id)}
    assert await depth(stubs, "A") == 2


async def test_releasing_a_queued_order_takes_it_out_of_line(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    await reserve(stubs, queued("q2", line("A")))
    assert (await release(stubs, "q1")).state == RELEASED
    assert (await get(stubs, "q2")).queue_position == 1
    await release(stubs, "holder")
    assert (await get(stubs, "q2")).state == RESERVED
    assert (await get(stubs, "q1")).state == RELEASED


@pytest.mark.parametrize("settings_overrides", [{"queue_deadline_ms": 300}])
async def test_an_order_waiting_past_its_deadline_is_dead_lettered(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    r = await wait_for_state(stubs, "q1", DEAD_LETTERED)
    assert r.queue_position == 0
    assert await depth(stubs, "A") == 0
    listed = (await stubs.admin.ListDeadLetters(apb.ListDeadLettersRequest())).reservations
    assert [(x.channel, x.order_id) for x in listed] == [("jd", "q1")]
    by_sku = (await stubs.admin.ListDeadLetters(apb.ListDeadLettersRequest(sku="A")))
    assert len(by_sku.reservations) == 1


@pytest.mark.parametrize("settings_overrides", [{"queue_deadline_ms": 300}])
async def test_a_requeued_dead_letter_goes_to_the_tail_and_can_be_served(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    await wait_for_state(stubs, "q1", DEAD_LETTERED)
    r = (await stubs.admin.RequeueDeadLetter(
        apb.RequeueDeadLetterRequest(channel="jd", order_id="q1"))).reservation
    assert (r.state, r.queue_position) == (QUEUED, 1)
    assert not (await stubs.admin.ListDeadLetters(apb.ListDeadLettersRequest())).reservations
    await release(stubs, "holder")
    assert (await get(stubs, "q1")).state == RESERVED


@pytest.mark.parametrize("settings_overrides", [{"queue_deadline_ms": 300}])
async def test_a_rejected_dead_letter_is_rejected_by_the_operator(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    await wait_for_state(stubs, "q1", DEAD_LETTERED)
    r = (await stubs.admin.RejectDeadLetter(
        apb.RejectDeadLetterRequest(channel="jd", order_id="q1"))).reservation
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_OPERATOR_REJECTED)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.admin.RejectDeadLetter(apb.RejectDeadLetterRequest(channel="jd",
                                                                       order_id="q1"))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_watch_sees_queued_then_reserved_then_confirmed_and_ends(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    seen: list[int] = []

    async def watch() -> None:
        stream = stubs.rs.WatchReservation(
            rpb.WatchReservationRequest(channel="jd", order_id="q1"), timeout=20)
        async for update in stream:
            seen.append(update.reservation.state)
            if update.reservation.state == RESERVED:
                await confirm(stubs, "q1")

    watcher = asyncio.create_task(watch())

    async def watched() -> list[int]:
        return list(seen)
    await wait_until(watched, lambda states: states == [QUEUED], "the watch's first update")
    await release(stubs, "holder")
    await asyncio.wait_for(watcher, 20)
    assert seen == [QUEUED, RESERVED, CONFIRMED]


@pytest.mark.parametrize("settings_overrides", [{"queue_deadline_ms": 300}])
async def test_watch_ends_when_the_order_is_dead_lettered(stubs):
    await load(stubs, ("A", "W1", 1))
    await reserve(stubs, order("holder", line("A")))
    await reserve(stubs, queued("q1", line("A")))
    stream = stubs.rs.WatchReservation(
        rpb.WatchReservationRequest(channel="jd", order_id="q1"), timeout=20)
    states = [u.reservation.state async for u in stream]
    assert states == [QUEUED, DEAD_LETTERED]


async def test_watching_an_unknown_order_is_not_found(stubs):
    stream = stubs.rs.WatchReservation(
        rpb.WatchReservationRequest(channel="jd", order_id="nope"), timeout=5)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stream:
            pass
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.slow
async def test_releases_expiries_retry_loops_and_new_orders_never_hand_a_unit_twice(
        redis_url):
    """Three replicas (three sweepers and retry loops) and a burst of traffic."""
    overrides = {"sweep_interval_ms": 20, "queue_retry_interval_ms": 30, "queue_deadline_ms": 1500}
    apps = [await start_app(test_settings(redis_url, **overrides)) for _ in range(3)]
    rng = random.Random(3)
    skus = same_shard_skus(2) + ["SOLO"]
    try:
        channels = [grpc.aio.insecure_channel(app.target) for app in apps]
        stubs = [Stubs(ch) for ch in channels]
        await load(stubs[0], *[(s, w, 6) for s in skus for w in ("W1", "W2")])

        first_answer: dict[str, int] = {}

        async def one(i: int) -> None:
            s = rng.choice(stubs)
            picked = rng.sample(skus, rng.choice((1, 1, 2)))
            r = await reserve(s, queued(f"o{i}", *[line(x, rng.randint(1, 3)) for x in picked],
                                        hold_ttl_ms=rng.choice((150, 300, 60_000))))
            first_answer[f"o{i}"] = r.state
            await asyncio.sleep(rng.random() * 0.3)
            if r.state in (RESERVED, QUEUED) and rng.random() < 0.5:
                await release(s, f"o{i}")
            elif r.state == RESERVED and rng.random() < 0.3:
                try:
                    await confirm(s, f"o{i}")
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION

        await asyncio.gather(*(one(i) for i in range(300)))
        # Every queued order settled and the short holds (<= 300 ms) expired and swept, so
        # that what the orders say and what the counters say come from one settled state.
        finals = await settled_orders(stubs[0], [f"o{i}" for i in range(300)])
        settled = {RESERVED, CONFIRMED, RELEASED, EXPIRED, REJECTED, DEAD_LETTERED}
        assert {r.state for r in finals} <= settled
        # The run did exercise the queue: orders that waited were later handed units.
        handed = [r for r in finals if first_answer[r.order_id] == QUEUED and r.allocations]
        assert len(handed) >= 5, len(handed)
        ledger = await replay_write_back(redis_url, 64)
        for sku in skus:
            by_wh = await levels(stubs[0], sku)
            assert_invariant(by_wh)
            held = {wh: 0 for wh in by_wh}
            for r in finals:
                for a in r.allocations:
                    if r.state == RESERVED and a.sku == sku:
                        held[a.warehouse_id] += a.quantity
            for wh, lv in by_wh.items():
                assert lv.held == held[wh], (sku, wh)  # no unit handed out twice
                replay = ledger[(sku, wh)]
                assert (replay["a"], replay["h"], replay["c"]) == (
                    lv.available, lv.held, lv.confirmed)
            assert await depth(stubs[0], sku) == 0
        for ch in channels:
            await ch.close()
    finally:
        for app in apps:
            await app.stop(grace=0)
