"""Small builders for tests: requests, stock reads and the invariant check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from reservation.storage import keys
from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import order_service_pb2 as opb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb

RESERVED = pb.RESERVATION_STATE_RESERVED
CONFIRMED = pb.RESERVATION_STATE_CONFIRMED
RELEASED = pb.RESERVATION_STATE_RELEASED
EXPIRED = pb.RESERVATION_STATE_EXPIRED
REJECTED = pb.RESERVATION_STATE_REJECTED
QUEUED = pb.RESERVATION_STATE_QUEUED
DEAD_LETTERED = pb.RESERVATION_STATE_DEAD_LETTERED
T = TypeVar("T")


def ms(value: int) -> Duration:
    d = Duration()
    d.FromMilliseconds(value)
    return d


def at(ms_from_now: int) -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    ts.FromMilliseconds(ts.ToMilliseconds() + ms_from_now)
    return ts


def line(sku: str, quantity: int = 1, warehouse_id: str = "") -> pb.OrderLine:
    return pb.OrderLine(sku=sku, quantity=quantity, warehouse_id=warehouse_id)


def order(order_id: str, *lines: pb.OrderLine, channel: str = "jd", buyer: str = "buyer-1",
          hold_ttl_ms: int = 0, allow_queue: bool = False) -> rpb.ReserveRequest:
    req = rpb.ReserveRequest(channel=channel, order_id=order_id, buyer_id=buyer,
                             lines=list(lines), allow_queue=allow_queue)
    if hold_ttl_ms:
        req.hold_ttl.CopyFrom(ms(hold_ttl_ms))
    return req


async def load(stubs, *items: tuple[str, str, int], mode: int = apb.LOAD_MODE_ADD) -> None:
    await stubs.admin.LoadStock(apb.LoadStockRequest(
        items=[pb.StockItem(sku=s, warehouse_id=w, quantity=q) for s, w, q in items], mode=mode))


async def reserve(stubs, req: rpb.ReserveRequest) -> pb.Reservation:
    return (await stubs.rs.Reserve(req, timeout=10)).reservation


async def get(stubs, order_id: str, channel: str = "jd") -> pb.Reservation:
    return (await stubs.rs.GetReservation(
        rpb.GetReservationRequest(channel=channel, order_id=order_id), timeout=10)).reservation


async def confirm(stubs, order_id: str, channel: str = "jd") -> pb.Reservation:
    return (await stubs.rs.Confirm(
        rpb.ConfirmRequest(channel=channel, order_id=order_id), timeout=10)).reservation


async def release(stubs, order_id: str, channel: str = "jd") -> pb.Reservation:
    return (await stubs.rs.Release(
        rpb.ReleaseRequest(channel=channel, order_id=order_id), timeout=10)).reservation


async def levels(stubs, sku: str) -> dict[str, pb.StockLevel]:
    reply = await stubs.rs.GetStock(rpb.GetStockRequest(sku=sku), timeout=10)
    return {lv.warehouse_id: lv for lv in reply.levels}


def assert_invariant(by_wh: dict[str, pb.StockLevel]) -> None:
    for wh, lv in by_wh.items():
        assert lv.loaded == lv.available + lv.held + lv.confirmed + lv.returned, (wh, lv)
        assert min(lv.available, lv.held, lv.confirmed, lv.returned) >= 0, (wh, lv)


async def wait_for_state(stubs, order_id: str, state: int, channel: str = "jd",
                         deadline_s: float = 15.0) -> pb.Reservation:
    """Wait (bounded) until the order reaches `state`; fails with the last state seen."""
    return await wait_until(lambda: get(stubs, order_id, channel), lambda r: r.state == state,
                            f"{channel}:{order_id} to become {pb.ReservationState.Name(state)}",
                            deadline_s)


def bad_request_fields(exc: grpc.aio.AioRpcError) -> list[str]:
    """Field names from the google.rpc.BadRequest details of an INVALID_ARGUMENT."""
    status = rpc_status.from_call(exc)
    fields: list[str] = []
    for detail in status.details if status else []:
        br = error_details_pb2.BadRequest()
        if detail.Unpack(br):
            fields += [v.field for v in br.field_violations]
    return fields


def units(reservation: pb.Reservation) -> int:
    return sum(a.quantity for a in reservation.allocations)


def allocations(reservation: pb.Reservation) -> list[tuple[str, str, int]]:
    return [(a.sku, a.warehouse_id, a.quantity) for a in reservation.allocations]


def skus_in(lines: Iterable[pb.OrderLine]) -> set[str]:
    return {ln.sku for ln in lines}


def by_timer(key: str | bytes) -> bool:
    """A key the service writes on its own timer, never a call: the {health} keys of the
    overdue evaluator (its first pass lands right after start-up). Snapshots that prove a
    call changed nothing leave them out: they may change between two snapshots whatever
    the call did."""
    from reservation.storage import keys

    name = key.decode() if isinstance(key, bytes) else key
    return name.startswith(keys.HEALTH)


async def redis_snapshot(url: str) -> dict[str, tuple[str, bytes | None]]:
    """Every key with its type and DUMP (value only, not TTL): two snapshots are equal
    when a call changed nothing in Redis (timer-written keys left out: by_timer)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    try:
        out = {}
        async for key in client.scan_iter(count=1000):
            if by_timer(key):
                continue
            out[key.decode()] = ((await client.type(key)).decode(), await client.dump(key))
        return out
    finally:
        await client.aclose()


# -- the order hub (OrderService) ---------------------------------------------------------

