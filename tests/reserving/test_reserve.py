"""Reserve: allocation, splitting across warehouses, rejections, all-or-nothing, idempotency."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from reservation.v1 import types_pb2 as pb
from tests.helpers.reservations import (
    REJECTED,
    RESERVED,
    allocations,
    assert_invariant,
    confirm,
    get,
    levels,
    line,
    load,
    order,
    reserve,
)
from tests.helpers.shards import skus_in_different_shards, skus_in_shard_order


@pytest.fixture(params=[True, False], ids=["functions", "evalsha"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Every test here runs twice: scripts as Redis Functions, and as EVALSHA (the path
    Redis 6.2 and Cluster take): both must answer alike (see storage/test_functions.py)."""
    return {"redis_functions": request.param}


async def test_reserve_holds_units_and_reports_where_they_came_from(stubs):
    await load(stubs, ("A", "W1", 10))
    r = await reserve(stubs, order("o1", line("A", 3)))
    assert r.state == RESERVED
    assert allocations(r) == [("A", "W1", 3)]
    assert r.expires_at.seconds > 0 and r.reservation_id
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held, lv.loaded) == (7, 3, 10)


async def test_line_without_warehouse_splits_across_warehouses_in_priority_order(stubs):
    await load(stubs, ("A", "W2", 2), ("A", "W1", 2), ("A", "W3", 5))
    r = await reserve(stubs, order("o1", line("A", 5)))
    assert allocations(r) == [("A", "W1", 2), ("A", "W2", 2), ("A", "W3", 1)]


async def test_line_naming_a_warehouse_takes_only_from_it(stubs):
    await load(stubs, ("A", "W1", 5), ("A", "W2", 1))
    r = await reserve(stubs, order("o1", line("A", 2, "W2")))
    assert r.state == REJECTED and r.reject_reason == pb.REJECT_REASON_SOLD_OUT
    r = await reserve(stubs, order("o2", line("A", 1, "W2")))
    assert allocations(r) == [("A", "W2", 1)]


async def test_unknown_sku_and_unknown_warehouse_are_rejected_unknown_sku(stubs):
    await load(stubs, ("A", "W1", 5))
    r = await reserve(stubs, order("o1", line("NOPE")))
    assert (r.state, r.reject_reason, r.failed_sku) == (REJECTED, pb.REJECT_REASON_UNKNOWN_SKU,
                                                        "NOPE")
    r = await reserve(stubs, order("o2", line("A", 1, "W9")))
    assert r.reject_reason == pb.REJECT_REASON_UNKNOWN_SKU


async def test_sold_out_when_nothing_held_insufficient_when_units_may_return(stubs):
    await load(stubs, ("A", "W1", 1))
    assert (await reserve(stubs, order("o1", line("A")))).state == RESERVED
    r = await reserve(stubs, order("o2", line("A")))
    assert r.reject_reason == pb.REJECT_REASON_INSUFFICIENT_STOCK and r.failed_sku == "A"
    await confirm(stubs, "o1")
    r = await reserve(stubs, order("o3", line("A")))
    assert r.reject_reason == pb.REJECT_REASON_SOLD_OUT


async def test_multi_line_order_in_one_shard_is_all_or_nothing(stubs):
    await load(stubs, ("A", "W1", 5))
    r = await reserve(stubs, order("o1", line("A", 3), line("A", 3)))
    assert r.state == REJECTED
    assert (await levels(stubs, "A"))["W1"].available == 5


async def test_multi_shard_order_releases_held_lines_when_a_later_line_fails(stubs):
    a, b, c = skus_in_different_shards(3)
    await load(stubs, (a, "W1", 5), (b, "W1", 5), (c, "W1", 1))
    r = await reserve(stubs, order("o1", line(a, 2), line(b, 2), line(c, 2)))
    assert (r.state, r.failed_sku) == (REJECTED, c)
    assert r.reject_reason == pb.REJECT_REASON_SOLD_OUT
    assert not r.allocations
    for sku, total in ((a, 5), (b, 5), (c, 1)):
        lv = (await levels(stubs, sku))["W1"]
        assert (lv.available, lv.held) == (total, 0)
    again = await reserve(stubs, order("o1", line(a, 2), line(b, 2), line(c, 2)))
    assert (again.state, again.failed_sku, again.reservation_id) == (REJECTED, c, r.reservation_id)


