"""ExpediteOrder (加急) through the gRPC API against real Redis: recorded in the order's
history in the caller's name, told to the WMS once, refused for an order with nothing
left to expedite, and first in its shard's sync batch when units are short."""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc
from tests.helpers.errors import refused
from tests.helpers.orders import channel_order, get_order, history, key, move, sync
from tests.helpers.reservations import load


async def expedite(hub: Any, oid: str, reason: str = "the buyer's flight leaves Friday",
                   actor: str = "operator:ann") -> opb.ExpediteOrderResponse:
    return await hub.ExpediteOrder(opb.ExpediteOrderRequest(
        key=key(oid), actor=actor, reason=reason), timeout=10)


async def expedited_events(stubs: Any) -> list[wpb.WriteBackEvent]:
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="wms-1", max_events=1000),
                               timeout=10)
    if batch.batch_id:
        await wb.AckBatch(wpb.AckBatchRequest(batch_id=batch.batch_id), timeout=10)
    return [e for e in batch.events if e.type == wpb.WRITE_BACK_EVENT_TYPE_ORDER_EXPEDITED]


async def test_an_expedited_order_is_in_its_history_and_the_wms_hears_it_once(
        hub: Any, stubs: Any) -> None:
    await sync(hub, channel_order("E1", "PAID", ("SKU-1", 1)))

    done = await expedite(hub, "E1")

    assert (done.outcome, done.order.priority) == (opb.SYNC_OUTCOME_UPDATED, 1)
    assert (await get_order(hub, "E1")).priority == 1
    last = (await history(hub, "E1"))[-1]
    assert (last.type, last.actor, last.reason) == (
        "UPDATED", "operator:ann", "the buyer's flight leaves Friday")
    assert json.loads(last.changes_json)["priority"] == {"before": 0, "after": 1}
    [event] = await expedited_events(stubs)
    assert (event.order_id, event.warehouse_id) == ("shop-1/E1", "WH-A")
    assert json.loads(event.detail)["priority"] == 1
    # Asked again (a second click): nothing new, nothing sent again.
    events = len(await history(hub, "E1"))
    again = await expedite(hub, "E1", reason="again")
    assert again.outcome == opb.SYNC_OUTCOME_UNCHANGED
    assert await expedited_events(stubs) == []
    assert len(await history(hub, "E1")) == events


async def test_nothing_left_to_expedite_is_refused_and_bad_calls_name_the_field(
        hub: Any) -> None:
    await sync(hub, channel_order("X1", "PAID", ("SKU-1", 1)))
    await move(hub, "X1", "CANCELLED")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await expedite(hub, "X1")
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "CANCELLED" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await expedite(hub, "NO-SUCH")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    fields, _ = await refused(expedite(hub, "X1", actor=""))
    assert fields == ["actor"]
    assert (await get_order(hub, "X1")).priority == 0


@pytest.mark.parametrize("expedited", [True, False])
async def test_an_expedited_order_gets_the_last_unit_before_the_rest_of_its_batch(
        hub: Any, stubs: Any, expedited: bool) -> None:
    # One unit, sold to O0; E1 arrives unpaid and finds none (held for review, holding
    # nothing); O0 is cancelled, so one unit is free again.
    await load(stubs, ("PRI-1", "WH-A", 1))
    await sync(hub, channel_order("O0", "PAID", ("PRI-1", 1), phone="13700000001"))
    await sync(hub, channel_order("E1", "PENDING_PAYMENT", ("PRI-1", 1), phone="13700000002",
                                  modified_s=1000))
    await move(hub, "O0", "CANCELLED")
    if expedited:
        await expedite(hub, "E1")

    # One batch: a new paid order first, then E1's payment. Both want the one unit.
    [f1, e1] = await sync(
        hub, channel_order("F1", "PAID", ("PRI-1", 1), phone="13700000003"),
        channel_order("E1", "PAID", ("PRI-1", 1), phone="13700000002", modified_s=1001))

    winner, loser = ("E1", f1) if expedited else ("F1", e1)
    assert "SOLD_OUT" in loser.stock_reason and loser.state == "ON_HOLD", loser
    got = await get_order(hub, winner)
    assert got.reservation_state == "CONFIRMED", got  # the unit is the winner's
    assert (f1.state == "ROUTED") is not expedited
