"""Protobuf <-> domain conversion, at the edge and nowhere else."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from reservation.domain import validation
from reservation.domain.models import (
    BlockEntry,
    BlockKind,
    FlashSale,
    OrderLine,
    RateLimit,
    RejectReason,
    Reservation,
    ReserveCommand,
    State,
    Stock,
    StockItem,
    StockLevel,
)
from reservation.errors import InvalidArgument
from reservation.guard.models import BreakerState, OpenBreaker, SkuGuard
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import guard_service_pb2 as guard_pb
from reservation.v1 import reservation_service_pb2 as rs_pb
from reservation.v1 import types_pb2 as pb


def duration_ms(field: str, d: Duration) -> int:
    if d.seconds < 0 or d.nanos < 0:
        raise InvalidArgument(field, "must not be negative")
    return d.seconds * 1000 + d.nanos // 1_000_000


def timestamp_ms(ts: Timestamp) -> int:
    return ts.seconds * 1000 + ts.nanos // 1_000_000


def to_timestamp(ms: int) -> Timestamp:
    return Timestamp(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def to_duration(ms: int) -> Duration:
    return Duration(seconds=ms // 1000, nanos=(ms % 1000) * 1_000_000)


def reserve_command(req: rs_pb.ReserveRequest, sender: tuple[str, str] = ("", "")
                    ) -> ReserveCommand:
    """sender: (device id, client address) from the call's metadata (see `sender`)."""
    return ReserveCommand(
        channel=req.channel,
        order_id=req.order_id,
        buyer_id=req.buyer_id,
        lines=tuple(OrderLine(ln.sku, ln.quantity, ln.warehouse_id) for ln in req.lines),
        hold_ttl_ms=duration_ms("hold_ttl", req.hold_ttl),
        allow_queue=req.allow_queue,
        device_id=sender[0],
        client_ip=sender[1],
    )


DEVICE_HEADER, IP_HEADER = "x-device-id", "x-client-ip"


def sender(metadata: Any) -> tuple[str, str]:
    """(device id, client address) an adapter sends with Reserve calls for a flash sale's
    gate (per-device and per-address limits, the blocklist): validated, the address in its
    one canonical form; ("", "") when not sent. For ReserveBatch and ReserveStream they
    apply to every order of the call."""
    found = {DEVICE_HEADER: "", IP_HEADER: ""}
    for key, value in metadata or ():
        if key in found:
            found[key] = value if isinstance(value, str) else ""
    return (validation.device_id(DEVICE_HEADER, found[DEVICE_HEADER]),
            validation.client_ip(IP_HEADER, found[IP_HEADER]))


_STATES = {s: pb.ReservationState.Value(f"RESERVATION_STATE_{s.value}") for s in State}
_REASONS = {r: (pb.RejectReason.Value(f"REJECT_REASON_{r.value}") if r.value else 0)
            for r in RejectReason}


def reservation(r: Reservation) -> pb.Reservation:
    msg = pb.Reservation(
        reservation_id=r.reservation_id,
        channel=r.channel,
        order_id=r.order_id,
        buyer_id=r.buyer_id,
        state=_STATES[r.state],  # type: ignore[arg-type]  # an enum value is an int
        reject_reason=_REASONS[r.reject_reason],  # type: ignore[arg-type]  # an enum value is an int
        allocations=[pb.Allocation(sku=a.sku, warehouse_id=a.warehouse_id, quantity=a.quantity)
                     for a in r.allocations],
        failed_sku=r.failed_sku,
        queue_position=r.queue_position,
        lines=[pb.OrderLine(sku=ln.sku, quantity=ln.quantity, warehouse_id=ln.warehouse_id)
               for ln in r.lines],
    )
    if r.expires_at_ms:
        msg.expires_at.CopyFrom(to_timestamp(r.expires_at_ms))
    return msg