TEST_EPOCH_S = 1_767_225_600
"""2026-01-01T00:00:00Z. Tests write channel times as small numbers of seconds (1000,
1001: their order is what matters); the hub refuses times before 2000, so `when` puts
them after this instant. Real epoch seconds (time.time()) pass through unchanged."""


def when(seconds: int) -> int:
    """A channel time in epoch seconds: small test numbers moved to TEST_EPOCH_S + n."""
    return seconds + TEST_EPOCH_S if 0 < seconds < TEST_EPOCH_S // 2 else seconds


def channel_order(order_id: str, state: str = "PAID", *lines: tuple[str, int] | opb.OrderItem,
                  channel: str = "jd", shop: str = "shop-1", modified_s: int = 1000,
                  phone: str = "13800138000", province: str = "Zhejiang",
                  city: str = "Hangzhou", detail: str = "1 West Lake Rd",
                  raw_status: str = "", created_s: int = 0) -> opb.ChannelOrder:
    items = [ln if isinstance(ln, opb.OrderItem) else
             opb.OrderItem(sku=ln[0], quantity=ln[1], price=1999) for ln in lines]
    o = opb.ChannelOrder(channel=channel, shop=shop, order_id=order_id, state=state,
                         raw_status=raw_status or state.lower(), receiver_phone=phone,
                         address=opb.Address(province=province, city=city, district="Xihu",
                                             detail=detail),
                         lines=items or [opb.OrderItem(sku="SKU-1", quantity=1, price=1999)])
    o.modified_at.FromSeconds(when(modified_s))
    o.created_at.FromSeconds(when(created_s or modified_s))
    return o


def key(order_id: str, channel: str = "jd", shop: str = "shop-1") -> opb.OrderKey:
    return opb.OrderKey(channel=channel, shop=shop, order_id=order_id)


async def sync(order_stub, *orders: opb.ChannelOrder) -> list[opb.SyncResult]:
    reply = await order_stub.SyncOrders(opb.SyncOrdersRequest(orders=list(orders)), timeout=20)
    return list(reply.results)


async def get_order(order_stub, order_id: str, **kw: str) -> opb.Order:
    return (await order_stub.GetOrder(opb.GetOrderRequest(key=key(order_id, **kw)),
                                      timeout=10)).order


async def history(order_stub, order_id: str, **kw: str) -> list[opb.OrderEvent]:
    return list((await order_stub.GetOrderHistory(
        opb.GetOrderHistoryRequest(key=key(order_id, **kw)), timeout=10)).events)


async def move(order_stub, order_id: str, state: str, actor: str = "operator:ann",
               reason: str = "", **kw: str) -> opb.UpdateOrderStateResponse:
    return await order_stub.UpdateOrderState(opb.UpdateOrderStateRequest(
        key=key(order_id, **kw), state=state, actor=actor, reason=reason), timeout=10)


def counters(by_wh: dict[str, pb.StockLevel]) -> dict[str, tuple[int, int, int]]:
    """(available, held, confirmed) per warehouse."""
    return {wh: (lv.available, lv.held, lv.confirmed) for wh, lv in by_wh.items()}


# -- waiting for a condition, shards in order ----------------------------------------------

async def wait_until(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool],
                     what: str, deadline_s: float = 15.0, every_s: float = 0.02) -> T:
    """Call `probe` until `done(result)`, at most `deadline_s`; the last result, or
    AssertionError naming `what` and the last value. Tests wait for a condition, never
    for a fixed time: a loaded machine makes them slower, not flaky."""
    end = time.monotonic() + deadline_s
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"waited {deadline_s} s for {what}; last seen: {value!r}")
        await asyncio.sleep(every_s)


def skus_in_shard_order(n: int, shards: int = 64, prefix: str = "SKU") -> list[str]:
    """`n` SKUs in `n` different shards, lowest shard first: a multi-shard order's parts
    run in shard order, so the last of these is the last part tried."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < n:
        sku = f"{prefix}-{i}"
        found.setdefault(keys.shard_of(sku, shards), sku)
        i += 1
    return [found[s] for s in sorted(found)]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def past(epoch_ms: int) -> None:
    """Return once the clock (the one Redis reads: same machine) is past `epoch_ms`."""
    async def clock() -> int:
        return now_ms()
    await wait_until(clock, lambda t: t > epoch_ms, f"the clock to pass {epoch_ms}")


async def settled_orders(stubs, order_ids: Iterable[str], channel: str = "jd",
                         margin_ms: int = 5_000) -> list[pb.Reservation]:
    """The orders once none is queued and no hold still RESERVED expires within
    `margin_ms`: the short holds have expired and been swept, and no hold can expire
    while the caller reads orders and counters, so both come from one settled state.
    (A long hold that comes within the margin is waited for until it is swept too.)"""
    ids = list(order_ids)

    async def read() -> list[pb.Reservation]:
        return [await get(stubs, oid, channel) for oid in ids]

    def done(views: list[pb.Reservation]) -> bool:
        soon = now_ms() + margin_ms
        return not any(v.state == QUEUED or (v.state == RESERVED and v.expires_at.ToMilliseconds() < soon)
                       for v in views)

    return await wait_until(read, done, "queued orders and short holds to settle",
                            deadline_s=30)


async def refused(call: Awaitable[object]) -> tuple[list[str], str]:
    """An INVALID_ARGUMENT call's (BadRequest field names, details)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT, exc.details()
        return bad_request_fields(exc), exc.details() or ""
    raise AssertionError("the call was not refused")
