"""SyncOrders through the gRPC API against a real Redis: creation, the same payload
again, changes with their diff, stale updates, skipped steps, stock effects."""

from __future__ import annotations

import json

import grpc
import pytest

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.errors import bad_request_fields
from tests.helpers.orders import channel_order, get_order, history, move, sync
from tests.helpers.reservations import assert_invariant, counters, levels

CREATED, UPDATED = opb.SYNC_OUTCOME_CREATED, opb.SYNC_OUTCOME_UPDATED
UNCHANGED, STALE, ON_HOLD = (opb.SYNC_OUTCOME_UNCHANGED, opb.SYNC_OUTCOME_STALE,
                             opb.SYNC_OUTCOME_ON_HOLD)


async def test_an_unpaid_order_holds_its_stock(hub, stubs):
    [r] = await sync(hub, channel_order("A1", "PENDING_PAYMENT", ("SKU-1", 2)))

    order = await get_order(hub, "A1")
    assert (r.outcome, r.state, r.version) == (CREATED, "PENDING_PAYMENT", 1)
    assert order.reservation_state == "RESERVED" and list(order.warehouses) == ["WH-A"]
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 2, 0)


async def test_paid_confirms_the_hold_and_routes_in_one_step(hub, stubs):
    await sync(hub, channel_order("A1", "PENDING_PAYMENT", ("SKU-1", 2), modified_s=1000))

    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 2), modified_s=1010))

    by_wh = await levels(stubs, "SKU-1")
    assert (r.outcome, r.state) == (UPDATED, "ROUTED")
    assert counters(by_wh)["WH-A"] == (8, 0, 2)
    assert_invariant(by_wh)
    moves = [(e.from_state, e.to_state, e.actor) for e in await history(hub, "A1")
             if e.type == "TRANSITION"]
    assert moves == [("PENDING_PAYMENT", "PAID", "adapter:jd"),
                     ("PAID", "ROUTED", "rule:router")]


async def test_the_same_payload_again_changes_nothing_and_says_so(hub, stubs):
    o = channel_order("A1", "PAID", ("SKU-1", 2))
    await sync(hub, o)
    before = await history(hub, "A1")

    [r] = await sync(hub, o)

    assert (r.outcome, r.version) == (UNCHANGED, 1)
    assert len(await history(hub, "A1")) == len(before)
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 0, 2)


async def test_a_changed_payload_is_a_new_version_with_its_diff(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=1000))

    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=1005,
                                        detail="2 West Lake Rd"))

    updated = [e for e in await history(hub, "A1") if e.type == "UPDATED"]
    assert (r.outcome, r.version) == (UPDATED, 2)
    changes = json.loads(updated[0].changes_json)
    assert changes["address"]["before"]["detail"] == "1 West Lake Rd"
    assert changes["address"]["after"]["detail"] == "2 West Lake Rd"
    assert "13800138000" not in updated[0].changes_json


async def test_an_older_update_is_ignored_and_reported_stale(hub, stubs):
    await sync(hub, channel_order("A1", "CANCELLED", ("SKU-1", 1), modified_s=2000))

    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=1500))

    assert (r.outcome, r.state) == (STALE, "CANCELLED")
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


async def test_shipped_seen_before_paid_walks_and_records_every_step(hub, stubs):
    [r] = await sync(hub, channel_order("A1", "SHIPPED", ("SKU-1", 1)))

    steps = [e.to_state for e in await history(hub, "A1") if e.type == "TRANSITION"]
    assert r.state == "SHIPPED"
    assert steps == ["PAID", "ROUTED", "ALLOCATED", "PRINTED", "SHIPPED"]
    # Gone from a warehouse when the hub heard of it: its units are sold, not left
    # in stock for another order.
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)


async def test_cancel_before_payment_releases_the_hold(hub, stubs):
    await sync(hub, channel_order("A1", "PENDING_PAYMENT", ("SKU-1", 3), modified_s=1000))

    [r] = await sync(hub, channel_order("A1", "CANCELLED", ("SKU-1", 3), modified_s=1001))

    assert r.state == "CANCELLED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)
    assert (await get_order(hub, "A1")).reservation_state == "RELEASED"


