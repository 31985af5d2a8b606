"""The canonical order: one model for every channel. Plain dataclasses, no protobuf.

Identity is (channel, shop, order_id). The buyer is a stable keyed hash of the receiver's
phone: the clear number never enters a record, an event or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reservation.ordersync.effects import Units
from reservation.ordersync.states import OrderState

CHANNELS = ("taobao", "tmall", "jd", "pdd", "douyin", "wechat", "pos")
"""Channels the hub knows; anything else is refused (InvalidArgument 'channel')."""

GIFT_SUFFIX = "-GIFT"


@dataclass(frozen=True)
class Address:
    province: str
    city: str
    district: str = ""
    detail: str = ""

    def key(self) -> str:
        """What 'the same address' means for duplicate suspicion."""
        return "|".join(p.strip().lower() for p in
                        (self.province, self.city, self.district, self.detail))


@dataclass(frozen=True)
class Line:
    sku: str
    quantity: int
    price_cents: int = 0
    brand: str = ""
    category: str = ""
    warehouse_id: str = ""
    """Asked-for warehouse; empty: routing (or the SKU's warehouses in priority order)."""
    gift_of: str = ""
    """For a gift line: its parent order id (its own id is '<order_id>-GIFT')."""

    @property
    def is_gift(self) -> bool:
        return bool(self.gift_of)

    @property
    def line_id(self) -> str:
        return f"{self.gift_of}{GIFT_SUFFIX}" if self.gift_of else ""


@dataclass(frozen=True)
class Shipment:
    carrier: str
    tracking_number: str
    shipped_at_ms: int
    warehouse_id: str = ""
    """The warehouse that shipped it: the WMS's report, else the one warehouse the
    order's stock was held at (empty when it was held at several)."""

    def same_as(self, other: Shipment) -> bool:
        """The same shipment reported again (one report may name the warehouse and a
        repeat not, or the hub filled it in)."""
        return (self.carrier, self.tracking_number, self.shipped_at_ms) == (
            other.carrier, other.tracking_number, other.shipped_at_ms) and (
            not self.warehouse_id or not other.warehouse_id
            or self.warehouse_id == other.warehouse_id)


@dataclass(kw_only=True)
class OrderFacts:
    """What a channel states of an order: the fields its report and the hub's record of
    it share. Keyword-only, so each subclass adds its own fields without minding the
    defaults' order. Not frozen: a frozen dataclass cannot share a base with the hub's
    `Order`, which the use cases change in place (ordersync/plan.py); nothing changes a
    report after validation, and nothing hashes one."""

    channel: str
    shop: str
    order_id: str
    raw_status: str
    modified_at_ms: int
    created_at_ms: int
    address: Address
    lines: tuple[Line, ...]
    total_cents: int = 0
    paid_cents: int = 0
    paid_at_ms: int = 0


@dataclass(kw_only=True)
class Reported(OrderFacts):
    """What a channel reports of an order, its two forms' fields: RawOrder as the edge
    received it, ChannelOrder once validated."""

    actor: str = ""


@dataclass(kw_only=True)
class RawOrder(Reported):
    """An order as the edge received it (clear phone, state as text): validated into a
    ChannelOrder before anything else sees it."""

    state: str
    receiver_phone: str


@dataclass(kw_only=True)
class ChannelOrder(Reported):
    """What an adapter sends: the channel's view, already mapped to canonical fields."""

    state: OrderState
    buyer_hash: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.shop, self.order_id)


