"""What a change does to an order, decided without I/O: the order after it, its events,
the stock its new state needs, and what to write instead if that stock is refused.

The hub executes a Plan in one script per shard (see storage/lua/_order.lua).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from reservation.errors import FailedPrecondition, InvalidArgument
from reservation.ordersync import effects, states
from reservation.ordersync import events as ev
from reservation.ordersync.effects import HoldWant, Units
from reservation.ordersync.events import Context, OrderEvent
from reservation.ordersync.model import PAYLOAD_FIELDS, ChannelOrder, Order, Shipment
from reservation.ordersync.routes import Route
from reservation.ordersync.states import OrderState

S = OrderState
STOCK_PLACEHOLDER = "@STOCK@"
SUSPECTED_DUPLICATE = "suspected duplicate"
STOCK_REFUSED = "stock refused"
ROUTING_REVIEW = "routing"
"""How the hub's own holds begin their review note (each gets a review task)."""


class Outcome(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"   # the same payload again: nothing written
    STALE = "STALE"           # older than what is stored (by modified time): ignored
    ON_HOLD = "ON_HOLD"       # written, but held for review (stock refused, duplicate)
    REFUSED = "REFUSED"       # this order alone refused (a forbidden move): nothing written


@dataclass
class Plan:
    order: Order
    events: list[OrderEvent]
    want: HoldWant
    expected_version: int
    outcome: Outcome
    fallback_fn: Callable[[], tuple[Order, list[OrderEvent]]] | None = None
    """What to write instead when the stock is refused: the order goes as far as paid,
    then to review (ON_HOLD) with the reason."""
    wms_events: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, warehouse, detail JSON) for the WMS's write-back stream."""
    feed: set[int] = field(default_factory=set)
    """Indexes of events the order's channel adapter must push back."""
    duplicates: tuple[str, ...] = ()
    reindex: bool = False
    """The order's place in its shard's index (created ms) is new or moved."""


PlanMaker = Callable[[Order], Awaitable["Plan | Outcome"]]


def _stamp(order: Order, state: OrderState, at_ms: int, paid_at_ms: int = 0) -> None:
    if state == S.PAID and not order.paid_at_ms:
        order.paid_at_ms = paid_at_ms or at_ms
    elif state == S.ROUTED and not order.routed_at_ms:
        order.routed_at_ms = at_ms
    elif state == S.SHIPPED and not order.shipped_at_ms:
        order.shipped_at_ms = at_ms
    elif state == S.DELIVERED and not order.delivered_at_ms:
        order.delivered_at_ms = at_ms


def _walk(order: Order, ctx: Context, path: Sequence[OrderState], reason: str,
          paid_at_ms: int = 0, actor: str = "") -> list[OrderEvent]:
    """Move the order along `path`, one recorded step each; each step's stock effect
    is applied to the order's units as it is walked (effects.step)."""
    out = []
    for step in path:
        # Routing is the hub's own rule, whoever reported the payment.
        who = "rule:router" if step == S.ROUTED and not actor else actor
        out.append(ev.transition(ctx, order.state, step, reason, actor=who))
        _stamp(order, step, ctx.at_ms, paid_at_ms)
        order.state = step
        order.state_at_ms = ctx.at_ms
        order.units = effects.step(order.units, step)
    return out


def _new_order(co: ChannelOrder, now: int) -> Order:
    # Arriving is the first step: from nothing, its units held.
    return Order(channel=co.channel, shop=co.shop, order_id=co.order_id, state=states.INITIAL,
                 version=1, channel_state=co.state, raw_status=co.raw_status,
                 modified_at_ms=co.modified_at_ms, created_at_ms=co.created_at_ms,
                 buyer_hash=co.buyer_hash, address=co.address, lines=co.lines,
                 total_cents=co.total_cents, paid_cents=co.paid_cents, paid_at_ms=0,
                 updated_at_ms=now, units=effects.ARRIVAL)


