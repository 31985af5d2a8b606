"""The stock effect of an order change, derived in ONE place: from the path it walks.

Every state an order enters says what its units become (`step`). A change that walks
several states (a channel that skipped steps: SHIPPED seen while the hub has the order
unpaid) applies every step it walks in turn, so a jump has the effect of the walk. An
order the hub sees for the first time walks from nothing: it arrives (held, ARRIVAL),
then walks to what the channel reports, so an order first seen SHIPPED is held, sold
and shipped, and one first seen CANCELLED holds nothing.

The result (`Units`) is kept on the order; the script is asked to make it only when a
change moves it (`want`): a change that walks no step has no stock effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from reservation.ordersync.states import OrderState

S = OrderState


class Units(StrEnum):
    """What an order's units are."""

    NONE = "none"            # nothing held: never, or the stock was refused
    HELD = "held"            # held for an unpaid order, until the hold TTL
    CONFIRMED = "confirmed"  # sold: paid (a paid order's units never expire)
    SHIPPED = "shipped"      # sold and gone from the warehouse: a refund gives none back
    RELEASED = "released"    # given back: cancelled or refunded before shipping


class HoldWant(StrEnum):
    """What the order script is asked to make of the hold (see _order.lua)."""

    KEEP = ""                # leave the hold as it is
    HELD = "held"            # units held (reserve if there is no live hold)
    CONFIRMED = "confirmed"  # units sold (reserve if needed, then confirm)
    RELEASED = "released"    # units back to available (release a hold, restock a sale)


_SOLD = frozenset({S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED})
_GONE = frozenset({S.SHIPPED, S.DELIVERED})
_ENDED = frozenset({S.CANCELLED, S.REFUNDED, S.CLOSED})


ARRIVAL = Units.HELD
"""An order holds its units once, when it arrives (unpaid: until the hold TTL). After
that only a sale takes units again: an expired or refused unpaid order waits holding
nothing until it is paid."""


def step(units: Units, state: OrderState) -> Units:
    """The units of an order that enters `state`. PENDING_PAYMENT (after arrival),
    ON_HOLD and REFUND_REQUESTED change nothing. Ending (cancelled, refunded, closed)
    gives back what an order holds, unless it shipped: shipped goods come back only by a
    restock."""
    if state in _SOLD:
        return Units.CONFIRMED if units in (Units.NONE, Units.HELD) else units
    if state in _GONE:
        return Units.SHIPPED if units in (Units.NONE, Units.HELD, Units.CONFIRMED) else units
    if state in _ENDED:
        return Units.RELEASED if units in (Units.HELD, Units.CONFIRMED) else units
    return units


def walk(units: Units, path: Iterable[OrderState]) -> Units:
    """The units after every step of `path` in turn."""
    for state in path:
        units = step(units, state)
    return units


_WANT = {Units.NONE: HoldWant.KEEP, Units.HELD: HoldWant.HELD,
         Units.CONFIRMED: HoldWant.CONFIRMED, Units.SHIPPED: HoldWant.CONFIRMED,
         Units.RELEASED: HoldWant.RELEASED}


def want(before: Units, after: Units) -> HoldWant:
    """What the script must make of the hold for a change from `before` to `after`
    (shipped units are sold units: the hold is confirmed)."""
    return HoldWant.KEEP if before == after else _WANT[after]


def of_legacy(state: OrderState, paid: bool, shipped: bool) -> Units:
    """The units of an order document written before units were kept on it."""
    if shipped:
        return Units.SHIPPED
    if state in _ENDED:
        return Units.RELEASED
    return Units.CONFIRMED if paid else Units.HELD