@dataclass(kw_only=True)
class Order(OrderFacts):
    """The hub's record of an order (what GetOrder answers): the channel's facts, the
    hub's state and what the hub did with it."""

    state: OrderState
    version: int
    channel_state: OrderState
    """The last state the channel reported (the hub may have moved on: ROUTED, ...)."""
    buyer_hash: str
    routed_at_ms: int = 0
    shipped_at_ms: int = 0
    delivered_at_ms: int = 0
    updated_at_ms: int = 0
    shipments: tuple[Shipment, ...] = ()
    review: tuple[str, ...] = ()
    """Why the order is (or was) held for review, newest last."""
    hold_gens: dict[str, int] = field(default_factory=dict)
    """Per shard: generation of the stock hold ref (bumped when a hold expired or ended
    and is made again)."""
    wms_notified: bool = False
    routes: tuple[str, ...] = ()
    """Per line: the warehouses routing decided, in the order the stock script tries them
    ("w1,w2"); empty when the order was not routed (the line's own warehouse, else the
    SKU's warehouses in priority order)."""
    routed_warehouses: tuple[str, ...] = ()
    """Where routing planned to ship from when the order arrived (GetOrder's warehouses
    are where its stock is actually held)."""
    routing_version: int = 0
    """The rule set version that decided `routed_warehouses` (0: not routed), so a
    backtest compares a candidate with the decisions each version really made."""
    units: Units = Units.NONE
    """What the order's units are after the path it walked (ordersync/effects.py)."""
    restocked: dict[str, dict[str, int]] = field(default_factory=dict)
    """Goods that came back after shipping: restock id -> {sku: units} (RestockOrder)."""
    intercept_failed: str = ""
    """The hold (ON_HOLD or REFUND_REQUESTED) it shipped past, '' when none: the shipment
    was recorded as a fact and a review opened (interception/service.py)."""
    state_at_ms: int = 0
    """When the order entered its state (the hub's clock; 0 in documents written before
    it was kept): how long it has sat there, for the overdue thresholds."""
    priority: int = 0
    """1 once expedited (ExpediteOrder): it goes first in its shard's sync batch and the
    WMS heard ORDER_EXPEDITED; 0 otherwise."""
    carrier: str = ""
    """The carrier the interception's carrier table chose ('' : none chosen); the WMS
    heard it as CARRIER_CHOSEN."""
    carrier_cost_cents: int = 0
    after_sales: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per SKU returned or refunded: the structured after-sales reason (level1, level2,
    batch, at_ms, actor; SetAfterSalesReason), the newest kept."""
    wms_state: str = ""
    """The WMS's own last state of the order (ReportWarehouseState: ALLOCATED, PRINTED,
    SHIPPED, CANCELLED); '' until it reports one. It moves nothing: the consistency rate
    compares it with the hub's state."""
    wms_raw_status: str = ""
    wms_at_ms: int = 0
    """When the WMS reached `wms_state` (the WMS's clock)."""
    # Filled from the live holds on read, not stored in the document:
    warehouses: tuple[str, ...] = ()
    reservation_state: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.channel, self.shop, self.order_id)

    @property
    def paid(self) -> bool:
        return self.paid_at_ms > 0

    @property
    def ever_shipped(self) -> bool:
        return self.shipped_at_ms > 0

    def restockable(self) -> dict[str, int]:
        """Per SKU: units shipped and not yet restocked."""
        left: dict[str, int] = {}
        for line in self.lines:
            left[line.sku] = left.get(line.sku, 0) + line.quantity
        for units in self.restocked.values():
            for sku, n in units.items():
                left[sku] -= n
        return left

    def copy(self, **changes: Any) -> Order:
        # A shallow copy by its __dict__: dataclasses.replace re-runs __init__ and
        # copy.copy goes through __reduce_ex__, both a measurable share of a sync's CPU.
        new = Order.__new__(Order)
        new.__dict__.update(self.__dict__, **changes)
        return new


# Fields of a ChannelOrder compared with the stored order to tell "same payload again"
# from "changed payload"; the diff of these is recorded. (paid_at is the hub's: the
# channel's payment time only stamps it when the order reaches PAID.)
PAYLOAD_FIELDS = ("raw_status", "modified_at_ms", "created_at_ms", "buyer_hash", "address",
                  "lines", "total_cents", "paid_cents")
