"""RestockOrder: goods of a shipped order that came back (after a refund, a return) go
back to the warehouse that shipped them, at most what was shipped, recorded once in the
order's history and once on the WMS's write-back stream, however often it is sent."""

from __future__ import annotations

import grpc
import pytest

from reservation.storage import keys
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc
from tests.helpers.errors import bad_request_fields
from tests.helpers.orders import channel_order, history, key, sync
from tests.helpers.reservations import counters, levels, load


def restock(hub, order_id: str, restock_id: str, *lines: tuple[str, int],
            reason: str = "returned to the warehouse"):  # type: ignore[no-untyped-def]
    return hub.RestockOrder(opb.RestockOrderRequest(
        key=key(order_id), restock_id=restock_id, reason=reason, actor="wms",
        lines=[opb.RestockLine(sku=s, quantity=q) for s, q in lines]), timeout=10)


async def restocked_events(stubs) -> list[wpb.WriteBackEvent]:
    wb = write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
    batch = await wb.PullBatch(wpb.PullBatchRequest(consumer="wms-1", max_events=1000))
    return [e for e in batch.events if e.type == wpb.WRITE_BACK_EVENT_TYPE_RESTOCKED]


async def shipped_and_refunded(hub, order_id: str, *lines: tuple[str, int]) -> None:
    await sync(hub, channel_order(order_id, "SHIPPED", *lines, modified_s=1000))
    await sync(hub, channel_order(order_id, "REFUNDED", *lines, modified_s=1001))


async def test_returned_goods_go_back_once_to_the_warehouse_that_shipped_them(hub, stubs):
    """Defect 11: the only way back was an untied LoadStock ADD."""
    await shipped_and_refunded(hub, "R1", ("SKU-1", 2))
    sold = counters(await levels(stubs, "SKU-1"))["WH-A"]

    first = await restock(hub, "R1", "ret-1", ("SKU-1", 1))
    again = await restock(hub, "R1", "ret-1", ("SKU-1", 1))

    assert sold == (8, 0, 2)
    assert (first.outcome, again.outcome) == (opb.SYNC_OUTCOME_UPDATED,
                                              opb.SYNC_OUTCOME_UNCHANGED)
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (9, 0, 1)
    events = [e for e in await history(hub, "R1") if e.type == "RESTOCKED"]
    assert [(e.actor, e.reason) for e in events] == [("wms", "returned to the warehouse")]
    assert [(e.sku, e.warehouse_id, e.quantity) for e in await restocked_events(stubs)] == [
        ("SKU-1", "WH-A", 1)]


async def test_no_more_than_was_shipped_comes_back(hub, stubs):
    await shipped_and_refunded(hub, "R2", ("SKU-1", 2))
    await restock(hub, "R2", "ret-1", ("SKU-1", 1))
    await restock(hub, "R2", "ret-2", ("SKU-1", 1))

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await restock(hub, "R2", "ret-3", ("SKU-1", 1))

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "SKU-1" in exc.value.details()
    assert counters(await levels(stubs, "SKU-1"))["WH-A"] == (10, 0, 0)


async def test_an_order_that_never_shipped_gives_its_units_back_by_cancel_or_refund(hub):
    await sync(hub, channel_order("R3", "PAID", ("SKU-1", 1)))

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await restock(hub, "R3", "ret-1", ("SKU-1", 1))

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ROUTED" in exc.value.details()


@pytest.mark.parametrize("restock_id,lines,field", [
    ("", [("SKU-1", 1)], "restock_id"),
    ("ret-1", [], "lines"),
    ("ret-1", [("SKU-9", 1)], "lines[0].sku"),
    ("ret-1", [("SKU-1", 0)], "lines[0].quantity"),
])
async def test_a_bad_restock_names_the_field(hub, restock_id, lines, field):
    await shipped_and_refunded(hub, "R4", ("SKU-1", 1))

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await restock(hub, "R4", restock_id, *lines)

    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(exc.value) == [field]


def two_skus_in_two_shards() -> tuple[str, str]:
    others = (f"RS-B{i}" for i in range(1000))
    return "RS-A", next(o for o in others if keys.shard_of(o, 64) != keys.shard_of("RS-A", 64))


async def test_a_two_shard_order_comes_back_in_both_shards_once(hub, stubs):
    a, b = two_skus_in_two_shards()
    await load(stubs, (a, "WH-A", 3), (b, "WH-A", 3))
    await shipped_and_refunded(hub, "R5", (a, 1), (b, 2))

    await restock(hub, "R5", "ret-1", (a, 1), (b, 2))
    again = await restock(hub, "R5", "ret-1", (a, 1), (b, 2))

    assert again.outcome == opb.SYNC_OUTCOME_UNCHANGED
    assert counters(await levels(stubs, a)) == {"WH-A": (3, 0, 0)}
    assert counters(await levels(stubs, b)) == {"WH-A": (3, 0, 0)}
    assert sorted((e.sku, e.quantity) for e in await restocked_events(stubs)) == sorted(
        [(a, 1), (b, 2)])
