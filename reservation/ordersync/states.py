"""The order state machine: ONE table of every allowed move. What a move does to the
order's stock is derived from the path it walks in ordersync/effects.py.

A move not in the table is refused (FailedPrecondition naming from and to). A channel
that reports a later state having skipped steps (SHIPPED seen before PAID) gets the
shortest allowed path walked, each step recorded (see `walk`).
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from reservation.errors import FailedPrecondition, InvalidArgument


class OrderState(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    ON_HOLD = "ON_HOLD"            # held for review (duplicate suspicion, no stock, ...)
    ROUTED = "ROUTED"              # warehouses picked, stock held for it
    ALLOCATED = "ALLOCATED"        # sent to the WMS
    PRINTED = "PRINTED"            # label printed
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    REFUND_REQUESTED = "REFUND_REQUESTED"
    REFUNDED = "REFUNDED"
    CLOSED = "CLOSED"


S = OrderState

# Every allowed move, and nothing else. Order within a row is the preference when a
# walk has two equally short paths (the main line first).
TRANSITIONS: dict[OrderState, tuple[OrderState, ...]] = {
    S.PENDING_PAYMENT: (S.PAID, S.ON_HOLD, S.CANCELLED),
    S.PAID: (S.ROUTED, S.ON_HOLD, S.CANCELLED, S.REFUND_REQUESTED),
    S.ON_HOLD: (S.PENDING_PAYMENT, S.PAID, S.ROUTED, S.CANCELLED, S.REFUND_REQUESTED),
    S.ROUTED: (S.ALLOCATED, S.ON_HOLD, S.CANCELLED, S.REFUND_REQUESTED),
    S.ALLOCATED: (S.PRINTED, S.ON_HOLD, S.CANCELLED, S.REFUND_REQUESTED),
    S.PRINTED: (S.SHIPPED, S.ON_HOLD, S.CANCELLED, S.REFUND_REQUESTED),
    S.SHIPPED: (S.DELIVERED, S.REFUND_REQUESTED),
    S.DELIVERED: (S.CLOSED, S.REFUND_REQUESTED),
    # Back to where it was when the refund is withdrawn or declined; never to a label
    # (HOLDS), and to SHIPPED or DELIVERED only for an order that had shipped.
    S.REFUND_REQUESTED: (S.REFUNDED, S.PAID, S.ROUTED, S.SHIPPED, S.DELIVERED, S.CLOSED),
    S.REFUNDED: (S.CLOSED,),
    S.CANCELLED: (S.CLOSED,),
    S.CLOSED: (),
}

INITIAL = S.PENDING_PAYMENT
"""Every order starts here; an order that arrives later in life walks from here."""

SHIPPED_STATES = frozenset({S.SHIPPED, S.DELIVERED})
"""Goods have left the warehouse: stock is not given back, the address is fixed."""

# Hold reached through a review (ON_HOLD) is not left by a channel's "paid" or
# "pending" (or a label it reports): only an operator (or a cancel/refund/shipment)
# moves it on.
REVIEW_STICKY = frozenset({S.PENDING_PAYMENT, S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED})

HOLDS = frozenset({S.ON_HOLD, S.REFUND_REQUESTED})
"""Paused: held for review, or the buyer asked for the money back. Nothing is labelled
or shipped past a hold (plan.py refuses it; a shipment reported anyway is a fact)."""

LABEL_STATES = frozenset({S.ALLOCATED, S.PRINTED})
"""The WMS has the order and prints its label."""


def parse(field: str, value: str) -> OrderState:
    try:
        return OrderState(value)
    except ValueError:
        raise InvalidArgument(field, f"unknown order state {value!r}") from None


def allowed(src: OrderState, dst: OrderState) -> bool:
    return dst in TRANSITIONS[src]


def check(src: OrderState, dst: OrderState) -> None:
    if not allowed(src, dst):
        raise FailedPrecondition(f"order cannot move from {src} to {dst}")


def walk(src: OrderState, dst: OrderState) -> list[OrderState]:
    """The states after src up to dst along the shortest allowed path ([] when equal).
    Raises FailedPrecondition naming from and to when dst cannot be reached."""
    if src == dst:
        return []
    # A walk never invents a review or a refund request on its way somewhere else.
    avoid = {S.ON_HOLD} | ({S.REFUND_REQUESTED} if dst != S.REFUNDED else set())
    came_from: dict[OrderState, OrderState] = {src: src}
    todo = deque([src])
    while todo:
        here = todo.popleft()
        for nxt in TRANSITIONS[here]:
            if nxt in came_from or (nxt in avoid and nxt != dst):
                continue
            came_from[nxt] = here
            if nxt == dst:
                path = [nxt]
                while came_from[path[-1]] != src:
                    path.append(came_from[path[-1]])
                return path[::-1]
            todo.append(nxt)
    if allowed(src, dst):
        return [dst]
    raise FailedPrecondition(f"order cannot move from {src} to {dst}")


# The main line: a channel reporting a state behind the hub's (PAID while the hub has
# it ALLOCATED) is not a move backwards, only a channel that lags.
RANK = {state: i for i, state in enumerate(
    (S.PENDING_PAYMENT, S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED, S.SHIPPED, S.DELIVERED))}


def behind(reported: OrderState, current: OrderState) -> bool:
    return (reported in RANK and current in RANK and RANK[reported] <= RANK[current])
