"""ReserveBatch and ReserveStream: every order keeps Reserve's semantics, errors per order."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb
from tests.helpers.reserve_batch import load, order

RESERVED = types_pb.RESERVATION_STATE_RESERVED
REJECTED = types_pb.RESERVATION_STATE_REJECTED
INVALID = grpc.StatusCode.INVALID_ARGUMENT.value[0]
EXISTS = grpc.StatusCode.ALREADY_EXISTS.value[0]


async def levels(stubs: Any, sku: str) -> dict[str, tuple[int, int]]:
    """warehouse -> (available, held)"""
    resp = await stubs.rs.GetStock(pb.GetStockRequest(sku=sku))
    return {lv.warehouse_id: (lv.available, lv.held) for lv in resp.levels}


async def test_batch_answers_each_order_in_request_order(stubs: Any) -> None:
    await load(stubs, "A", w1=3)
    reqs = [order(f"o{i}", ("A", 1)) for i in range(5)]
    resp = await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))
    assert [r.reservation.order_id for r in resp.results] == [f"o{i}" for i in range(5)]
    states = [r.reservation.state for r in resp.results]
    assert states.count(RESERVED) == 3 and states.count(REJECTED) == 2
    assert await levels(stubs, "A") == {"w1": (0, 3)}


async def test_batch_is_idempotent_per_order_and_matches_reserve(stubs: Any) -> None:
    await load(stubs, "A", w1=10)
    first = await stubs.rs.Reserve(order("o1", ("A", 2)))
    reqs = [order("o1", ("A", 2)), order("o1", ("A", 2)), order("o2", ("A", 1))]
    resp = await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))
    ids = [r.reservation.reservation_id for r in resp.results]
    assert ids[0] == ids[1] == first.reservation.reservation_id
    again = await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))
    assert [r.reservation for r in again.results] == [r.reservation for r in resp.results]
    assert await levels(stubs, "A") == {"w1": (7, 3)}


async def test_a_new_order_twice_in_one_batch_holds_once_and_answers_alike(stubs: Any) -> None:
    # Both copies go out in the same pipeline: the first claims and holds, the second
    # finds the identity and is answered from the recorded hold.
    await load(stubs, "A", w1=10)
    reqs = [order("n1", ("A", 2)), order("n2", ("A", 1)), order("n1", ("A", 2)),
            order("n1", ("A", 3))]
    resp = await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))
    first, _, copy, other = resp.results
    assert first.reservation.state == copy.reservation.state == RESERVED
    assert first.reservation == copy.reservation
    assert other.error_code == EXISTS  # same key, other lines
    assert await levels(stubs, "A") == {"w1": (7, 3)}


async def test_batch_multi_line_order_is_all_or_nothing(stubs: Any) -> None:
    # Many SKUs so the order spans several shards (compensation path) as well.
    skus = [f"S{i}" for i in range(8)]
    for sku in skus:
        await load(stubs, sku, w1=1)
    await load(stubs, "SCARCE", w1=0)
    await load(stubs, "OTHER", w1=1)
    big = order("big", *[(s, 1) for s in skus], ("SCARCE", 1))
    ok = order("ok", ("OTHER", 1))
    resp = await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=[big, ok]))
    assert resp.results[0].reservation.state == REJECTED
    assert resp.results[0].reservation.failed_sku == "SCARCE"
    assert resp.results[1].reservation.state == RESERVED
    for sku in skus:
        assert await levels(stubs, sku) == {"w1": (1, 0)}, sku


async def test_batch_reports_errors_per_order_without_failing_others(stubs: Any) -> None:
    await load(stubs, "A", w1=5)
    await stubs.rs.Reserve(order("taken", ("A", 1)))
    reqs = [order("", ("A", 1)), order("q0", ("A", 0)), order("taken", ("A", 2)),
            order("fine", ("A", 1))]
    resp = await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))
    codes = [r.error_code for r in resp.results]
    assert codes == [INVALID, INVALID, EXISTS, 0]
    assert "order_id" in resp.results[0].error_message
    assert "lines[0].quantity" in resp.results[1].error_message
    assert not resp.results[0].HasField("reservation")
    assert resp.results[3].reservation.state == RESERVED
    assert await levels(stubs, "A") == {"w1": (3, 2)}


async def test_stream_echoes_each_order_with_reserve_semantics(stubs: Any) -> None:
    await load(stubs, "A", w1=2)
    await stubs.rs.Reserve(order("dup", ("A", 1)))
    reqs = [order("dup", ("A", 1)), order("dup", ("A", 3)), order("n1", ("A", 1)),
            order("n2", ("A", 1)), order("bad", ("A", -1))]
    call = stubs.rs.ReserveStream(iter(pb.ReserveStreamRequest(request=r) for r in reqs))
    got = {}
    async for resp in call:
        got.setdefault(resp.order_id, []).append(resp)
    assert sorted(got) == ["bad", "dup", "n1", "n2"]
    dup_codes = sorted(r.error_code for r in got["dup"])
    assert dup_codes == [0, EXISTS]
    states = [got["n1"][0].reservation.state, got["n2"][0].reservation.state]
    assert sorted(states) == sorted([RESERVED, REJECTED])
    assert got["bad"][0].error_code == INVALID and got["bad"][0].channel == "web"
    assert await levels(stubs, "A") == {"w1": (0, 2)}


async def test_concurrent_batches_and_unary_never_oversell(stubs: Any) -> None:
    await load(stubs, "HOT", w1=30, w2=20)

    async def one_batch(b: int) -> list[Any]:
        reqs = [order(f"b{b}-{i}", ("HOT", 1)) for i in range(2)]
        return list((await stubs.rs.ReserveBatch(pb.ReserveBatchRequest(requests=reqs))).results)

    batches = await asyncio.gather(*(one_batch(b) for b in range(40)))
    unary = await asyncio.gather(*(stubs.rs.Reserve(order(f"u{i}", ("HOT", 1)))
                                   for i in range(40)))
    states = [r.reservation.state for rs in batches for r in rs]
    states += [r.reservation.state for r in unary]
    assert states.count(RESERVED) == 50
    assert await levels(stubs, "HOT") == {"w1": (0, 30), "w2": (0, 20)}
