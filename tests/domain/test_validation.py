"""Bad input: INVALID_ARGUMENT naming the field (google.rpc.BadRequest), nothing changed."""

from __future__ import annotations

import grpc
import pytest

from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import at, line, load, ms, order
from tests.helpers.snapshots import redis_snapshot


async def snapshot(redis_url: str) -> dict[str, tuple[str, bytes | None]]:
    """Every key with its value: proves a refused call wrote nothing."""
    return await redis_snapshot(redis_url)


def long(n: int) -> str:
    return "x" * n


BAD_RESERVES = [
    (order("", line("A")), "order_id"),
    (order("o1", line("A"), channel=""), "channel"),
    (order("o1", line("A"), channel="has space"), "channel"),
    (order("o1", line("A"), buyer=""), "buyer_id"),
    (order(long(129), line("A")), "order_id"),
    (order("o1", line("A"), buyer=long(200)), "buyer_id"),
    (order("o1"), "lines"),
    (order("o1", *[line("A")] * 101), "lines"),
    (order("o1", line("A", 0)), "lines[0].quantity"),
    (order("o1", line("A"), line("A", -3)), "lines[1].quantity"),
    (order("o1", line("A", 2_000_000)), "lines[0].quantity"),
    (order("o1", line("")), "lines[0].sku"),
    (order("o1", line("A|B")), "lines[0].sku"),
    (order("o1", line("A", 1, "W;1")), "lines[0].warehouse_id"),
    (order("o1", line(long(65))), "lines[0].sku"),
    (order("o1", line("A"), hold_ttl_ms=10), "hold_ttl"),
    (order("o1", line("A"), hold_ttl_ms=10 * 24 * 3600 * 1000), "hold_ttl"),
]


@pytest.mark.parametrize("request_, field", BAD_RESERVES,
                         ids=[f for _, f in BAD_RESERVES])
async def test_bad_reserve_names_the_field_and_changes_nothing(stubs, redis_url, request_, field):
    await load(stubs, ("A", "W1", 5))
    before = await snapshot(redis_url)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.rs.Reserve(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in err.value.details()
    assert bad_request_fields(err.value) == [field]
    assert await snapshot(redis_url) == before


# Built at import time: windows are hours wide so they are still ahead when the test runs.
def start(sale_id: str = "s1", items=(("A", "W1", 5),), ends_ms: int = 3_600_000,
          starts_ms: int | None = None, limit: int = 0) -> apb.StartFlashSaleRequest:
    req = apb.StartFlashSaleRequest(
        sale_id=sale_id, per_buyer_limit=limit,
        items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q) for s, w, q in items])
    req.ends_at.CopyFrom(at(ends_ms))
    if starts_ms is not None:
        req.starts_at.CopyFrom(at(starts_ms))
    return req


BAD_ADMIN = [
    ("StartFlashSale", start(sale_id=""), "sale_id"),
    ("StartFlashSale", start(items=()), "items"),
    ("StartFlashSale", start(items=(("A", "W1", 0),)), "items[0].quantity"),
    ("StartFlashSale", start(items=(("A", "W1", 1), ("A", "W1", 2))), "items[1]"),
    ("StartFlashSale", start(starts_ms=7_200_000, ends_ms=3_600_000), "ends_at"),
    ("StartFlashSale", start(ends_ms=-1000), "ends_at"),
    ("StartFlashSale", start(limit=-1), "per_buyer_limit"),
    ("StopFlashSale", apb.StopFlashSaleRequest(sale_id="bad id!"), "sale_id"),
    ("GetFlashSale", apb.GetFlashSaleRequest(sale_id="bad id!"), "sale_id"),
    ("LoadStock", apb.LoadStockRequest(items=[pb.StockItem(sku="A", warehouse_id="W1",
                                                           quantity=1)]), "mode"),
    ("LoadStock", apb.LoadStockRequest(mode=apb.LOAD_MODE_ADD), "items"),
    ("LoadStock", apb.LoadStockRequest(mode=apb.LOAD_MODE_ADD, items=[
        pb.StockItem(sku="A", warehouse_id="", quantity=1)]), "items[0].warehouse_id"),
    ("LoadStock", apb.LoadStockRequest(mode=apb.LOAD_MODE_ADD, items=[
        pb.StockItem(sku="A", warehouse_id="W", quantity=0)]), "items[0].quantity"),
]


@pytest.mark.parametrize("rpc, request_, field", BAD_ADMIN,
                         ids=[f"{r}-{f}" for r, _, f in BAD_ADMIN])
async def test_bad_admin_request_names_the_field_and_changes_nothing(
        stubs, redis_url, rpc, request_, field):
    await load(stubs, ("A", "W1", 5))
    before = await snapshot(redis_url)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await getattr(stubs.admin, rpc)(request_)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == [field]
    assert await snapshot(redis_url) == before


async def test_load_stock_set_to_zero_is_allowed(stubs):
    await load(stubs, ("A", "W1", 5))
    await load(stubs, ("A", "W1", 0), mode=apb.LOAD_MODE_SET)
    reply = await stubs.rs.GetStock(rpb.GetStockRequest(sku="A"))
    assert reply.levels[0].available == 0


async def test_get_stock_of_a_sku_never_loaded_is_not_found(stubs):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.rs.GetStock(rpb.GetStockRequest(sku="NEVER"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_negative_hold_ttl_is_invalid(stubs):
    req = order("o1", line("A"))
    req.hold_ttl.CopyFrom(ms(-5))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.rs.Reserve(req)
    assert bad_request_fields(err.value) == ["hold_ttl"]
