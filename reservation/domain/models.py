"""Domain dataclasses. Plain Python: nothing here knows protobuf or Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from reservation.domain.states import State

__all__ = ["State"]  # re-exported: the table itself lives in states.py


class RejectReason(StrEnum):
    NONE = ""
    SOLD_OUT = "SOLD_OUT"
    NOT_ON_SALE = "NOT_ON_SALE"
    BUYER_LIMIT_EXCEEDED = "BUYER_LIMIT_EXCEEDED"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    QUEUE_FULL = "QUEUE_FULL"
    OPERATOR_REJECTED = "OPERATOR_REJECTED"
    CHANNEL_PAUSED = "CHANNEL_PAUSED"
    RATE_LIMITED = "RATE_LIMITED"
    BLOCKED = "BLOCKED"
    SALE_PAUSED = "SALE_PAUSED"


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    warehouse_id: str = ""


@dataclass(frozen=True)
class Allocation:
    sku: str
    warehouse_id: str
    quantity: int


@dataclass(frozen=True)
class ReserveCommand:
    channel: str
    order_id: str
    buyer_id: str
    lines: tuple[OrderLine, ...]
    hold_ttl_ms: int = 0
    allow_queue: bool = False
    # Set by routing: per SKU, the warehouses to try in order ("w1,w2"), and the day
    # (yyyymmdd) whose per-warehouse load the hold counts towards.
    routes: tuple[tuple[str, str], ...] = ()
    load_day: str = ""
    # Who is behind the order, as the adapter tells (x-device-id, x-client-ip metadata):
    # what a flash sale's gate limits and blocks besides the buyer. "" : not told.
    device_id: str = ""
    client_ip: str = ""


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    channel: str
    order_id: str
    buyer_id: str
    state: State
    lines: tuple[OrderLine, ...]
    allocations: tuple[Allocation, ...] = ()
    reject_reason: RejectReason = RejectReason.NONE
    failed_sku: str = ""
    expires_at_ms: int = 0
    queue_position: int = 0


@dataclass(frozen=True)
class StockLevel:
    warehouse_id: str
    available: int = 0
    held: int = 0
    confirmed: int = 0
    returned: int = 0
    loaded: int = 0


@dataclass(frozen=True)
class Stock:
    sku: str
    levels: tuple[StockLevel, ...]
    queue_depth: int = 0


@dataclass(frozen=True)
class StockItem:
    sku: str
    warehouse_id: str
    quantity: int


@dataclass(frozen=True)
class RateLimit:
    """At most `orders` new orders per `per_ms` (as many at once); 0 orders: none."""

    orders: int = 0
    per_ms: int = 0


class BlockKind(StrEnum):
    BUYER = "buyer"
    DEVICE = "device"
    IP = "ip"


@dataclass(frozen=True)
class BlockEntry:
    kind: BlockKind
    value: str
    reason: str = ""
    added_at_ms: int = 0
    added_by: str = ""


class SaleState(StrEnum):
    SCHEDULED = "SCHEDULED"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"
    STOPPED = "STOPPED"
    PAUSED = "PAUSED"


@dataclass(frozen=True)
class FlashSale:
    sale_id: str
    items: tuple[StockItem, ...]
    starts_at_ms: int
    ends_at_ms: int
    per_buyer_limit: int = 0
    hold_ttl_ms: int = 0
    queue_deadline_ms: int = 0
    stopped: bool = False
    levels: dict[tuple[str, str], StockLevel] = field(default_factory=dict)
    buyer_rate: RateLimit = RateLimit()
    device_rate: RateLimit = RateLimit()
    ip_rate: RateLimit = RateLimit()
    paused: bool = False
    """Held by an operator (PauseFlashSale) until resumed: reserves nothing."""

    def state(self, now_ms: int) -> SaleState:
        if self.stopped:
            return SaleState.STOPPED
        if self.paused and now_ms < self.ends_at_ms:
            return SaleState.PAUSED
        if now_ms < self.starts_at_ms:
            return SaleState.SCHEDULED
        return SaleState.ACTIVE if now_ms < self.ends_at_ms else SaleState.ENDED