def level(lv: StockLevel) -> pb.StockLevel:
    return pb.StockLevel(warehouse_id=lv.warehouse_id, available=lv.available, held=lv.held,
                         confirmed=lv.confirmed, returned=lv.returned, loaded=lv.loaded)


def stock(s: Stock) -> rs_pb.GetStockResponse:
    return rs_pb.GetStockResponse(sku=s.sku, levels=[level(lv) for lv in s.levels],
                                  queue_depth=s.queue_depth)


def stock_items(items: object) -> tuple[StockItem, ...]:
    return tuple(StockItem(it.sku, it.warehouse_id, it.quantity) for it in items)  # type: ignore[attr-defined]


def load_mode(mode: int) -> str:
    if mode == admin_pb.LOAD_MODE_UNSPECIFIED:
        raise InvalidArgument("mode", "must be LOAD_MODE_SET or LOAD_MODE_ADD")
    return admin_pb.LoadMode.Name(mode).removeprefix("LOAD_MODE_")


def flash_sale_request(req: admin_pb.StartFlashSaleRequest) -> FlashSale:
    if not req.HasField("ends_at"):
        raise InvalidArgument("ends_at", "must be set")
    return FlashSale(
        sale_id=req.sale_id,
        items=stock_items(req.items),
        # 0 = "when started": a retried Start without starts_at stays the same request.
        starts_at_ms=timestamp_ms(req.starts_at) if req.HasField("starts_at") else 0,
        ends_at_ms=timestamp_ms(req.ends_at),
        per_buyer_limit=req.per_buyer_limit,
        hold_ttl_ms=duration_ms("hold_ttl", req.hold_ttl),
        queue_deadline_ms=duration_ms("queue_deadline", req.queue_deadline),
        buyer_rate=rate_limit("buyer_rate", req.buyer_rate),
        device_rate=rate_limit("device_rate", req.device_rate),
        ip_rate=rate_limit("ip_rate", req.ip_rate),
    )


def sale_window(req: admin_pb.RescheduleFlashSaleRequest) -> tuple[int, int]:
    """(starts_at ms or 0: keep the sale's start, ends_at ms)."""
    if not req.HasField("ends_at"):
        raise InvalidArgument("ends_at", "must be set")
    starts = timestamp_ms(req.starts_at) if req.HasField("starts_at") else 0
    return starts, timestamp_ms(req.ends_at)


def rate_limit(field: str, msg: admin_pb.RateLimit) -> RateLimit:
    if msg.orders < 0:
        raise InvalidArgument(f"{field}.orders", "must not be negative")
    return RateLimit(msg.orders, duration_ms(f"{field}.per", msg.per))


def to_rate_limit(rate: RateLimit) -> admin_pb.RateLimit | None:
    if not rate.orders:
        return None
    return admin_pb.RateLimit(orders=rate.orders, per=to_duration(rate.per_ms))


_BLOCK_KINDS = {BlockKind.BUYER: admin_pb.BLOCK_KIND_BUYER,
                BlockKind.DEVICE: admin_pb.BLOCK_KIND_DEVICE,
                BlockKind.IP: admin_pb.BLOCK_KIND_IP}
_BLOCK_KINDS_IN: dict[int, BlockKind] = {v: k for k, v in _BLOCK_KINDS.items()}


def block_kind(field: str, value: int, required: bool = True) -> BlockKind | None:
    if value == admin_pb.BLOCK_KIND_UNSPECIFIED and not required:
        return None
    if value not in _BLOCK_KINDS_IN:
        raise InvalidArgument(field, "must be BLOCK_KIND_BUYER, _DEVICE or _IP")
    return _BLOCK_KINDS_IN[value]


def block_entries(field: str, entries: Iterable[admin_pb.BlockEntry]) -> list[BlockEntry]:
    out = []
    for i, e in enumerate(entries):
        kind = block_kind(f"{field}[{i}].kind", e.kind)
        assert kind is not None
        out.append(BlockEntry(kind, e.value, e.reason))
    return out


