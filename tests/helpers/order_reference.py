"""The reference model of the order hub's model-based test (test_model.py): what every
order's units should be, and so what every stock counter should read.

It is stated here on its own, from what was sent and what the service answered; it never
reads reservation/ordersync (neither its state table nor its effect table). The rule, in
words:

- An order holds its units when it first arrives, unpaid, until the hold TTL; the units
  come from its SKUs' warehouses in priority order, every line or none.
- Its units are sold (confirmed) once it is known paid (the channel reports a payment,
  or a state that can only follow one) or once it has shipped. A sale keeps a live hold;
  otherwise it takes the units anew, every line or none.
- A shipped order's units stay sold: cancelling, refunding or closing it afterwards gives
  nothing back; goods that come back return by a restock, at most what was shipped, to
  the warehouses that shipped them.
- An order cancelled, refunded or closed before it shipped gives its units back.
- An unpaid hold expires at its TTL; the order then holds nothing until it is sold.
- When the units cannot be had, the order holds none: a channel's or the WMS's report
  is recorded and the order waits for review; an operator's move is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

PENDING_PAYMENT, PAID, ON_HOLD = "PENDING_PAYMENT", "PAID", "ON_HOLD"
ROUTED, ALLOCATED, PRINTED = "ROUTED", "ALLOCATED", "PRINTED"
SHIPPED, DELIVERED, CANCELLED = "SHIPPED", "DELIVERED", "CANCELLED"
REFUND_REQUESTED, REFUNDED, CLOSED = "REFUND_REQUESTED", "REFUNDED", "CLOSED"
STATES = (PENDING_PAYMENT, PAID, ON_HOLD, ROUTED, ALLOCATED, PRINTED, SHIPPED, DELIVERED,
          CANCELLED, REFUND_REQUESTED, REFUNDED, CLOSED)

ENDED = frozenset({CANCELLED, REFUNDED, CLOSED})
"""The order is over: nothing more happens to it but closing."""
GONE = frozenset({SHIPPED, DELIVERED})
"""The goods have left a warehouse."""
SOLD = frozenset({PAID, ROUTED, ALLOCATED, PRINTED})
"""Paid and on its way (an operator's move there sells the units)."""
PAYMENT_REPORTS = SOLD | {REFUND_REQUESTED}
"""What a channel reports only of an order that was paid."""
HOLDS = frozenset({ON_HOLD, REFUND_REQUESTED})
"""Paused: held for review, or the buyer asked for the money back."""
LABELS = frozenset({ALLOCATED, PRINTED})


class Units(Enum):
    NONE = "none"            # never seen
    HELD = "held"            # held for the unpaid order, until the TTL
    EXPIRED = "expired"      # the unpaid hold expired: nothing held
    CONFIRMED = "confirmed"  # sold
    SHIPPED = "shipped"      # sold and gone
    RELEASED = "released"    # given back: ended before shipping
    REFUSED = "refused"      # the units could not be had: nothing held


Line = tuple[str, int]
Taken = list[list]  # [[sku, warehouse, units], ...] in the order they were taken


@dataclass
class Order:
    oid: str
    channel: str
    shop: str
    lines: tuple[Line, ...]
    units: Units = Units.NONE
    paid: bool = False
    taken: Taken = field(default_factory=list)
    held_from: tuple[float, float] | None = None
    """When the unpaid hold was made: between these two clock readings (seconds)."""
    restocked: dict[str, int] = field(default_factory=dict)
    restock_ids: set[str] = field(default_factory=set)
    # What the service said of it last:
    state: str = ""
    version: int = 0
    stored_modified: int = 0
    stored_content: tuple | None = None
    trackings: set[str] = field(default_factory=set)
    shipped_past_hold: bool = False
    """It shipped while held: the service must flag it and open a review."""

    @property
    def known(self) -> bool:
        return self.version > 0

    @property
    def shipped(self) -> bool:
        return self.units == Units.SHIPPED

    @property
    def held(self) -> bool:
        """Paused and not shipped: no label, nothing ships past it."""
        return self.state in HOLDS and not self.shipped


class Stock:
    """Loaded units per SKU and warehouse; a SKU's warehouses in priority order."""

    def __init__(self, loads: dict[str, list[tuple[str, int]]]) -> None:
        self.loaded = {(sku, wh): n for sku, whs in loads.items() for wh, n in whs}
        self.priority = {sku: sorted(wh for wh, _ in whs) for sku, whs in loads.items()}

    def counters(self, orders: Iterable[Order]) -> dict[tuple[str, str], tuple[int, int, int]]:
        """(available, held, confirmed) per SKU and warehouse."""
        held = dict.fromkeys(self.loaded, 0)
        sold = dict.fromkeys(self.loaded, 0)
        for o in orders:
            into = held if o.units == Units.HELD else sold
            if o.units in (Units.HELD, Units.CONFIRMED, Units.SHIPPED):
                for sku, wh, n in o.taken:
                    into[(sku, wh)] += n
        return {k: (self.loaded[k] - held[k] - sold[k], held[k], sold[k]) for k in self.loaded}

    def take(self, orders: Iterable[Order], lines: Iterable[Line]) -> Taken | None:
        """Where the lines' units would come from now, every line or none."""
        left = {k: a for k, (a, _, _) in self.counters(orders).items()}
        taken: Taken = []
        for sku, need in lines:
            for wh in self.priority[sku]:
                n = min(need, left[(sku, wh)])
                if n > 0:
                    taken.append([sku, wh, n])
                    left[(sku, wh)] -= n
                    need -= n
            if need > 0:
                return None
        return taken


class Reference:
    """Every order's units, moved by the rule above."""

    def __init__(self, stock: Stock, orders: Iterable[Order]) -> None:
        self.stock = stock
        self.orders = {o.oid: o for o in orders}

    def counters(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        return self.stock.counters(self.orders.values())

    # -- the units of one order -------------------------------------------------------
    def _take(self, o: Order) -> bool:
        taken = self.stock.take(self.orders.values(), o.lines)
        if taken is None:
            o.units, o.taken, o.held_from = Units.REFUSED, [], None
            return False
        o.taken = taken
        return True

    def arrive(self, o: Order, window: tuple[float, float]) -> bool:
        if self._take(o):
            o.units, o.held_from = Units.HELD, window
            return True
        return False

    def can_sell(self, o: Order) -> bool:
        return (o.units in (Units.HELD, Units.CONFIRMED, Units.SHIPPED)
                or self.stock.take(self.orders.values(), o.lines) is not None)

    def sell(self, o: Order) -> bool:
        """Sold now or before; False: the units could not be had."""
        o.paid = True
        if o.units in (Units.CONFIRMED, Units.SHIPPED):
            return True
        if o.units != Units.HELD and not self._take(o):
            return False
        o.units, o.held_from = Units.CONFIRMED, None
        return True

    def ship(self, o: Order) -> bool:
        if not self.sell(o):
            return False
        o.units = Units.SHIPPED
        return True

    def give_back(self, o: Order) -> None:
        if not o.shipped:
            o.units, o.taken, o.held_from = Units.RELEASED, [], None

    def expire(self, o: Order) -> None:
        assert o.units == Units.HELD
        o.units, o.taken, o.held_from = Units.EXPIRED, [], None

    def restockable(self, o: Order, sku: str) -> int:
        if not o.shipped:
            return 0
        return sum(n for s, n in o.lines if s == sku) - o.restocked.get(sku, 0)

    def restock(self, o: Order, sku: str, units: int) -> None:
        """Back to the warehouses that shipped them, in the order they were taken."""
        o.restocked[sku] = o.restocked.get(sku, 0) + units
        for t in o.taken:
            if t[0] == sku and units > 0:
                n = min(units, t[2])
                t[2] -= n
                units -= n

    # -- what a change means for them -------------------------------------------------
    def change(self, o: Order, result: str, *, arrived: bool = False, paid: bool = False,
               refused: bool = False, window: tuple[float, float] = (0.0, 0.0)) -> str:
        """A change the service applied: the order arrived (first seen, not ended),
        was reported paid, and is now in state `result`, or the service said its units
        could not be had (`refused`). Moves the model; returns what the service got
        wrong by the rule ('' when nothing)."""
        if arrived:
            self.arrive(o, window)
        if refused:
            # A live hold or sold units are never refused; the service refuses only what
            # the stock cannot give now.
            if o.units in (Units.HELD, Units.CONFIRMED, Units.SHIPPED) or self.can_sell(o):
                return f"{o.oid}: units refused, but the model has them ({o.units.value})"
            o.units, o.taken, o.held_from = Units.REFUSED, [], None
            o.paid = o.paid or paid
            return ""
        if result in ENDED:
            self.give_back(o)
        elif result in GONE or result in SOLD or (paid and not o.paid):
            if not self.can_sell(o):
                return f"{o.oid}: {result} with units the stock does not have (oversold)"
            if result in GONE:
                self.ship(o)
            else:
                self.sell(o)
        return ""

    def needs_sale(self, o: Order, state: str) -> bool:
        return state in GONE or state in SOLD
