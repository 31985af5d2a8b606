"""Orders whose lines sit in several shards: the other shards' holds are a saga around
the anchor script (made first, released again if the anchor's stock is refused)."""

from __future__ import annotations

import asyncio

import pytest

from reservation.storage import keys
from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, get_order, sync
from tests.helpers.reservations import counters, levels, load

SHARDS = 64


def two_skus_in_two_shards() -> tuple[str, str]:
    first = "MS-A"
    for i in range(1000):
        other = f"MS-B{i}"
        if keys.shard_of(other, SHARDS) != keys.shard_of(first, SHARDS):
            return first, other
    raise AssertionError("no SKU in another shard")


A, B = two_skus_in_two_shards()


@pytest.fixture
async def stocked(stubs) -> None:
    await load(stubs, (A, "WH-A", 5), (B, "WH-A", 2))


async def test_a_two_shard_order_is_confirmed_then_released_in_both_shards(hub, stubs, stocked):
    await sync(hub, channel_order("M1", "PAID", (A, 1), (B, 1), modified_s=1000))
    paid = (counters(await levels(stubs, A)), counters(await levels(stubs, B)))

    [r] = await sync(hub, channel_order("M1", "CANCELLED", (A, 1), (B, 1), modified_s=1001))

    assert paid == ({"WH-A": (4, 0, 1)}, {"WH-A": (1, 0, 1)})
    assert r.state == "CANCELLED"
    assert counters(await levels(stubs, A)) == {"WH-A": (5, 0, 0)}
    assert counters(await levels(stubs, B)) == {"WH-A": (2, 0, 0)}


async def test_a_refused_part_releases_the_parts_already_held(hub, stubs, stocked):
    [r] = await sync(hub, channel_order("M2", "PAID", (A, 1), (B, 9)))

    order = await get_order(hub, "M2")
    assert (r.outcome, r.state) == (opb.SYNC_OUTCOME_ON_HOLD, "ON_HOLD")
    assert r.stock_reason.endswith(B)
    assert order.review[-1].startswith("stock refused")
    assert counters(await levels(stubs, A)) == {"WH-A": (5, 0, 0)}
    assert counters(await levels(stubs, B)) == {"WH-A": (2, 0, 0)}


async def test_a_gift_from_another_shard_travels_with_its_parent(hub, stubs, stocked):
    gift = opb.OrderItem(sku=B, quantity=1, gift_of="M3")
    await sync(hub, channel_order("M3", "PENDING_PAYMENT", (A, 1), gift, modified_s=1000))
    held = counters(await levels(stubs, B))

    await sync(hub, channel_order("M3", "CANCELLED", (A, 1), gift, modified_s=1001))

    assert held == {"WH-A": (1, 1, 0)}
    assert counters(await levels(stubs, B)) == {"WH-A": (2, 0, 0)}


async def test_a_refused_anchor_releases_the_other_shards_hold(hub, stubs, stocked):
    # The first line's shard is the anchor: its part is tried last, after A's is held.
    [r] = await sync(hub, channel_order("M4", "PAID", (B, 9), (A, 1)))

    assert r.state == "ON_HOLD"
    assert counters(await levels(stubs, A)) == {"WH-A": (5, 0, 0)}
    assert counters(await levels(stubs, B)) == {"WH-A": (2, 0, 0)}


async def test_racing_syncs_of_a_two_shard_order_leave_no_hold_behind(hub, stubs):
    """Found by the model (test_model.py): a writer that made the other shard's hold,
    then lost the anchor's version race, left that hold confirmed under a document that
    another writer wrote; its units were sold to nobody."""
    await load(stubs, (A, "WH-A", 1), (B, "WH-A", 50))
    await sync(hub, channel_order("M8", "PAID", (A, 1), phone="13700000001"))
    states = ["DELIVERED", "SHIPPED", "REFUND_REQUESTED", "REFUNDED"]

    # 60 rounds: the race must happen for the test to bite, and on a quiet machine 15
    # rounds sometimes saw none (the mutant orderhub_conflict_keeps_parts survived).
    for k in range(60):
        await asyncio.gather(*(hub.SyncOrders(opb.SyncOrdersRequest(orders=[channel_order(
            f"MR{k}", s, (A, 1), (B, 1), modified_s=1000 + i, detail=f"{i} Race Rd")]),
            timeout=20) for i, s in enumerate(states)))

    assert counters(await levels(stubs, B)) == {"WH-A": (50, 0, 0)}


async def test_a_stale_plan_never_gives_back_the_other_shards_units(hub, stubs):
    """Found by the model: writers of one two-shard order racing. One planned from a read
    where the order did not exist yet (first seen CANCELLED: give back) and released the
    other shard's part, confirmed meanwhile by the writer that created the order; its
    anchor script then lost the version race, but the part stayed released. Writers of
    a multi-shard order now go one at a time."""
    await load(stubs, (A, "WH-A", 50), (B, "WH-A", 50))
    states = [("REFUND_REQUESTED", 0), ("ALLOCATED", 1), ("CANCELLED", 2),
              ("REFUND_REQUESTED", 3)]

    for k in range(15):
        await asyncio.gather(*(hub.SyncOrders(opb.SyncOrdersRequest(orders=[channel_order(
            f"MS{k}", s, (A, 1), (B, 1), modified_s=1000 + i,
            detail=f"{i} Race Rd")]), timeout=20) for s, i in states))

    sold = [(await get_order(hub, f"MS{k}")).state for k in range(15)]
    kept = sum(s != "CANCELLED" for s in sold)
    assert counters(await levels(stubs, A)) == {"WH-A": (50 - kept, 0, kept)}
    assert counters(await levels(stubs, B)) == {"WH-A": (50 - kept, 0, kept)}