async def test_refund_before_shipping_restocks_the_sold_units(hub, stubs):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 3), modified_s=1000))

    [r] = await sync(hub, channel_order("A1", "REFUNDED", ("SKU-1", 3), modified_s=1001))

    by_wh = await levels(stubs, "SKU-1")
    assert r.state == "REFUNDED"
    assert counters(by_wh)["WH-A"] == (10, 0, 0)
    assert_invariant(by_wh)


async def test_refund_after_shipping_gives_nothing_back(hub, stubs):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 3), modified_s=1000))
    await sync(hub, channel_order("A1", "SHIPPED", ("SKU-1", 3), modified_s=1001))

    [r] = await sync(hub, channel_order("A1", "REFUNDED", ("SKU-1", 3), modified_s=1002))

    assert r.state == "REFUNDED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (7, 0, 3)


async def test_no_stock_puts_the_order_on_hold_and_names_why(hub, stubs):
    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 99)))

    order = await get_order(hub, "A1")
    assert (r.outcome, r.state) == (ON_HOLD, "ON_HOLD")
    assert r.stock_reason == "SOLD_OUT SKU-1"
    assert order.review == ["stock refused: SOLD_OUT SKU-1"]
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)
    refused = [e for e in await history(hub, "A1") if e.type == "STOCK_REFUSED"]
    assert refused[0].reason == "SOLD_OUT SKU-1"


async def test_a_line_split_over_warehouses_takes_them_in_priority_order(hub, stubs):
    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 12)))

    order = await get_order(hub, "A1")
    assert r.state == "ROUTED"
    assert list(order.warehouses) == ["WH-A", "WH-B"]
    assert counters(await levels(stubs, "SKU-1")) == {"WH-A": (0, 0, 10), "WH-B": (3, 0, 2)}


async def test_a_gift_is_reserved_and_released_with_its_parent(hub, stubs):
    gift = opb.OrderItem(sku="GIFT-1", quantity=1, gift_of="A1")
    await sync(hub, channel_order("A1", "PENDING_PAYMENT", ("SKU-1", 1), gift,
                                  modified_s=1000))
    held = counters(await levels(stubs, "GIFT-1"))["WH-A"]
    order = await get_order(hub, "A1")

    await sync(hub, channel_order("A1", "CANCELLED", ("SKU-1", 1), gift, modified_s=1001))

    assert held == (2, 1, 0)
    assert [ln.line_id for ln in order.lines] == ["", "A1-GIFT"]
    assert counters(await levels(stubs, "GIFT-1"))["WH-A"] == (3, 0, 0)
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


async def test_cross_channel_duplicate_is_flagged_for_review_never_merged(hub, stubs):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), channel="jd", created_s=1000))

    [r] = await sync(hub, channel_order("B7", "PAID", ("SKU-1", 1), channel="taobao",
                                        shop="tb-1", created_s=1000 + 3600))

    other = await get_order(hub, "A1")
    assert (r.outcome, r.state) == (ON_HOLD, "ON_HOLD")
    assert list(r.suspected_duplicates) == ["jd:shop-1/A1"]
    assert other.state == "ROUTED"  # the first one goes on; nothing merged
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 0, 2)


async def test_orders_more_than_two_hours_apart_are_not_suspects(hub):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), channel="jd", created_s=1000))

    [r] = await sync(hub, channel_order("B7", "PAID", ("SKU-1", 1), channel="pdd",
                                        shop="pdd-1", created_s=1000 + 3 * 3600))

    assert r.state == "ROUTED" and not r.suspected_duplicates


async def test_a_batch_with_one_bad_order_is_refused_whole_naming_the_field(hub, stubs):
    good = channel_order("A1", "PAID", ("SKU-1", 1))
    bad = channel_order("A2", "PAID", ("SKU-1", 1), phone="not-a-phone")

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await sync(hub, good, bad)

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(exc.value) == ["orders[1].receiver_phone"]
    assert "not-a-phone" not in exc.value.details()
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


@pytest.mark.parametrize("change,field", [
    ({"channel": "ebay"}, "orders[0].channel"),
    ({"raw_status": "x" * 300}, "orders[0].raw_status"),
    ({"province": ""}, "orders[0].address.province"),
    ({"city": ""}, "orders[0].address.city"),
    ({"shop": "a/b"}, "orders[0].shop"),
])
async def test_bad_input_names_the_field(hub, change, field):
    # (an unknown state: tests/ordersync/test_states.py and the LOCKED test below)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), **change))

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(exc.value) == [field]


