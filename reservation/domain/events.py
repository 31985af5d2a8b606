"""Write-back events and what each one does to the stock counters. No protobuf, no Redis.

Shared by everything that reads the shards' write-back streams: the WMS pull API, reconcile,
and the audit-trail consumers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventType(StrEnum):
    STOCK_LOADED = "STOCK_LOADED"
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"
    RETURNED = "RETURNED"
    QUEUED = "QUEUED"
    DEAD_LETTERED = "DEAD_LETTERED"
    RESTOCKED = "RESTOCKED"
    ADDRESS_CHANGED = "ADDRESS_CHANGED"
    CHANNEL_PAUSED = "CHANNEL_PAUSED"
    CHANNEL_RESUMED = "CHANNEL_RESUMED"
    CARRIER_CHOSEN = "CARRIER_CHOSEN"
    ORDER_EXPEDITED = "ORDER_EXPEDITED"


COUNTERS = ("loaded", "available", "held", "confirmed", "returned")

# How one unit of each event type moves the counters of its SKU and warehouse; the
# quantity multiplies it. QUEUED and DEAD_LETTERED move nothing (no warehouse yet);
# CHANNEL_PAUSED / CHANNEL_RESUMED (a SKU's circuit breaker on a channel) neither.
MOVES: dict[EventType, tuple[tuple[str, int], ...]] = {
    EventType.STOCK_LOADED: (("loaded", 1), ("available", 1)),
    EventType.HELD: (("available", -1), ("held", 1)),
    EventType.CONFIRMED: (("held", -1), ("confirmed", 1)),
    EventType.RELEASED: (("held", -1), ("available", 1)),
    EventType.EXPIRED: (("held", -1), ("available", 1)),
    EventType.RETURNED: (("available", -1), ("returned", 1)),
    EventType.QUEUED: (),
    EventType.DEAD_LETTERED: (),
    # A paid order cancelled or refunded before shipping: its sold units are back.
    EventType.RESTOCKED: (("confirmed", -1), ("available", 1)),
    # An order the WMS already has got a new address (detail: the address as JSON).
    EventType.ADDRESS_CHANGED: (),
    EventType.CHANNEL_PAUSED: (),
    EventType.CHANNEL_RESUMED: (),
    # The carrier chosen for an order (detail: shop, order_id, carrier, cost_cents).
    EventType.CARRIER_CHOSEN: (),
    # An order to pick first (detail: shop, order_id, priority, reason).
    EventType.ORDER_EXPEDITED: (),
}


@dataclass(frozen=True)
class WriteBackEvent:
    event_id: str
    type: EventType
    channel: str
    order_id: str
    reservation_id: str
    sku: str
    warehouse_id: str
    quantity: int
    occurred_at_ms: int
    delivery_count: int
    shard: int = 0
    detail: str = ""
    """Type-specific data as JSON (ADDRESS_CHANGED: the new address; CARRIER_CHOSEN:
    the carrier and its cost)."""
    entry_id: str = ""
    """Where this delivery sits in the stream: what acknowledging it needs."""

    def moves(self) -> list[tuple[str, int]]:
        return [(counter, sign * self.quantity) for counter, sign in MOVES[self.type]]


def event_from_fields(shard: int, entry_id: str, fields: dict[str, str],
                      delivery_count: int) -> WriteBackEvent:
    """A stream entry as an event; a replayed dead letter keeps its first event id."""
    return WriteBackEvent(
        event_id=fields.get("eid") or f"{shard}-{entry_id}",
        type=EventType(fields["t"]),
        channel=fields.get("ch", ""),
        order_id=fields.get("oid", ""),
        reservation_id=fields.get("rid", ""),
        sku=fields.get("sku", ""),
        warehouse_id=fields.get("wh", ""),
        quantity=int(fields.get("q", "0")),
        occurred_at_ms=int(fields.get("ts", "0")),
        delivery_count=delivery_count,
        shard=shard,
        detail=fields.get("d", ""),
        entry_id=entry_id,
    )

