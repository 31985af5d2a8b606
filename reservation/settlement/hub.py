"""What reconciliation needs to know of the hub's orders, read from the records store in
batches: each order's state, what the buyer paid, whether and when it shipped and was
refunded (its current state, its shipments, and its audit trail: an order closed after a
refund still counts as refunded)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, case, func, select

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


def _first_times(c: Connection, refs: Sequence[str]
                 ) -> tuple[dict[str, int], dict[str, int]]:
    """(ref -> when its audit trail first reached a shipped state, ref -> when it first
    reached a refunded one), from one pass over the orders' events (one query a batch,
    not one per kind: reading the hub's side is most of a run, benchmarks/results/
    settlement-profile.txt)."""
    def first(states: Sequence[str]) -> Any:
        return func.min(case((order_events.c.to_state.in_(states), order_events.c.at_ms)))

    q = (select(order_events.c.ref, first(SHIPPED_STATES), first(REFUNDED_STATES))
         .where(order_events.c.ref.in_(refs),
                order_events.c.to_state.in_((*SHIPPED_STATES, *REFUNDED_STATES)))
         .group_by(order_events.c.ref))
    shipped: dict[str, int] = {}
    refunded: dict[str, int] = {}
    for ref, shipped_at, refunded_at in c.execute(q):
        if shipped_at is not None:
            shipped[ref] = int(shipped_at)
        if refunded_at is not None:
            refunded[ref] = int(refunded_at)
    return shipped, refunded


def read(c: Connection, refs: Collection[str]) -> dict[str, HubOrder]:
    """The hub's orders among `refs` (absent: the hub has no such order)."""
    refs = list(refs)
    if not refs:
        return {}
    shipped, refunded = _first_times(c, refs)
    for ref, at in c.execute(select(shipments.c.ref, func.min(shipments.c.shipped_at_ms))
                             .where(shipments.c.ref.in_(refs)).group_by(shipments.c.ref)):
        shipped[ref] = min(int(at), shipped.get(ref, int(at)))
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
