"""Reservation requests, stock reads and the invariant check (ReservationService,
AdminService)."""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.v1 import admin_service_pb2 as apb
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import types_pb2 as pb
from tests.helpers.waiting import now_ms, wait_until

RESERVED = pb.RESERVATION_STATE_RESERVED


CONFIRMED = pb.RESERVATION_STATE_CONFIRMED


RELEASED = pb.RESERVATION_STATE_RELEASED


EXPIRED = pb.RESERVATION_STATE_EXPIRED


REJECTED = pb.RESERVATION_STATE_REJECTED


QUEUED = pb.RESERVATION_STATE_QUEUED


DEAD_LETTERED = pb.RESERVATION_STATE_DEAD_LETTERED


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


def units(reservation: pb.Reservation) -> int:
    return sum(a.quantity for a in reservation.allocations)


def allocations(reservation: pb.Reservation) -> list[tuple[str, str, int]]:
    return [(a.sku, a.warehouse_id, a.quantity) for a in reservation.allocations]


def skus_in(lines: Iterable[pb.OrderLine]) -> set[str]:
    return {ln.sku for ln in lines}


def counters(by_wh: dict[str, pb.StockLevel]) -> dict[str, tuple[int, int, int]]:
    """(available, held, confirmed) per warehouse."""
    return {wh: (lv.available, lv.held, lv.confirmed) for wh, lv in by_wh.items()}


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
