"""The differences the hub's side shows: orders the channels should have paid, or taken
back, and did not, N days on.

- shipped but unsettled: shipped between `floor_ms` and `cutoff_ms` (N days before the
  run's day), never refunded or cancelled, and no statement line pays goods for it;
- missing at channel: refunded in the hub between the two, paid by a statement, and no
  statement has taken the money back.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, and_, exists, func, select

from reservation.records.schema import order_events, orders, settlement_lines, shipments
from reservation.settlement import classes as k
from reservation.settlement.classify import Found
from reservation.settlement.hub import REFUNDED_STATES, SHIPPED_STATES
from reservation.settlement.lines import REFUND, SALE


def _statement_has(kind: str):  # type: ignore[no-untyped-def]  # an SQL condition
    return exists().where(settlement_lines.c.channel == orders.c.channel,
                          settlement_lines.c.shop == orders.c.shop,
                          settlement_lines.c.channel_order_id == orders.c.order_id,
                          settlement_lines.c.kind == kind)


def _trail_reached(states: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return exists().where(order_events.c.ref == orders.c.ref,
                          order_events.c.to_state.in_(states))


def _shipped_at():  # type: ignore[no-untyped-def]  # an SQL expression
    """When the order shipped: its trail's first SHIPPED (or DELIVERED), on the hub's
    clock; else the earliest shipment the WMS gave a time (0: none given)."""
    trail = (select(func.min(order_events.c.at_ms))
             .where(order_events.c.ref == orders.c.ref,
                    order_events.c.to_state.in_(SHIPPED_STATES)).scalar_subquery())
    reported = (select(func.min(shipments.c.shipped_at_ms))
                .where(shipments.c.ref == orders.c.ref, shipments.c.shipped_at_ms > 0)
                .scalar_subquery())
    return func.coalesce(trail, reported)


def unsettled(c: Connection, day: str, floor_ms: int, cutoff_ms: int) -> Iterator[Found]:
    shipped = _shipped_at()
    q = (select(orders.c.ref, orders.c.channel, orders.c.shop, orders.c.order_id,
                orders.c.paid_cents, shipped.label("shipped_at"))
         .where(orders.c.state.not_in(REFUNDED_STATES), ~_trail_reached(REFUNDED_STATES),
                ~_statement_has(SALE), shipped >= floor_ms, shipped <= cutoff_ms))
    for r in c.execute(q):
        yield Found(k.SHIPPED_UNSETTLED, r.channel, r.shop, r.order_id, r.ref, day,
                    int(r.paid_cents), 0, f"shipped at {r.shipped_at} ms; no payout yet")


def missing_at_channel(c: Connection, day: str, floor_ms: int,
                       cutoff_ms: int) -> Iterator[Found]:
    refunded = func.min(order_events.c.at_ms)
    q = (select(orders.c.ref, orders.c.channel, orders.c.shop, orders.c.order_id,
                orders.c.paid_cents, refunded.label("refunded_at"))
         .join(order_events, order_events.c.ref == orders.c.ref)
         .where(order_events.c.to_state == "REFUNDED", _statement_has(SALE),
                ~_statement_has(REFUND))
         .group_by(orders.c.ref, orders.c.channel, orders.c.shop, orders.c.order_id,
                   orders.c.paid_cents)
         .having(and_(refunded >= floor_ms, refunded <= cutoff_ms)))
    for r in c.execute(q):
        yield Found(k.MISSING_AT_CHANNEL, r.channel, r.shop, r.order_id, r.ref, day,
                    int(r.paid_cents), 0,
                    f"refunded in the hub at {r.refunded_at} ms; no statement took it back")
