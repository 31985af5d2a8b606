"""FindOrders, the service desk's lookup: a customer gives a phone number, an order
number or a tracking number, and the answer is every order it names (every order of
that buyer on every channel) with what the desk tells the customer: the current step,
who touched the order last, when it should ship and arrive, why it is held, and its
tracking number.

The buyer is the keyed hash of the receiver phone, as the hub keys buyers everywhere
(ordersync/validation.py): the phone asked for is hashed the same way, never kept.
Redis lists each order under its buyer, its order number and its tracking numbers
(storage/orders.py, `ofind`) before the order is written; the index is a superset (a
refused order may be listed), so every order read is checked against the question.
The records store answers the same question in SQL for orders that left Redis
(records/reads.py merges both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reservation.errors import InvalidArgument, NotFound
from reservation.ordersync import validation as ov
from reservation.ordersync.events import OrderEvent
from reservation.ordersync.health import DEFAULT_SLA
from reservation.ordersync.model import ChannelOrder, Order
from reservation.ordersync.states import OrderState
from reservation.settings import Settings

if TYPE_CHECKING:
    from reservation.ordersync.hub import OrderHub

BUYER, NUMBER, TRACKING = "b", "n", "t"
"""What a question names: a buyer (phone hash), an order number, a tracking number."""
PAGE_DEFAULT, PAGE_MAX = 50, 200
S = OrderState

STEPS: dict[OrderState, str] = {
    S.PENDING_PAYMENT: "awaiting payment", S.PAID: "paid, not yet routed",
    S.ON_HOLD: "held for review", S.ROUTED: "routed to a warehouse",
    S.ALLOCATED: "with the warehouse", S.PRINTED: "label printed",
    S.SHIPPED: "shipped", S.DELIVERED: "delivered", S.CANCELLED: "cancelled",
    S.REFUND_REQUESTED: "refund requested", S.REFUNDED: "refunded", S.CLOSED: "closed"}
"""The step of each state, in the words the desk tells a customer."""


@dataclass(frozen=True)
class Ask:
    """One question: the kind of value and the value as the index keys it."""

    kind: str
    value: str
    limit: int = PAGE_DEFAULT

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}"

    def matches(self, order: Order) -> bool:
        """Whether the order really answers (the Redis index is a superset)."""
        if self.kind == BUYER:
            return order.buyer_hash == self.value
        if self.kind == NUMBER:
            return order.order_id == self.value
        return any(s.tracking_number == self.value for s in order.shipments)


def ask(phone: str, order_number: str, tracking_number: str, page_size: int,
        settings: Settings) -> Ask:
    """The request checked: exactly one of the three, each well formed."""
    given = [(f, v) for f, v in (("phone", phone), ("order_number", order_number),
                                 ("tracking_number", tracking_number)) if v]
    if not given:
        raise InvalidArgument("phone", "give one of phone, order_number or tracking_number")
    if len(given) > 1:
        raise InvalidArgument(given[1][0], f"give only one of phone, order_number or "
                                           f"tracking_number (also got {given[0][0]})")
    if not 0 <= page_size <= PAGE_MAX:
        raise InvalidArgument("page_size", f"must be between 0 and {PAGE_MAX}")
    limit = page_size or PAGE_DEFAULT
    field, value = given[0]
    if field == "phone":
        ov.phone("phone", value)
        return Ask(BUYER, ov.buyer_hash(value, settings), limit)
    ov.text(field, value, required=True)
    if "\t" in value or len(value) > 256:
        raise InvalidArgument(field, "must be at most 256 characters, without tabs")
    return Ask(NUMBER if field == "order_number" else TRACKING, value, limit)


def names_of(order: ChannelOrder | Order) -> tuple[str, str]:
    """What a synced order is listed under (its tracking numbers come with shipments)."""
    return f"{BUYER}:{order.buyer_hash}", f"{NUMBER}:{order.order_id}"


def tracking_name(number: str) -> str:
    """What an order is listed under for a shipment's tracking number."""
    return f"{TRACKING}:{number}"


def all_names(order: Order) -> list[str]:
    """Every name the order is listed under: buyer, order number, tracking numbers."""
    return [*names_of(order), *(tracking_name(s.tracking_number) for s in order.shipments
                                if s.tracking_number)]


@dataclass(frozen=True)
class Seen:
    """An order found, with its last event (None when its history is not at hand)."""

    order: Order
    last: OrderEvent | None


@dataclass(frozen=True)
class Found:
    """What the desk answers about one order."""

    order: Order
    step: str
    last_actor: str
    last_change_ms: int
    ship_by_ms: int
    """When it shipped, else when it should (payment + the channel's ship target);
    0 when not paid."""
    deliver_by_ms: int
    """When it was delivered, else when it should be (shipping + the delivery time);
    0 when not known."""
    held_because: str
    """Why it is held for review (ON_HOLD), or shipped past a hold; '' otherwise."""
    carrier: str
    tracking_number: str


def split_ref(ref: str) -> tuple[str, str, str]:
    """(channel, shop, order_id) of "channel:shop/order_id" (channel and shop hold no
    ':' or '/': validation)."""
    channel, _, rest = ref.partition(":")
    shop, _, order_id = rest.partition("/")
    return channel, shop, order_id


async def seen(hub: OrderHub, ref: str) -> Seen | None:
    """The order as Redis has it with its last event; None when Redis has not."""
    key = split_ref(ref)
    try:
        order = await hub.get(*key)
        last = await hub.history(*key, -1, 1)
    except NotFound:
        return None
    return Seen(order, last[0] if last else None)


async def hot(hub: OrderHub, question: Ask) -> list[Seen]:
    """The orders Redis has that answer the question, newest first."""
    out = []
    for ref in await hub.orders.found(question.name, question.limit):
        found = await seen(hub, ref)
        if found is not None and question.matches(found.order):
            out.append(found)
    return out


def describe(s: Seen, settings: Settings) -> Found:
    o = s.order
    ship_ms = settings.order_sla_targets.get(o.channel, DEFAULT_SLA)[1]
    ship_by = o.shipped_at_ms or (o.paid_at_ms + ship_ms if o.paid else 0)
    deliver_by = o.delivered_at_ms or (ship_by + settings.order_delivery_ms if ship_by else 0)
    held = ""
    if o.state == S.ON_HOLD and o.review:
        held = o.review[-1]
    elif o.intercept_failed:
        held = f"shipped while {o.intercept_failed}: intercept failed"
    last_ship = o.shipments[-1] if o.shipments else None
    return Found(
        order=o, step=STEPS[o.state],
        last_actor=s.last.actor if s.last else "",
        last_change_ms=s.last.at_ms if s.last else o.updated_at_ms,
        ship_by_ms=ship_by, deliver_by_ms=deliver_by, held_because=held,
        carrier=last_ship.carrier if last_ship else o.carrier,
        tracking_number=last_ship.tracking_number if last_ship else "")

