"""Order events: the audit trail is data, one small constructor per event type (saleor's
order/events.py). Each event names its actor, reason, time and before/after, and is
appended to the order's history and to its shard's order event stream in the same
script that changes the order."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from reservation.ordersync.states import OrderState


class EventType(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"              # a changed payload: the diff is in `changes`
    TRANSITION = "TRANSITION"
    DUPLICATE_SUSPECTED = "DUPLICATE_SUSPECTED"
    ADDRESS_CHANGED = "ADDRESS_CHANGED"
    SHIPMENT_REPORTED = "SHIPMENT_REPORTED"
    STOCK_REFUSED = "STOCK_REFUSED"  # the stock effect could not be made (see reason)
    ROUTING_DECIDED = "ROUTING_DECIDED"  # where the order ships from, and which rules said so
    INTERCEPT_FAILED = "INTERCEPT_FAILED"  # shipped while held: recorded, flagged, reviewed
    RESTOCKED = "RESTOCKED"          # shipped goods came back to stock (RestockOrder)


@dataclass(slots=True)  # not frozen: a frozen init cost ~3 us per event, a sync's hot path
class OrderEvent:
    type: EventType
    channel: str
    shop: str
    order_id: str
    version: int
    at_ms: int
    actor: str
    reason: str = ""
    from_state: str = ""
    to_state: str = ""
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """field -> {"before": ..., "after": ...}"""
    # Where a pulled copy sits in the stream (empty on the way in).
    event_id: str = ""
    shard: int = 0
    entry_id: str = ""
    delivery_count: int = 0

    @property
    def occurred_at_ms(self) -> int:
        return self.at_ms

    def encode(self) -> str:
        return orjson.dumps({
            "type": self.type.value, "channel": self.channel, "shop": self.shop,
            "order_id": self.order_id, "version": self.version, "at_ms": self.at_ms,
            "actor": self.actor, "reason": self.reason, "from": self.from_state,
            "to": self.to_state, "changes": self.changes,
        }).decode()

    @classmethod
    def decode(cls, text: str, **where: Any) -> OrderEvent:
        d = orjson.loads(text)
        return cls(type=EventType(d["type"]), channel=d["channel"], shop=d["shop"],
                   order_id=d["order_id"], version=d["version"], at_ms=d["at_ms"],
                   actor=d["actor"], reason=d["reason"], from_state=d["from"],
                   to_state=d["to"], changes=d["changes"], **where)


@dataclass(frozen=True)
class Context:
    """Who changes an order, why, when, and into which version."""

    channel: str
    shop: str
    order_id: str
    version: int
    at_ms: int
    actor: str
    reason: str = ""

    def event(self, etype: EventType, **kw: Any) -> OrderEvent:
        kw.setdefault("reason", self.reason)
        kw.setdefault("actor", self.actor)
        return OrderEvent(etype, self.channel, self.shop, self.order_id, self.version,
                          self.at_ms, **kw)


def change(before: Any, after: Any) -> dict[str, Any]:
    """Values as they are: encode() writes dataclasses (Address, Line) as JSON objects."""
    return {"before": before, "after": after}


def created(ctx: Context, state: OrderState, fields: dict[str, Any]) -> OrderEvent:
    return ctx.event(EventType.CREATED, to_state=state.value,
                     changes={k: change(None, v) for k, v in fields.items()})


def updated(ctx: Context, diff: dict[str, tuple[Any, Any]]) -> OrderEvent:
    return ctx.event(EventType.UPDATED,
                     changes={k: change(b, a) for k, (b, a) in diff.items()})


def transition(ctx: Context, src: OrderState, dst: OrderState, reason: str = "",
               actor: str = "") -> OrderEvent:
    return ctx.event(EventType.TRANSITION, from_state=src.value, to_state=dst.value,
                     reason=reason or ctx.reason, actor=actor or ctx.actor)


DUPLICATE_REASON = "same phone hash and address within the window as "


def duplicate_suspected(ctx: Context, others: list[str]) -> OrderEvent:
    return ctx.event(EventType.DUPLICATE_SUSPECTED, actor="rule:duplicates",
                     reason=DUPLICATE_REASON + ", ".join(others),
                     changes={"suspected_duplicates": change([], list(others))})


def duplicates_of(e: OrderEvent) -> list[str]:
    """The orders a DUPLICATE_SUSPECTED event names."""
    named = e.changes.get("suspected_duplicates", {}).get("after")
    if named is None:  # recorded before the event carried them as a change
        return e.reason.removeprefix(DUPLICATE_REASON).split(", ")
    return list(named)


def address_changed(ctx: Context, before: Any, after: Any) -> OrderEvent:
    return ctx.event(EventType.ADDRESS_CHANGED, changes={"address": change(before, after)})


def shipment_reported(ctx: Context, shipment: Any) -> OrderEvent:
    return ctx.event(EventType.SHIPMENT_REPORTED,
                     changes={"shipments": change(None, shipment)})


def routing_decided(ctx: Context, warehouses: Any, candidates: Any, rules: Any,
                    rules_version: int, why: str, scores: Any = ()) -> OrderEvent:
    changes = {"warehouses": change([], warehouses), "candidates": change([], candidates),
               "rules": change([], rules), "rules_version": change(0, rules_version)}
    if scores:  # the best candidates and their scores (lower is better)
        changes["scores"] = change([], [list(s) for s in scores])
    return ctx.event(EventType.ROUTING_DECIDED, actor="rule:routing", reason=why,
                     changes=changes)


def stock_refused(ctx: Context, reason: str) -> OrderEvent:
    return ctx.event(EventType.STOCK_REFUSED, actor="rule:stock", reason=reason)


def intercept_failed(ctx: Context, held: OrderState, why: str) -> OrderEvent:
    return ctx.event(EventType.INTERCEPT_FAILED, from_state=held.value,
                     to_state=OrderState.SHIPPED.value, reason=why)


def restocked(ctx: Context, restock_id: str, units: dict[str, int]) -> OrderEvent:
    return ctx.event(EventType.RESTOCKED,
                     changes={"restocked": change(None, {"restock_id": restock_id,
                                                         "units": units})})
