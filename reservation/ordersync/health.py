"""Order health in three rates, per channel and day of payment (seed 003): on time
against the promise, lifecycle completeness over 12 key nodes, and consistency between
the hub's state and the channel's.

- **On time**: the promise is payment + the channel's ship target
  (RESERVATION_ORDER_SLA, 4 h by default) + the delivery time
  (RESERVATION_ORDER_DELIVERY_MS, 72 h); an order delivered no later than 2 h past it
  kept it. An order counts once it is delivered or its promise + 2 h has passed;
  cancelled and refunded orders promise nothing.
- **Completeness**: of the delivered orders, those whose history shows every one of
  the 12 nodes (NODES), or all but one.
- **Consistency**: the hub's state against the channel's last state (the adapter's
  last report: the order's channel_state, or a report the hub refused, kept beside the
  order; AGREES) and against the WMS's own last state (ReportWarehouseState, kept on
  the order as wms_state; WMS_AGREES). A disagreement is an inconsistency once it is
  older than RESERVATION_ORDER_CONSISTENCY_GRACE_MS (a report in flight is not one),
  listed with all three sides and which of them disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reservation.ordersync.events import EventType, OrderEvent
from reservation.ordersync.model import Order
from reservation.ordersync.states import OrderState
from reservation.settings import Settings

S = OrderState
SLACK_MS = 2 * 3600 * 1000
"""On time against the promise: delivered at most this long after it."""
HOUR_MS = 3600 * 1000
DEFAULT_SLA = (2 * HOUR_MS, 4 * HOUR_MS)
"""Route within 2 h and ship within 4 h of payment unless RESERVATION_ORDER_SLA says
otherwise (the fulfilment figures' on-time targets, and the promise's ship part)."""

_NO_PROMISE = frozenset({S.CANCELLED, S.REFUNDED, S.REFUND_REQUESTED})


@dataclass(frozen=True)
class ChannelSeen:
    """The channel's last report of an order that the hub refused (kept beside the
    order; an accepted report is the order's own channel_state)."""

    state: str
    raw_status: str
    modified_at_ms: int


def promise_ms(o: Order, settings: Settings) -> int:
    """When the buyer was promised delivery (0: unpaid)."""
    if not o.paid:
        return 0
    ship = settings.order_sla_targets.get(o.channel, DEFAULT_SLA)[1]
    return o.paid_at_ms + ship + settings.order_delivery_ms


def on_time(o: Order, settings: Settings, now_ms: int) -> bool | None:
    """Whether the order kept its promise; None while it cannot tell (not due yet, or
    nothing was promised)."""
    due = promise_ms(o, settings)
    if not due or (o.state in _NO_PROMISE and not o.delivered_at_ms):
        return None
    if o.delivered_at_ms:
        return o.delivered_at_ms <= due + SLACK_MS
    return False if now_ms > due + SLACK_MS else None


def _moved_to(state: OrderState) -> Callable[[Order, Sequence[OrderEvent]], bool]:
    return lambda o, h: any(e.type == EventType.TRANSITION and e.to_state == state.value
                            for e in h)


def _channel_said(*said: OrderState) -> Callable[[Order, Sequence[OrderEvent]], bool]:
    names = {s.value for s in said}

    def check(o: Order, h: Sequence[OrderEvent]) -> bool:
        return o.channel_state.value in names or any(
            e.changes.get("channel_state", {}).get("after") in names for e in h)
    return check


NODES: tuple[tuple[str, Callable[[Order, Sequence[OrderEvent]], bool]], ...] = (
    ("created", lambda o, h: any(e.type == EventType.CREATED for e in h)),
    ("paid", lambda o, h: o.paid_at_ms > 0),
    ("routed", lambda o, h: o.routed_at_ms > 0),
    ("warehouse", lambda o, h: bool(o.warehouses or o.routed_warehouses
                                    or any(s.warehouse_id for s in o.shipments))),
    ("allocated", _moved_to(S.ALLOCATED)),
    ("printed", _moved_to(S.PRINTED)),
    ("carrier", lambda o, h: any(s.carrier for s in o.shipments)),
    ("tracking_number", lambda o, h: any(s.tracking_number for s in o.shipments)),
    ("shipped", lambda o, h: o.shipped_at_ms > 0),
    ("channel_shipped", _channel_said(S.SHIPPED, S.DELIVERED, S.CLOSED)),
    ("delivered", lambda o, h: o.delivered_at_ms > 0),
    ("channel_delivered", _channel_said(S.DELIVERED, S.CLOSED)),
)
"""The 12 key nodes of an order's life, each read from the order and its history."""


