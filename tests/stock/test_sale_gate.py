"""A flash sale's gate: per-buyer, per-device and per-address rate limits set with the
sale, and the blocklist; each with its own reject reason, only while the SKU's sale is
open, and a refused order holds nothing.

The rule, stated independently of the script: with a limit of N orders per period, a
sender's first N new orders of a SKU on sale are decided as usual and the next one is
RATE_LIMITED until the period has refilled a slot; a blocked sender's order is BLOCKED.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.errors import bad_request_fields
from tests.helpers.reservations import (
    REJECTED,
    RESERVED,
    assert_invariant,
    at,
    levels,
    line,
    load,
    ms,
    order,
    reserve,
)
from tests.helpers.shards import skus_in_shard_order
from tests.helpers.snapshots import redis_snapshot
from tests.helpers.waiting import now_ms, past

HOUR = 3_600_000
SKU = "GATE-1"


def rate(orders: int, per_ms: int = HOUR) -> apb.RateLimit:
    return apb.RateLimit(orders=orders, per=ms(per_ms))


async def start_sale(stubs: Any, sale_id: str = "gate", skus: tuple[str, ...] = (SKU,),
                     starts_in_ms: int = 0, **rates: apb.RateLimit) -> apb.FlashSale:
    return (await stubs.admin.StartFlashSale(apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id=sale_id, items=[pb.StockItem(sku=s, warehouse_id="W1", quantity=50)
                                for s in skus],
        starts_at=at(starts_in_ms), ends_at=at(HOUR), **rates))).sale


def sent_by(device: str = "", ip: str = "") -> tuple[tuple[str, str], ...]:
    md = []
    if device:
        md.append(("x-device-id", device))
    if ip:
        md.append(("x-client-ip", ip))
    return tuple(md)


async def send(stubs: Any, order_id: str, buyer: str = "buyer-1", sku: str = SKU,
               device: str = "", ip: str = "") -> pb.Reservation:
    reply = await stubs.rs.Reserve(order(order_id, line(sku), buyer=buyer),
                                   metadata=sent_by(device, ip), timeout=10)
    return reply.reservation


async def held(stubs: Any, sku: str = SKU) -> int:
    found = await levels(stubs, sku)
    assert_invariant(found)
    return sum(lv.held for lv in found.values())


def outcome(r: pb.Reservation) -> tuple[int, int]:
    return r.state, r.reject_reason


LIMITED = (REJECTED, pb.REJECT_REASON_RATE_LIMITED)
BLOCKED = (REJECTED, pb.REJECT_REASON_BLOCKED)


async def test_a_buyer_past_the_sales_rate_is_rate_limited_and_holds_nothing(stubs):
    await start_sale(stubs, buyer_rate=rate(2))
    assert [outcome(await send(stubs, f"b-{i}")) for i in range(3)] == [
        (RESERVED, 0), (RESERVED, 0), LIMITED]
    assert await held(stubs) == 2
    # Another buyer has its own allowance; a retry of an answered order is not a new one.
    assert (await send(stubs, "other-1", buyer="buyer-2")).state == RESERVED
    assert (await send(stubs, "b-0")).state == RESERVED
    again = await send(stubs, "b-2")  # the rejected order again: the same answer
    assert outcome(again) == LIMITED and again.failed_sku == SKU
    assert await held(stubs) == 3


async def test_devices_and_addresses_from_metadata_have_their_own_limits(stubs):
    await start_sale(stubs, device_rate=rate(1), ip_rate=rate(2))
    assert (await send(stubs, "d-1", buyer="u1", device="phone-A")).state == RESERVED
    assert outcome(await send(stubs, "d-2", buyer="u2", device="phone-A")) == LIMITED
    assert (await send(stubs, "d-3", buyer="u3", device="phone-B")).state == RESERVED
    # No device told: the device limit does not apply.
    assert (await send(stubs, "d-4", buyer="u4")).state == RESERVED
    # One address however it is written.
    assert (await send(stubs, "i-1", buyer="u5", ip="2001:DB8::1")).state == RESERVED
    assert (await send(stubs, "i-2", buyer="u6", ip="2001:db8:0::1")).state == RESERVED
    assert outcome(await send(stubs, "i-3", buyer="u7", ip="2001:0db8::0001")) == LIMITED
    assert (await send(stubs, "i-4", buyer="u8", ip="10.0.0.1")).state == RESERVED


async def test_a_slot_comes_back_after_its_share_of_the_period(stubs):
    await start_sale(stubs, buyer_rate=rate(1, per_ms=1000))
    assert (await send(stubs, "r-1")).state == RESERVED
    admitted_by = now_ms()
    assert outcome(await send(stubs, "r-2")) == LIMITED
    await past(admitted_by + 1000)  # the period after r-1: no speed is asserted
    assert (await send(stubs, "r-3")).state == RESERVED


async def test_no_gate_outside_an_open_sale(stubs):
    await load(stubs, ("PLAIN-1", "W1", 10))
    await start_sale(stubs, buyer_rate=rate(1), skus=("LATER-1",), starts_in_ms=HOUR // 2,
                     sale_id="later")
    await block(stubs, (apb.BLOCK_KIND_BUYER, "buyer-1"))
    for i in range(3):  # no sale on the SKU: neither limited nor blocked
        assert (await send(stubs, f"p-{i}", sku="PLAIN-1")).state == RESERVED
    # A sale not open yet: NOT_ON_SALE decides, the gate is not reached.
    r = await send(stubs, "l-1", sku="LATER-1")
    assert (r.state, r.reject_reason) == (REJECTED, pb.REJECT_REASON_NOT_ON_SALE)


async def block(stubs: Any, *entries: tuple[int, str], reason: str = "bot",
                remove: bool = False) -> int:
    items = [apb.BlockEntry(kind=k, value=v, reason=reason) for k, v in entries]
    request = (apb.UpdateBlocklistRequest(remove=items) if remove
               else apb.UpdateBlocklistRequest(add=items))
    return (await stubs.admin.UpdateBlocklist(request, metadata=(("x-operator", "ann"),))).size


@pytest.fixture
def audit_log() -> Iterator[Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    from reservation.logs import JsonFormatter
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("reservation.audit")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(x) for x in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(old)


async def test_blocked_buyers_devices_and_addresses_are_refused_during_a_sale(stubs, audit_log):
    await start_sale(stubs)
    assert await block(stubs, (apb.BLOCK_KIND_BUYER, "mallory"),
                       (apb.BLOCK_KIND_DEVICE, "bot-1"), (apb.BLOCK_KIND_IP, "192.0.2.7")) == 3
    assert outcome(await send(stubs, "x-1", buyer="mallory")) == BLOCKED
    assert outcome(await send(stubs, "x-2", buyer="u1", device="bot-1")) == BLOCKED
    assert outcome(await send(stubs, "x-3", buyer="u2", ip="192.0.2.7")) == BLOCKED
    assert (await send(stubs, "x-4", buyer="u3", device="phone", ip="192.0.2.8")).state == RESERVED
    assert await held(stubs) == 1
    listed = await stubs.admin.ListBlocklist(apb.ListBlocklistRequest())
    assert listed.size == 3
    assert [(e.kind, e.value, e.reason, e.added_by) for e in listed.entries] == [
        (apb.BLOCK_KIND_BUYER, "mallory", "bot", "ann"),
        (apb.BLOCK_KIND_DEVICE, "bot-1", "bot", "ann"),
        (apb.BLOCK_KIND_IP, "192.0.2.7", "bot", "ann"),
    ]
    assert all(e.added_at.seconds > 0 for e in listed.entries)
    devices = await stubs.admin.ListBlocklist(apb.ListBlocklistRequest(kind=apb.BLOCK_KIND_DEVICE))
    assert [e.value for e in devices.entries] == ["bot-1"]
    assert await block(stubs, (apb.BLOCK_KIND_BUYER, "mallory"), remove=True) == 2
    assert (await send(stubs, "x-5", buyer="mallory")).state == RESERVED
    record = [r for r in audit_log() if r["what"] == "UpdateBlocklist"][-1]
    assert record["who"] == "ann" and record["after"] == {"size": 2}


async def test_batches_and_streams_take_the_calls_device_for_every_order(stubs):
    await start_sale(stubs, device_rate=rate(2))
    batch = await stubs.rs.ReserveBatch(rpb.ReserveBatchRequest(requests=[
        order(f"bt-{i}", line(SKU), buyer=f"u{i}") for i in range(3)]),
        metadata=sent_by(device="kiosk-1"))
    assert sorted(outcome(r.reservation) for r in batch.results) == sorted(
        [(RESERVED, 0), (RESERVED, 0), LIMITED])

    async def requests() -> Any:
        for i in range(2):
            yield rpb.ReserveStreamRequest(request=order(f"st-{i}", line(SKU), buyer=f"s{i}"))
    replies = [r async for r in stubs.rs.ReserveStream(requests(),
                                                        metadata=sent_by(device="kiosk-1"))]
    assert [outcome(r.reservation) for r in replies] == [LIMITED, LIMITED]


async def test_a_multi_shard_order_refused_at_the_gate_holds_no_part(stubs):
    first, second = skus_in_shard_order(2, prefix="GATE-M")
    await load(stubs, (first, "W1", 10))
    await start_sale(stubs, skus=(second,), buyer_rate=rate(1))
    assert (await send(stubs, "m-0", sku=second)).state == RESERVED
    r = await reserve(stubs, order("m-1", line(first), line(second)))
    assert outcome(r) == LIMITED and r.failed_sku == second
    assert await held(stubs, first) == 0 and await held(stubs, second) == 1


@pytest.mark.parametrize(("metadata", "field"), [
    ((("x-client-ip", "not-an-address"),), "x-client-ip"),
    ((("x-client-ip", "10.0.0.1, 10.0.0.2"),), "x-client-ip"),
    ((("x-device-id", "a b"),), "x-device-id"),
    ((("x-device-id", "d" * 65),), "x-device-id"),
])
async def test_bad_sender_metadata_is_invalid_argument_and_changes_nothing(
        stubs, redis_url, metadata, field):
    await start_sale(stubs, device_rate=rate(1))
    before = await redis_snapshot(redis_url)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.rs.Reserve(order("bad-1", line(SKU)), metadata=metadata)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == [field]
    assert await redis_snapshot(redis_url) == before


@pytest.mark.parametrize(("rates", "field"), [
    ({"buyer_rate": apb.RateLimit(orders=5)}, "buyer_rate.per"),
    ({"device_rate": apb.RateLimit(orders=-1, per=ms(1000))}, "device_rate.orders"),
    ({"ip_rate": apb.RateLimit(orders=1, per=ms(10))}, "ip_rate.per"),
    ({"buyer_rate": apb.RateLimit(per=ms(1000))}, "buyer_rate.orders"),
])
async def test_a_bad_rate_limit_is_invalid_argument(stubs, rates, field):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await start_sale(stubs, **rates)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == [field]


async def test_the_limits_are_part_of_the_sale(stubs):
    request = apb.StartFlashSaleRequest(
        create_skus=True,  # the test's SKUs are new
        sale_id="limits", items=[pb.StockItem(sku=SKU, warehouse_id="W1", quantity=5)],
        starts_at=at(0), ends_at=at(HOUR), buyer_rate=rate(3),
        ip_rate=rate(10, per_ms=60_000))
    sale = (await stubs.admin.StartFlashSale(request)).sale
    assert (sale.buyer_rate.orders, sale.buyer_rate.per.ToMilliseconds()) == (3, HOUR)
    assert (sale.ip_rate.orders, sale.ip_rate.per.ToMilliseconds()) == (10, 60_000)
    assert not sale.HasField("device_rate")
    again = (await stubs.admin.StartFlashSale(request)).sale  # the same request again
    assert (again.buyer_rate, again.ip_rate) == (sale.buyer_rate, sale.ip_rate)
    request.buyer_rate.orders = 4
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.admin.StartFlashSale(request)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(("entry", "field"), [
    (apb.BlockEntry(kind=apb.BLOCK_KIND_IP, value="999.1.1.1"), "add[0].value"),
    (apb.BlockEntry(kind=apb.BLOCK_KIND_DEVICE, value="a|b"), "add[0].value"),
    (apb.BlockEntry(kind=apb.BLOCK_KIND_BUYER, value=""), "add[0].value"),
    (apb.BlockEntry(kind=apb.BLOCK_KIND_UNSPECIFIED, value="x"), "add[0].kind"),
    (apb.BlockEntry(kind=apb.BLOCK_KIND_BUYER, value="x", reason="r\n"), "add[0].reason"),
])
async def test_a_bad_blocklist_entry_is_invalid_argument_and_changes_nothing(
        stubs, redis_url, entry, field):
    before = await redis_snapshot(redis_url)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.admin.UpdateBlocklist(apb.UpdateBlocklistRequest(
            add=[apb.BlockEntry(kind=apb.BLOCK_KIND_BUYER, value="fine"), entry]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(err.value) == [field.replace("[0]", "[1]")]
    assert await redis_snapshot(redis_url) == before