def _diff(current: Order, co: ChannelOrder) -> dict[str, tuple[Any, Any]]:
    out = {f: (getattr(current, f), getattr(co, f)) for f in PAYLOAD_FIELDS
           if getattr(current, f) != getattr(co, f)}
    if current.channel_state != co.state:
        out["channel_state"] = (current.channel_state, co.state)
    return out


def _target(start: OrderState, reported: OrderState) -> OrderState:
    """Where a channel's report takes the order (the hub routes what is paid)."""
    if start == S.ON_HOLD and reported in states.REVIEW_STICKY:
        return S.ON_HOLD  # a review is left by an operator, not by a channel's "paid"
    if start == S.REFUND_REQUESTED and reported in states.LABEL_STATES:
        return S.ROUTED  # refund withdrawn: back on the line; a label is the WMS's
    target = S.ROUTED if reported == S.PAID else reported
    if states.behind(target, start):
        return start
    return target


def _stock_fallback(base: Order, ctx: Context, head: list[OrderEvent], paid: bool,
                    reason: str, paid_at_ms: int) -> tuple[Order, list[OrderEvent]]:
    """The order as written when its stock is refused: it goes as far as paid (when the
    report says it was: the payment is a fact whether or not units can be had), then
    waits for review holding nothing."""
    fb = base.copy(review=(*base.review, f"{STOCK_REFUSED}: {STOCK_PLACEHOLDER}"))
    events = list(head)
    upto = (states.walk(fb.state, S.PAID)
            if paid and not fb.paid and not fb.ever_shipped and not _past_paid(fb) else [])
    events += _walk(fb, ctx, upto, reason, paid_at_ms)
    _record_payment(fb, paid, paid_at_ms, events[0], ctx.at_ms)
    events.append(ev.stock_refused(ctx, STOCK_PLACEHOLDER))
    if fb.state != S.ON_HOLD:
        events += _walk(fb, ctx, [S.ON_HOLD], STOCK_REFUSED, actor="rule:stock")
    fb.units = Units.NONE  # refused: the hub releases whatever the order held
    return fb, events


def _base(current: Order | None, co: ChannelOrder, now: int,
          route: Route | None = None) -> Order:
    """The order with the channel's payload applied, before any move."""
    if current is None:
        order = _new_order(co, now)
        if route is not None:
            order.routes, order.routed_warehouses = route.candidates, route.warehouses
            order.routing_version = route.rules_version
        return order
    return current.copy(version=current.version + 1, updated_at_ms=now,
                        channel_state=co.state, **{f: getattr(co, f) for f in PAYLOAD_FIELDS})


