"""Per-order outcomes of a SyncOrders batch: an order the hub refuses (a move the state
table forbids, lines that differ from its stored version) is refused alone, with its
code and reason; every other order of the batch is applied."""

from __future__ import annotations

from reservation.v1 import order_service_pb2 as opb
from tests.helpers.orders import channel_order, get_order, sync
from tests.helpers.reservations import counters, levels

REFUSED = opb.SYNC_OUTCOME_REFUSED


async def test_a_late_paid_for_a_cancelled_order_is_refused_alone(hub, stubs):
    """Defect 6: the batch was refused whole, and the valid new order beside it lost."""
    await sync(hub, channel_order("A1", "CANCELLED", ("SKU-1", 1), modified_s=2000))

    late, new = await sync(
        hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=2001),
        channel_order("A2", "PAID", ("SKU-1", 2), modified_s=2001, phone="13700000002"))

    assert (late.outcome, late.refused_code, late.state) == (
        REFUSED, "FAILED_PRECONDITION", "CANCELLED")
    assert "CANCELLED" in late.refused_reason
    assert (new.outcome, new.state) == (opb.SYNC_OUTCOME_CREATED, "ROUTED")
    assert (await get_order(hub, "A2")).state == "ROUTED"
    assert (await get_order(hub, "A1")).version == 1
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 0, 2)


async def test_lines_that_differ_from_the_stored_order_are_refused_alone(hub, stubs):
    await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=1000))

    changed, other = await sync(
        hub, channel_order("A1", "PAID", ("SKU-1", 4), modified_s=1001),
        channel_order("A3", "PENDING_PAYMENT", ("SKU-1", 1), phone="13700000003"))

    assert (changed.outcome, changed.refused_code) == (REFUSED, "INVALID_ARGUMENT")
    assert changed.refused_reason.startswith("lines:")
    assert other.outcome == opb.SYNC_OUTCOME_CREATED
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (8, 1, 1)


async def test_a_refused_repeat_inside_a_batch_does_not_stop_the_next_one(hub):
    """An order twice in one batch goes one by one, in batch order: its refusal too."""
    await sync(hub, channel_order("A1", "CANCELLED", ("SKU-1", 1), modified_s=2000))

    results = await sync(hub, channel_order("A1", "PAID", ("SKU-1", 1), modified_s=2001),
                         channel_order("A1", "CLOSED", ("SKU-1", 1), modified_s=2002))

    assert [r.outcome for r in results] == [REFUSED, opb.SYNC_OUTCOME_UPDATED]
    assert results[1].state == "CLOSED"