async def test_all_or_nothing_rolls_back_earlier_shards_when_the_last_shard_refuses(stubs):
    # The refusing line sits in the highest shard, so it is tried last: the parts of the
    # two lower shards are held first and must be given back.
    low, mid, high = skus_in_shard_order(3)
    await load(stubs, (low, "W1", 5), (mid, "W1", 5), (high, "W1", 1))
    req = order("o1", line(high, 2), line(low, 2), line(mid, 2))
    r = await reserve(stubs, req)
    assert (r.state, r.failed_sku, list(r.allocations)) == (REJECTED, high, [])
    for sku, total in ((low, 5), (mid, 5), (high, 1)):
        lv = (await levels(stubs, sku))["W1"]
        assert (lv.available, lv.held) == (total, 0), sku
    assert (await get(stubs, "o1")).state == REJECTED
    assert (await reserve(stubs, req)).reservation_id == r.reservation_id


async def test_idempotency_key_a_resent_order_holds_nothing_more(stubs):
    await load(stubs, ("A", "W1", 10))
    first = await reserve(stubs, order("o1", line("A", 2)))
    again = await reserve(stubs, order("o1", line("A", 2)))
    assert (again.reservation_id, allocations(again)) == (first.reservation_id, allocations(first))
    lv = (await levels(stubs, "A"))["W1"]
    assert (lv.available, lv.held) == (8, 2)


async def test_multi_shard_order_holds_every_line(stubs):
    a, b = skus_in_different_shards(2)
    await load(stubs, (a, "W1", 5), (b, "W2", 5))
    r = await reserve(stubs, order("o1", line(a, 2), line(b, 3)))
    assert r.state == RESERVED
    assert sorted(allocations(r)) == sorted([(a, "W1", 2), (b, "W2", 3)])
    assert (await get(stubs, "o1")).state == RESERVED


async def test_concurrent_copies_of_one_request_hold_once_and_answer_alike(stubs):
    a, b = skus_in_different_shards(2)
    await load(stubs, (a, "W1", 100), (b, "W1", 100))
    req = order("dup", line(a, 2), line(b, 1))
    answers = await asyncio.gather(*(reserve(stubs, req) for _ in range(50)))
    assert {r.reservation_id for r in answers} == {answers[0].reservation_id}
    assert {r.state for r in answers} == {RESERVED}
    assert {tuple(allocations(r)) for r in answers} == {tuple(allocations(answers[0]))}
    assert (await levels(stubs, a))["W1"].held == 2
    assert (await levels(stubs, b))["W1"].held == 1


async def test_rejected_request_sent_again_gets_the_same_rejection(stubs):
    await load(stubs, ("A", "W1", 1))
    first = await reserve(stubs, order("o1", line("A", 5)))
    await load(stubs, ("A", "W1", 10))
    again = await reserve(stubs, order("o1", line("A", 5)))
    assert (again.state, again.reject_reason) == (first.state, first.reject_reason)
    assert (await levels(stubs, "A"))["W1"].held == 0


async def test_same_key_with_different_lines_is_refused_naming_the_key(stubs, redis_url):
    await load(stubs, ("A", "W1", 10), ("B", "W1", 10))
    await reserve(stubs, order("o1", line("A", 1)))
    before = {sku: await levels(stubs, sku) for sku in ("A", "B")}
    for other in (order("o1", line("A", 2)), order("o1", line("B", 1)),
                  order("o1", line("A", 1), buyer="someone-else")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await reserve(stubs, other)
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert "jd:o1" in err.value.details()
    assert {sku: await levels(stubs, sku) for sku in ("A", "B")} == before


async def test_counters_hold_the_invariant_after_mixed_traffic(stubs):
    await load(stubs, ("A", "W1", 3), ("A", "W2", 3))
    for i in range(8):
        await reserve(stubs, order(f"o{i}", line("A", 1)))
    assert_invariant(await levels(stubs, "A"))