def sync(current: Order | None, co: ChannelOrder, duplicates: list[str],
         now: int, route: Route | None = None) -> Plan | Outcome:
    """A channel's order as it arrives: new, changed, the same again, or stale. A new
    order comes with its routing decision (`route`, None when not routed)."""
    if current is None:
        ctx = Context(co.channel, co.shop, co.order_id, 1, now, co.actor)
        fields = {f: getattr(co, f) for f in PAYLOAD_FIELDS}
        fields["channel_state"] = co.state
        head = [ev.created(ctx, states.INITIAL, fields)]
        if route is not None:
            head.append(ev.routing_decided(
                ctx, route.warehouses, route.candidates, route.rules, route.rules_version,
                "; ".join(route.decided_by) or route.review, route.scores))
        outcome, expected = Outcome.CREATED, 0
    else:
        if co.modified_at_ms < current.modified_at_ms:
            return Outcome.STALE
        diff = _diff(current, co)
        if not diff.keys() - {"modified_at_ms"}:
            # The same content with only the channel's clock moved (a POS file exported
            # again) is not a change: nothing is written, the stored time included.
            return Outcome.UNCHANGED
        if "lines" in diff:
            raise InvalidArgument("lines", "do not match the order's earlier version (its "
                                           "stock is reserved for those lines)")
        ctx = Context(co.channel, co.shop, co.order_id, current.version + 1, now, co.actor)
        head = [ev.updated(ctx, diff)]
        outcome, expected = Outcome.UPDATED, current.version
        route = None  # routed when it arrived; its decision is on the order
    order = _base(current, co, now, route)
    before = current.units if current is not None else Units.NONE
    reason = f"channel status {co.raw_status}"
    target = _target(order.state, co.state)
    suspect = bool(duplicates) and co.state in states.REVIEW_STICKY
    # A routing rule's review flag (or an address routing cannot place) holds the order
    # like a duplicate: as far as paid, then ON_HOLD; its stock is held meanwhile.
    review = route.review if route is not None and co.state in states.REVIEW_STICKY else ""
    if suspect or review:
        target = S.PAID if co.state in _PAYMENT else order.state
    held_before = order.state == S.ON_HOLD
    events = list(head)
    if ships_past_hold(order, target):
        events += _ship_past_hold(order, ctx, co.actor, reason)
    path = _path(order, co, target)
    events += _walk(order, ctx, path, reason, co.paid_at_ms)
    _record_payment(order, _reports_payment(co), co.paid_at_ms, head[0], now)
    if held_before and path == [S.PAID, S.ON_HOLD]:
        # Paid while it waits for review: sold now, and still held for the review.
        why = order.review[-1] if order.review else "on hold"
        events[-1] = ev.transition(ctx, S.PAID, S.ON_HOLD, f"still held: {why}",
                                   actor="rule:review")
    whys = []
    if suspect:
        # The event names the other orders (the audit trail; shown to who may read
        # them); the order's own review note does not (its adapter reads it).
        events.append(ev.duplicate_suspected(ctx, duplicates))
        order.review = (*order.review, f"{SUSPECTED_DUPLICATE} of an order of another channel")
        whys.append(SUSPECTED_DUPLICATE)
    if review:
        order.review = (*order.review, f"{ROUTING_REVIEW}: {review}")
        whys.append(f"{ROUTING_REVIEW}: {review}")
    if whys:
        events += _walk(order, ctx, [S.ON_HOLD], "; ".join(whys),
                        actor="rule:duplicates" if suspect else "rule:routing")
    plan = Plan(order, events, effects.want(before, order.units), expected, outcome,
                duplicates=tuple(duplicates),
                reindex=current is None or current.created_at_ms != co.created_at_ms)
    if plan.want in (HoldWant.HELD, HoldWant.CONFIRMED):
        # Built only when the stock is refused (rare): most orders never pay for it.
        plan.fallback_fn = lambda: _stock_fallback(
            _base(current, co, now, route), ctx, head, _reports_payment(co), reason,
            co.paid_at_ms)
    if order.state == S.ON_HOLD:
        plan.outcome = Outcome.ON_HOLD
    _mark_feed(plan)
    return plan


# Reports that say the buyer paid, whatever else they say.
_PAYMENT = frozenset({S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED, S.SHIPPED, S.DELIVERED,
                      S.REFUND_REQUESTED})


def _reports_payment(co: ChannelOrder) -> bool:
    """The channel says the buyer paid: a payment time, or a state only a paid order
    reaches."""
    return co.paid_at_ms > 0 or co.state in _PAYMENT


def _path(order: Order, co: ChannelOrder, target: OrderState) -> list[OrderState]:
    """The states a channel's report walks. A payment reported for an unpaid order walks
    PAID, so it is recorded and the units sold, also where the shortest path would skip
    it: an order that is (or goes) on hold (Taobao's PAID_FORBID_CONSIGN, paid and
    shipping forbidden, arrives as ON_HOLD with its payment time; a paid order on hold
    never expires), or one on hold that the channel reports refund-requested."""
    path = states.walk(order.state, target)
    if (not _reports_payment(co) or order.paid or order.ever_shipped
            or target in _ENDS or S.PAID in path or _past_paid(order)):
        return path
    if target == S.ON_HOLD:
        return [*states.walk(order.state, S.PAID), S.ON_HOLD]
    return [*states.walk(order.state, S.PAID), *states.walk(S.PAID, target)]


