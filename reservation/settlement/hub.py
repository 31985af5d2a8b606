"""What reconciliation needs to know of the hub's orders, read from the records store in
batches: each order's state, what the buyer paid, whether and when it shipped and was
refunded (its current state, its shipments, and its audit trail: an order closed after a
refund still counts as refunded)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from reservation.records.schema import order_events, orders, shipments

SHIPPED_STATES = ("SHIPPED", "DELIVERED")
REFUNDED_STATES = ("REFUNDED", "CANCELLED")


@dataclass(frozen=True)
class HubOrder:
    ref: str
    state: str
    paid_cents: int
    shipped_at_ms: int | None
    refunded_at_ms: int | None

    @property
    def shipped(self) -> bool:
        return self.shipped_at_ms is not None

    @property
    def refunded(self) -> bool:
        return self.refunded_at_ms is not None


def _first_times(c: Connection, refs: Sequence[str], states: Sequence[str]) -> dict[str, int]:
    """ref -> when its audit trail first reached one of `states`."""
    q = (select(order_events.c.ref, func.min(order_events.c.at_ms))
         .where(order_events.c.ref.in_(refs), order_events.c.to_state.in_(states))
         .group_by(order_events.c.ref))
    return {ref: int(at) for ref, at in c.execute(q)}


def read(c: Connection, refs: Collection[str]) -> dict[str, HubOrder]:
    """The hub's orders among `refs` (absent: the hub has no such order)."""
    refs = list(refs)
    if not refs:
        return {}
    shipped = _first_times(c, refs, SHIPPED_STATES)
    for ref, at in c.execute(select(shipments.c.ref, func.min(shipments.c.shipped_at_ms))
                             .where(shipments.c.ref.in_(refs)).group_by(shipments.c.ref)):
        shipped[ref] = min(int(at), shipped.get(ref, int(at)))
    refunded = _first_times(c, refs, REFUNDED_STATES)
    found = {}
    for r in c.execute(select(orders.c.ref, orders.c.state, orders.c.paid_cents,
                              orders.c.updated_at_ms).where(orders.c.ref.in_(refs))):
        # The current state counts even when its event is not in the trail (yet).
        shipped_at = shipped.get(r.ref, r.updated_at_ms if r.state in SHIPPED_STATES
                                 else None)
        refunded_at = refunded.get(r.ref, r.updated_at_ms if r.state in REFUNDED_STATES
                                   else None)
        found[r.ref] = HubOrder(r.ref, r.state, int(r.paid_cents), shipped_at, refunded_at)
    return found


def by_tracking(c: Connection, numbers: Collection[str]) -> dict[str, str]:
    """tracking number -> the hub order that shipped with it."""
    if not numbers:
        return {}
    q = select(shipments.c.tracking_number, shipments.c.ref).where(
        shipments.c.tracking_number.in_(list(numbers)))
    return {number: ref for number, ref in c.execute(q)}
