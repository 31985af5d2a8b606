"""What a sync answers for each order, and the reviewer that may hold an order after it.

The hub plans and writes; a reviewer (interception implements it) then checks what was
written against the rules in force, and may hold an order for review. `OrderHub.sync`
returns results with the reviewer's word in them, so callers get final outcomes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reservation.errors import FailedPrecondition, InvalidArgument, ReservationError
from reservation.ordersync import plan as planning
from reservation.ordersync.model import ChannelOrder, Order
from reservation.ordersync.plan import Outcome, Plan
from reservation.ordersync.routes import Route
from reservation.storage.replies import OpReply

Key = tuple[str, str, str]
"""(channel, shop, order_id)"""


@dataclass(frozen=True)
class SyncResult:
    outcome: Outcome
    order: Order | None
    stock_reason: str = ""
    duplicates: tuple[str, ...] = ()
    refused: ReservationError | None = None
    """With REFUSED: what the order alone would have raised."""
    review_id: str = ""
    """The order's open review after the reviewer's check, if it has one."""
    suspected_duplicate: bool = False
    """Its open review is for a suspected duplicate of another channel's order."""


@dataclass(frozen=True)
class Reviewed:
    """An order after the reviewer's check."""

    order: Order
    """As it stands now (moved to ON_HOLD when a rule held it)."""
    review_id: str = ""
    held_now: bool = False
    """A rule held it in this check."""
    suspected_duplicate: bool = False


class Reviewer(Protocol):
    async def review(self, results: Sequence[SyncResult],
                     facts: Mapping[Key, Any]) -> Mapping[Key, Reviewed]:
        """Check orders just written (the last result of each key counts; refused ones
        changed nothing). `facts`: what the caller sent beside each order for the
        checks, passed through as given."""
        ...


def reviewed(r: SyncResult, after: Reviewed) -> SyncResult:
    """A result as the reviewer's check left its order."""
    return dataclasses.replace(
        r, order=after.order,
        # Held by a rule; a refund request is a pause already: it stays as it was.
        outcome=Outcome.ON_HOLD if after.held_now else r.outcome,
        review_id=after.review_id, suspected_duplicate=after.suspected_duplicate)


REFUSALS = (FailedPrecondition, InvalidArgument)
"""What planning a channel's order may refuse it with: that order alone is refused."""


def plan_sync(current: Order | None, co: ChannelOrder, dups: list[str], now: int,
              route: Route | None) -> Plan | SyncResult:
    """planning.sync, with a refusal as the order's own result."""
    try:
        p = planning.sync(current, co, dups, now, route)
    except REFUSALS as exc:
        return SyncResult(Outcome.REFUSED, current, refused=exc)
    return SyncResult(p, current) if isinstance(p, Outcome) else p


def written(p: Plan, r: OpReply, order: Order) -> SyncResult:
    """The result of a plan the script wrote (FALLBACK: on review, naming the refusal)."""
    if r.code == "FALLBACK":
        why = f"{r.reason} {r.failed_sku}".strip()
        order.review = tuple(x.replace(planning.STOCK_PLACEHOLDER, why)
                             for x in order.review)
        return SyncResult(Outcome.ON_HOLD, order, why, p.duplicates)
    return SyncResult(p.outcome, order, "", p.duplicates)
