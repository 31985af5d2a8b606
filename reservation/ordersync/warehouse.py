"""The WMS's own state of an order, kept beside it for the consistency rate.

The hub's state moves with what the WMS does (ALLOCATED, PRINTED by UpdateOrderState,
SHIPPED by ReportShipment); a call that went missing leaves the hub behind the
warehouse. So the WMS also reports where it is (ReportWarehouseState), in the hub's
terms, with its own status value and time; the hub keeps the newest beside the order
(`wms_state`) and the consistency rate compares it with the hub's state
(health.WMS_AGREES). The report moves nothing itself: which of the two is right is a
person's call.
"""

from __future__ import annotations

from reservation.errors import InvalidArgument
from reservation.ordersync import events as ev
from reservation.ordersync.effects import HoldWant
from reservation.ordersync.model import Order
from reservation.ordersync.plan import Outcome, Plan
from reservation.ordersync.states import OrderState

S = OrderState
WMS_STATES = (S.ALLOCATED, S.PRINTED, S.SHIPPED, S.CANCELLED)
"""What a WMS's state can mean: received (to pick), label printed, left, stopped."""


def check_state(state: str) -> OrderState:
    if state not in {s.value for s in WMS_STATES}:
        raise InvalidArgument("state", f"{state!r} is not a WMS state (one of "
                                       f"{', '.join(s.value for s in WMS_STATES)})")
    return OrderState(state)


def report(current: Order, state: OrderState, raw_status: str, at_ms: int, actor: str,
           now: int) -> Plan | Outcome:
    """The WMS's state kept on the order (the newest by the WMS's time) and in its
    history; the hub's own state and times are left as they are."""
    if at_ms < current.wms_at_ms:
        return Outcome.STALE
    if (current.wms_state, current.wms_raw_status) == (state.value, raw_status):
        return Outcome.UNCHANGED
    order = current.copy(version=current.version + 1, wms_state=state.value,
                         wms_raw_status=raw_status, wms_at_ms=at_ms)
    ctx = ev.Context(order.channel, order.shop, order.order_id, order.version, now, actor,
                     raw_status)
    return Plan(order, [ev.updated(ctx, {"wms_state": (current.wms_state, state.value)})],
                HoldWant.KEEP, current.version, Outcome.UPDATED)
