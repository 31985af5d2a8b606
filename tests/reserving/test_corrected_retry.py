"""An order rejected for a typo'd SKU (or sold out) can be sent again at once, corrected,
under the same key (channel, order_id); a real duplicate of a held order is still
answered as recorded, and another request under a held order's key is ALREADY_EXISTS."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from reservation.domain.shards import shard_of
from reservation.v1 import reservation_service_pb2 as rpb
from tests.helpers.reservations import (
    REJECTED,
    RESERVED,
    assert_invariant,
    confirm,
    levels,
    line,
    load,
    order,
    reserve,
)
from tests.helpers.shards import two_skus

SHARDS = 64


async def test_a_typo_rejected_order_is_retried_with_the_fix_at_once(stubs):
    await load(stubs, ("PHONE-X", "W1", 5))
    typo = await reserve(stubs, order("o-1", line("PHNOE-X")))
    assert (typo.state, typo.failed_sku) == (REJECTED, "PHNOE-X")
    fixed = await reserve(stubs, order("o-1", line("PHONE-X")))
    assert fixed.state == RESERVED
    assert fixed.reservation_id != typo.reservation_id
    # The fixed one is what the key names now: a duplicate is answered as recorded...
    again = await reserve(stubs, order("o-1", line("PHONE-X")))
    assert (again.state, again.reservation_id) == (RESERVED, fixed.reservation_id)
    assert (await levels(stubs, "PHONE-X"))["W1"].held == 1
    # ...and the typo'd one, sent late, is another request under a held key.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await reserve(stubs, order("o-1", line("PHNOE-X")))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await confirm(stubs, "o-1")).reservation_id == fixed.reservation_id


async def test_an_order_rejected_sold_out_may_come_back_with_other_lines(stubs):
    await load(stubs, ("A", "W1", 1), ("B", "W1", 2))
    await reserve(stubs, order("o-1", line("A")))
    sold_out = await reserve(stubs, order("o-2", line("A"), buyer="b2"))
    assert sold_out.state == REJECTED
    other = await reserve(stubs, order("o-2", line("B", 2), buyer="b2"))
    assert other.state == RESERVED
    assert_invariant(await levels(stubs, "A"))
    assert_invariant(await levels(stubs, "B"))


async def test_a_held_order_is_never_replaced(stubs):
    await load(stubs, ("A", "W1", 5))
    held = await reserve(stubs, order("o-1", line("A")))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await reserve(stubs, order("o-1", line("A", 2)))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await levels(stubs, "A"))["W1"].held == 1
    assert (await reserve(stubs, order("o-1", line("A")))).reservation_id == \
        held.reservation_id


async def test_a_corrected_order_in_the_same_shard_replaces_the_rejected_record(stubs):
    # Both SKUs live in one shard: the rejected record sits where the fix is reserved.
    base = "SAME-0"
    twin = next(f"SAME-{i}" for i in range(1, 10_000)
                if shard_of(f"SAME-{i}", SHARDS) == shard_of(base, SHARDS))
    await load(stubs, (base, "W1", 3))
    assert (await reserve(stubs, order("o-1", line(twin)))).state == REJECTED
    assert (await reserve(stubs, order("o-1", line(base)))).state == RESERVED
    assert (await levels(stubs, base))["W1"].held == 1


async def test_concurrent_corrected_copies_hold_once(stubs):
    await load(stubs, ("A", "W1", 5))
    assert (await reserve(stubs, order("o-1", line("TYPO")))).state == REJECTED
    copies = await asyncio.gather(*(reserve(stubs, order("o-1", line("A", 2)))
                                    for _ in range(8)))
    assert {c.state for c in copies} == {RESERVED}
    assert len({c.reservation_id for c in copies}) == 1
    assert (await levels(stubs, "A"))["W1"].held == 2


async def test_a_rejected_multi_shard_order_is_retried_with_the_fix(stubs):
    a, b = two_skus()
    await load(stubs, (a, "W1", 2), (b, "W1", 2))
    typo = await reserve(stubs, order("o-1", line(a), line(b + "X")))
    assert typo.state == REJECTED
    fixed = await reserve(stubs, order("o-1", line(a), line(b)))
    assert fixed.state == RESERVED
    assert (await levels(stubs, a))["W1"].held == 1
    assert (await levels(stubs, b))["W1"].held == 1
    got = await stubs.rs.GetReservation(rpb.GetReservationRequest(channel="jd",
                                                                  order_id="o-1"))
    assert got.reservation.reservation_id == fixed.reservation_id