def missing_nodes(o: Order, history: Sequence[OrderEvent]) -> list[str]:
    return [name for name, seen in NODES if not seen(o, history)]


def complete(o: Order, history: Sequence[OrderEvent]) -> bool:
    """At most one of the 12 nodes missing."""
    return len(missing_nodes(o, history)) <= 1


AGREES: dict[OrderState, frozenset[OrderState]] = {
    S.PENDING_PAYMENT: frozenset({S.PENDING_PAYMENT}),
    S.PAID: frozenset({S.PAID}),
    S.ON_HOLD: frozenset({S.PENDING_PAYMENT, S.PAID}),
    S.ROUTED: frozenset({S.PAID}),
    S.ALLOCATED: frozenset({S.PAID}),
    S.PRINTED: frozenset({S.PAID}),
    S.SHIPPED: frozenset({S.SHIPPED}),
    S.DELIVERED: frozenset({S.DELIVERED, S.CLOSED}),
    S.CANCELLED: frozenset({S.CANCELLED, S.CLOSED}),
    S.REFUND_REQUESTED: frozenset({S.REFUND_REQUESTED}),
    S.REFUNDED: frozenset({S.REFUNDED, S.CLOSED}),
    S.CLOSED: frozenset({S.CLOSED, S.CANCELLED, S.REFUNDED, S.DELIVERED}),
}
"""For each hub state, the channel states that agree with it (a shipped order the
channel still shows as paid has not had its tracking number pushed back)."""


_WAREHOUSE_WORK = frozenset({S.ALLOCATED, S.PRINTED})
WMS_AGREES: dict[OrderState, frozenset[OrderState]] = {
    S.PENDING_PAYMENT: frozenset(),
    S.PAID: _WAREHOUSE_WORK,
    S.ROUTED: _WAREHOUSE_WORK,
    S.ALLOCATED: _WAREHOUSE_WORK,
    S.PRINTED: _WAREHOUSE_WORK,
    S.ON_HOLD: _WAREHOUSE_WORK | {S.CANCELLED},
    S.REFUND_REQUESTED: _WAREHOUSE_WORK | {S.CANCELLED},
    S.SHIPPED: frozenset({S.SHIPPED}),
    S.DELIVERED: frozenset({S.SHIPPED}),
    S.CANCELLED: frozenset({S.CANCELLED}),
    S.REFUNDED: frozenset({S.CANCELLED, S.SHIPPED}),
    S.CLOSED: frozenset({S.CANCELLED, S.SHIPPED}),
}
"""For each hub state, the WMS states that agree with it: before shipping, the WMS may
be anywhere in its own work (received, label printed; a held order may be stopped
there too); shipped or delivered, the WMS shipped it; a refund after shipping found it
shipped or stopped. The disagreements that matter: the WMS shipped an order the hub has
not (a ReportShipment lost), or the hub has shipped one the WMS has not."""


@dataclass(frozen=True)
class Inconsistency:
    key: tuple[str, str, str]
    hub_state: str
    channel_state: str
    channel_raw_status: str
    since_ms: int
    """Since when they disagree: the later of the hub's last change and the report
    that disagrees (the earlier of the two sides' when both do)."""
    wms_state: str = ""
    wms_raw_status: str = ""
    disagree: tuple[str, ...] = ()
    """Which sides disagree past the grace: "channel", "wms"."""


def inconsistency(o: Order, seen: ChannelSeen | None, grace_ms: int,
                  now_ms: int) -> Inconsistency | None:
    state, raw, at = o.channel_state.value, o.raw_status, o.modified_at_ms
    if seen is not None and seen.modified_at_ms > o.modified_at_ms:
        state, raw, at = seen.state, seen.raw_status, seen.modified_at_ms
    since: dict[str, int] = {}
    if state not in {s.value for s in AGREES[o.state]}:
        since["channel"] = max(o.updated_at_ms, at)
    if o.wms_state and o.wms_state not in {s.value for s in WMS_AGREES[o.state]}:
        since["wms"] = max(o.updated_at_ms, o.wms_at_ms)
    late = {side: at_ms for side, at_ms in since.items() if now_ms - at_ms > grace_ms}
    if not late:
        return None
    return Inconsistency(o.key, o.state.value, state, raw, min(late.values()),
                         o.wms_state, o.wms_raw_status, tuple(sorted(late)))