_ENDS = frozenset({S.CANCELLED, S.REFUNDED, S.CLOSED})


def _past_paid(order: Order) -> bool:
    """On the main line beyond PAID: an operator moved it there unpaid (ON_HOLD ->
    ROUTED is allowed), so its units are sold already and PAID lies behind it, not on
    any path ahead."""
    return order.state != S.PAID and states.behind(S.PAID, order.state)


def _record_payment(order: Order, paid: bool, paid_at_ms: int, updated: OrderEvent,
                    now: int) -> None:
    """A payment reported for an order that walked no PAID step (it was past PAID when
    the report came): the payment is a fact all the same. Its time is stamped and the
    change recorded in the report's UPDATED event, so the audit trail has it. (A new
    order is never past PAID: it walks from PENDING_PAYMENT.)"""
    if order.paid or not paid or not _past_paid(order):
        return
    order.paid_at_ms = paid_at_ms or now
    updated.changes["paid_at_ms"] = ev.change(0, order.paid_at_ms)


# Module constants: an Enum member looked up on its class per event was a measurable
# share of a sync's CPU.
_SHIPMENT, _TRANSITION = ev.EventType.SHIPMENT_REPORTED, ev.EventType.TRANSITION
_FEED_STATES = frozenset({S.SHIPPED.value, S.ON_HOLD.value})


def _mark_feed(plan: Plan) -> None:
    """What the channel must hear back: shipments above all, and the hub's own holds."""
    for i, e in enumerate(plan.events):
        if e.type == _SHIPMENT or (e.type == _TRANSITION and e.to_state in _FEED_STATES):
            plan.feed.add(i)


def held_why(order: Order) -> str:
    """Why an order in states.HOLDS is held, in words."""
    if order.state == S.REFUND_REQUESTED:
        return "refund requested"
    return order.review[-1] if order.review else "held for review"


def ships_past_hold(order: Order, to: OrderState) -> bool:
    """Shipping (or delivering) an order that is held and has not shipped before."""
    return (order.state in states.HOLDS and to in states.SHIPPED_STATES
            and not order.ever_shipped)


def _refuse_past_hold(order: Order, to: OrderState) -> None:
    """Nothing is labelled or shipped while held: a move there is refused, naming the
    state and why it is held."""
    if order.state in states.HOLDS and (to in states.LABEL_STATES or ships_past_hold(order, to)):
        raise FailedPrecondition(
            f"order is {order.state} ({held_why(order)}): nothing is labelled or shipped "
            f"while it is held, so it cannot move to {to}")


def _ship_past_hold(order: Order, ctx: Context, actor: str, what: str) -> list[OrderEvent]:
    """A shipment reported for a held order is a fact, not a request: one recorded step
    to SHIPPED (its units sold, as every shipment's), the order flagged "intercept
    failed" (a review is opened for it: interception/service.py)."""
    held = order.state
    note = f"intercept failed: {what} while {held} ({held_why(order)})"
    order.review = (*order.review, note)
    order.intercept_failed = held.value
    return [ev.intercept_failed(ctx, held, note),
            *_walk(order, ctx, [S.SHIPPED], note, actor=actor)]


def transition(current: Order, to: OrderState, actor: str, reason: str, now: int) -> Plan:
    """An operator's (or the WMS's) move: one step of the table; refused stock is an
    error (FailedPrecondition), nothing written."""
    order = current.copy(version=current.version + 1, updated_at_ms=now)
    ctx = Context(order.channel, order.shop, order.order_id, order.version, now, actor, reason)
    _refuse_past_hold(order, to)
    # One step of the table: a person or the WMS moves an order, they do not skip.
    states.check(order.state, to)
    path = [to]
    if to == S.ON_HOLD:
        order.review = (*order.review, reason or f"held by {actor}")
    events = _walk(order, ctx, path, reason, actor=actor)
    plan = Plan(order, events, effects.want(current.units, order.units), current.version,
                Outcome.UPDATED)
    _mark_feed(plan)
    return plan