async def test_lines_that_differ_from_the_earlier_version_are_refused(hub, stubs):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=1000))

    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 4), modified_s=1001))

    assert (r.outcome, r.refused_code) == (opb.SYNC_OUTCOME_REFUSED, "INVALID_ARGUMENT")
    assert r.refused_reason.startswith("lines: ")
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)


async def test_one_batch_creates_many_orders_and_repeats_within_it_apply_in_order(hub, stubs):
    orders = [channel_order(f"A{i}", "PENDING_PAYMENT", ("SKU-1", 1), modified_s=1000,
                            phone=f"1380013{i:04d}") for i in range(5)]
    orders.append(channel_order("A0", "PAID", ("SKU-1", 1), modified_s=1001))

    results = await sync(hub, *orders)

    assert [r.outcome for r in results] == [CREATED] * 5 + [UPDATED]
    assert results[-1].state == "ROUTED"
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (5, 4, 1)


async def test_an_unknown_state_names_the_field(hub):
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await sync(hub, channel_order("A1", "LOCKED", ("SKU-1", 1)))

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(exc.value) == ["orders[0].state"]


async def test_the_same_content_with_a_newer_modified_time_is_unchanged(hub):
    """Defect 7: a POS file exported again (newer file time, the same rows) is not a
    change: no version, no UPDATED event whose only difference is the modified time."""
    await sync(hub, channel_order("P1", "PAID", ("SKU-1", 1), channel="pos", shop="store-1",
                                  modified_s=1000, created_s=900))

    [r] = await sync(hub, channel_order("P1", "PAID", ("SKU-1", 1), channel="pos",
                                        shop="store-1", modified_s=1600, created_s=900))

    events = await history(hub, "P1", channel="pos", shop="store-1")
    assert (r.outcome, r.version) == (UNCHANGED, 1)
    assert "UPDATED" not in [e.type for e in events]


async def test_an_older_copy_is_stale_by_modified_time_not_created_time(hub):
    """Defect 8: created and modified times differ, as they do in life. The copy modified
    at 2500 is older than the stored one (3000) though newer than its creation (1000):
    it is STALE, and the newer address stays."""
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), created_s=1000, modified_s=2000,
                                  detail="1 Old Rd"))
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), created_s=1000, modified_s=3000,
                                  detail="3 New Rd"))

    [r] = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), created_s=1000,
                                        modified_s=2500, detail="2 Middle Rd"))

    assert (r.outcome, r.version) == (STALE, 2)
    assert (await get_order(hub, "A1")).address.detail == "3 New Rd"


@pytest.mark.parametrize("reported", ["ROUTED", "ALLOCATED", "PRINTED"])
async def test_a_payment_reported_for_an_order_an_operator_moved_past_paid(hub, stubs, reported):
    # Held for review while unpaid, then released by an operator straight to ROUTED (an
    # allowed move): its units are sold, but no PAID step was walked. The channel's next
    # report says the buyer paid. It is a live order: the report applies (it is not
    # walked back through PAID) and the payment is stamped and recorded.
    await sync(hub, channel_order("A1", "PENDING_PAYMENT", ("SKU-1", 2), modified_s=1000))
    await move(hub, "A1", "ON_HOLD", reason="review")
    await move(hub, "A1", "ROUTED", reason="released by review")
    assert not (await get_order(hub, "A1")).HasField("paid_at")

    [r] = await sync(hub, channel_order("A1", reported, ("SKU-1", 2), modified_s=1010))

    order = await get_order(hub, "A1")
    assert (r.outcome, r.state) == (UPDATED, reported)
    assert order.HasField("paid_at")
    events = await history(hub, "A1")
    moves = [(e.from_state, e.to_state) for e in events if e.type == "TRANSITION"]
    assert ("ROUTED", "PAID") not in moves and moves[-1][1] == reported
    changes = json.loads([e for e in events if e.type == "UPDATED"][-1].changes_json)
    assert changes["paid_at_ms"]["before"] == 0 and changes["paid_at_ms"]["after"] > 0
    by_wh = await levels(stubs, "SKU-1")
    assert counters(by_wh)["WH-A"] == (8, 0, 2)  # sold once, by the operator's move
    assert_invariant(by_wh)