def block_entry(entry: BlockEntry) -> admin_pb.BlockEntry:
    return admin_pb.BlockEntry(kind=_BLOCK_KINDS[entry.kind],  # type: ignore[arg-type]
                               value=entry.value, reason=entry.reason,
                               added_at=to_timestamp(entry.added_at_ms),
                               added_by=entry.added_by)


def flash_sale(sale: FlashSale, now_ms: int) -> admin_pb.FlashSale:
    return admin_pb.FlashSale(
        sale_id=sale.sale_id,
        state=admin_pb.FlashSaleState.Value(  # type: ignore[arg-type]  # an int
            f"FLASH_SALE_STATE_{sale.state(now_ms).value}"),
        starts_at=to_timestamp(sale.starts_at_ms),
        ends_at=to_timestamp(sale.ends_at_ms),
        per_buyer_limit=sale.per_buyer_limit,
        hold_ttl=to_duration(sale.hold_ttl_ms),
        queue_deadline=to_duration(sale.queue_deadline_ms),
        items=[admin_pb.FlashSaleItem(
            sku=it.sku, warehouse_id=it.warehouse_id, quantity=it.quantity,
            level=level(sale.levels.get((it.sku, it.warehouse_id), StockLevel(it.warehouse_id))))
            for it in sale.items],
        buyer_rate=to_rate_limit(sale.buyer_rate),
        device_rate=to_rate_limit(sale.device_rate),
        ip_rate=to_rate_limit(sale.ip_rate),
    )


# -- the oversell guard (guard_service.proto) -------------------------------------------

_BREAKER_STATES = {BreakerState.NONE: guard_pb.BREAKER_STATE_UNSPECIFIED,
                   BreakerState.CLOSED: guard_pb.BREAKER_STATE_CLOSED,
                   BreakerState.OPEN: guard_pb.BREAKER_STATE_OPEN}
_BREAKER_STATES_IN: dict[int, BreakerState] = {v: k for k, v in _BREAKER_STATES.items()}


def breaker_state(value: int) -> BreakerState:
    if value not in _BREAKER_STATES_IN:
        raise InvalidArgument("state", f"is not a BreakerState ({value})")
    return _BREAKER_STATES_IN[value]


def switch(field: str, value: int) -> bool | None:
    """SWITCH_ON -> True, SWITCH_OFF -> False, SWITCH_UNSPECIFIED -> None (unchanged)."""
    if value not in (guard_pb.SWITCH_UNSPECIFIED, guard_pb.SWITCH_ON, guard_pb.SWITCH_OFF):
        raise InvalidArgument(field, f"is not a Switch ({value})")
    return None if value == guard_pb.SWITCH_UNSPECIFIED else value == guard_pb.SWITCH_ON


def sku_guard(g: SkuGuard) -> guard_pb.SkuGuard:
    msg = guard_pb.SkuGuard(
        sku=g.sku, available=g.available, safety_stock=g.safety_stock,
        computed_safety_stock=g.computed_safety_stock,
        average_daily_sales=g.average_daily_sales, factor=g.factor,
        live_stream=g.live_stream,
        daily_sales=[guard_pb.DailySales(day=d, units=u) for d, u in g.daily_sales],
        breakers=[guard_pb.Breaker(
            channel=b.channel, state=_BREAKER_STATES[b.state], forced=_BREAKER_STATES[b.forced],
            threshold=b.threshold, own_threshold=b.own_threshold, closes_at=b.closes_at,
            opened_at=to_timestamp(b.opened_at_ms) if b.opened_at_ms else None)
            for b in g.breakers])
    if g.override is not None:
        msg.override = g.override
    return msg


def open_breaker(b: OpenBreaker) -> guard_pb.OpenBreaker:
    return guard_pb.OpenBreaker(sku=b.sku, channel=b.channel,
                                opened_at=to_timestamp(b.opened_at_ms))