def shipment(current: Order, shipment_: Shipment, actor: str, now: int) -> Plan | Outcome:
    if any(shipment_.same_as(s) for s in current.shipments):
        return Outcome.UNCHANGED
    order = current.copy(version=current.version + 1, updated_at_ms=now,
                         shipments=(*current.shipments, shipment_))
    ctx = Context(order.channel, order.shop, order.order_id, order.version, now, actor,
                  f"{shipment_.carrier} {shipment_.tracking_number}")
    events = [ev.shipment_reported(ctx, shipment_)]
    if ships_past_hold(order, S.SHIPPED):
        what = f"shipped with {shipment_.carrier} {shipment_.tracking_number}"
        events += _ship_past_hold(order, ctx, actor, what)
        order.shipped_at_ms = shipment_.shipped_at_ms or now
    elif order.state not in states.SHIPPED_STATES:
        events += _walk(order, ctx, states.walk(order.state, S.SHIPPED), ctx.reason,
                        actor=actor)
        order.shipped_at_ms = shipment_.shipped_at_ms or now
    plan = Plan(order, events, effects.want(current.units, order.units), current.version,
                Outcome.UPDATED)
    if plan.want in (HoldWant.HELD, HoldWant.CONFIRMED):
        plan.fallback_fn = lambda: _shipment_fallback(current, shipment_, ctx)
    _mark_feed(plan)
    return plan


def _shipment_fallback(current: Order, shipment_: Shipment,
                       ctx: Context) -> tuple[Order, list[OrderEvent]]:
    """A shipment whose units cannot be sold (the hold had expired and the stock is
    gone): the shipment is recorded, the order waits for review holding nothing."""
    fb = current.copy(version=current.version + 1, updated_at_ms=ctx.at_ms,
                      shipments=(*current.shipments, shipment_),
                      review=(*current.review, f"{STOCK_REFUSED}: {STOCK_PLACEHOLDER}"))
    events = [ev.shipment_reported(ctx, shipment_), ev.stock_refused(ctx, STOCK_PLACEHOLDER)]
    if fb.state != S.ON_HOLD:
        events += _walk(fb, ctx, [S.ON_HOLD], STOCK_REFUSED, actor="rule:stock")
    fb.units = Units.NONE
    return fb, events


def restock(current: Order, restock_id: str, lines: Sequence[tuple[str, int]], actor: str,
            reason: str, now: int) -> Plan | Outcome:
    """Goods of a shipped order that came back: recorded once per restock id, at most
    what was shipped and not restocked yet. The units move in the script (want
    `restock:<id>`); the plan carries them per SKU."""
    if restock_id in current.restocked:
        return Outcome.UNCHANGED
    if current.units != Units.SHIPPED:
        raise FailedPrecondition(
            f"order is {current.state} and has not shipped: its units come back when it "
            "is cancelled or refunded, not by a restock")
    units: dict[str, int] = {}
    left = current.restockable()
    for i, (sku, qty) in enumerate(lines):
        if sku not in left:
            raise InvalidArgument(f"lines[{i}].sku", f"{sku} is not a line of the order")
        units[sku] = units.get(sku, 0) + qty
    for sku, qty in units.items():
        if qty > left[sku]:
            raise FailedPrecondition(f"{sku}: {qty} units to restock, but {left[sku]} "
                                     "shipped and not restocked yet")
    order = current.copy(version=current.version + 1, updated_at_ms=now,
                         restocked={**current.restocked, restock_id: units})
    ctx = Context(order.channel, order.shop, order.order_id, order.version, now, actor, reason)
    return Plan(order, [ev.restocked(ctx, restock_id, units)], HoldWant.KEEP,
                current.version, Outcome.UPDATED)


def carrier(current: Order, name: str, cost_cents: int, actor: str, reason: str,
            now: int, warehouse: str) -> Plan | Outcome:
    """The carrier chosen for an order (the interception's carrier table): kept on the
    order, in its history, and told to the WMS (CARRIER_CHOSEN) so it prints the label
    with that carrier."""
    if current.ever_shipped or current.state in ADDRESS_FINAL:
        raise FailedPrecondition(f"carrier cannot change: the order is {current.state}")
    if (name, cost_cents) == (current.carrier, current.carrier_cost_cents):
        return Outcome.UNCHANGED
    order = current.copy(version=current.version + 1, updated_at_ms=now, carrier=name,
                         carrier_cost_cents=cost_cents)
    ctx = Context(order.channel, order.shop, order.order_id, order.version, now, actor, reason)
    diff = {"carrier": (current.carrier, name),
            "carrier_cost_cents": (current.carrier_cost_cents, cost_cents)}
    plan = Plan(order, [ev.updated(ctx, diff)], HoldWant.KEEP, current.version,
                Outcome.UPDATED)
    detail = orjson.dumps({"shop": order.shop, "order_id": order.order_id, "carrier": name,
                           "cost_cents": cost_cents}).decode()
    plan.wms_events.append(("CARRIER_CHOSEN", warehouse, detail))
    return plan


def expedite(current: Order, actor: str, reason: str, now: int,
             warehouse: str) -> Plan | Outcome:
    """An order moved to the front (加急): kept on the order, in its history, and told to
    the WMS (ORDER_EXPEDITED) so it picks the order first. Once is enough."""
    if current.ever_shipped or current.state in ADDRESS_FINAL:
        why = f"the order is {current.state}"
        raise FailedPrecondition(f"nothing left to expedite: {why}")
    if current.priority > 0:
        return Outcome.UNCHANGED
    order = current.copy(version=current.version + 1, updated_at_ms=now, priority=1)
    ctx = Context(order.channel, order.shop, order.order_id, order.version, now, actor, reason)
    plan = Plan(order, [ev.updated(ctx, {"priority": (current.priority, 1)})],
                HoldWant.KEEP, current.version, Outcome.UPDATED)
    detail = orjson.dumps({"shop": order.shop, "order_id": order.order_id,
                           "priority": 1, "reason": reason}).decode()
    plan.wms_events.append(("ORDER_EXPEDITED", warehouse, detail))
    return plan


WMS_HAS_IT = frozenset({S.ALLOCATED, S.PRINTED})
ADDRESS_FINAL = frozenset({S.SHIPPED, S.DELIVERED, S.CANCELLED, S.REFUNDED, S.CLOSED})


def address(current: Order, new: Any, actor: str, reason: str, now: int,
            warehouse: str) -> Plan | Outcome:
    if current.state in ADDRESS_FINAL or current.ever_shipped:
        why = f"the order is {current.state}"
        if current.shipments:
            last = current.shipments[-1]
            why += f" (shipped with {last.carrier} {last.tracking_number})"
        raise FailedPrecondition(f"address cannot change: {why}")
    if new == current.address:
        return Outcome.UNCHANGED
    order = current.copy(version=current.version + 1, updated_at_ms=now, address=new)
    ctx = Context(order.channel, order.shop, order.order_id, order.version, now, actor, reason)
    plan = Plan(order, [ev.address_changed(ctx, current.address, new)], HoldWant.KEEP,
                current.version, Outcome.UPDATED)
    if current.state in WMS_HAS_IT:
        detail = orjson.dumps({"shop": order.shop, "order_id": order.order_id,
                               "address": new}).decode()
        plan.wms_events.append(("ADDRESS_CHANGED", warehouse, detail))
    return plan
