"""An order as rows of the records store, and back.

The row keeps the columns people filter by; the document (the hub's own JSON of the
order) is what GetOrder answers, so an order read from SQL is the order read from Redis,
field by field. The warehouses and the holds' state, which Redis reads from the live
holds, are kept as columns when the order is applied."""

from __future__ import annotations

from typing import Any

import orjson

from reservation.ordersync import codec
from reservation.ordersync.model import Order
from reservation.ordersync.states import TRANSITIONS, OrderState

TERMINAL = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)
"""States an order never leaves (CLOSED): 'closed' in the records store."""


def order_row(ref: str, order: Order, events: int, doc: str | None = None) -> dict[str, Any]:
    """The order's row. `doc`: the document as Redis keeps it, stored as it is rather
    than the order encoded again (a share of the follower's time): what it says of the
    warehouses and the holds' state may be older than the columns, which order_of
    reads them from, as the hub reads them from the live holds."""
    shipped_from = order.warehouses or order.routed_warehouses
    return {
        "ref": ref, "channel": order.channel, "shop": order.shop, "order_id": order.order_id,
        "state": order.state.value, "version": order.version,
        "buyer_hash": order.buyer_hash, "total_cents": order.total_cents,
        "paid_cents": order.paid_cents,
        "warehouse": shipped_from[0] if shipped_from else "",
        "warehouses": ",".join(order.warehouses),
        "reservation_state": order.reservation_state,
        "review_state": order.review[-1] if order.review else "",
        "created_at_ms": order.created_at_ms, "updated_at_ms": order.updated_at_ms,
        "closed_at_ms": order.updated_at_ms if order.state in TERMINAL else None,
        "events": events, "doc": codec.encode(order) if doc is None else doc,
    }


def line_rows(ref: str, order: Order) -> list[dict[str, Any]]:
    return [{"ref": ref, "line_no": i, **codec.line_dict(line)}
            for i, line in enumerate(order.lines)]


def shipment_rows(ref: str, order: Order) -> list[dict[str, Any]]:
    return [{"ref": ref, "seq": i, "carrier": s.carrier, "tracking_number": s.tracking_number,
             "shipped_at_ms": s.shipped_at_ms, "warehouse_id": s.warehouse_id}
            for i, s in enumerate(order.shipments)]


def warehouse_rows(ref: str, order: Order) -> list[dict[str, Any]]:
    """One row per warehouse holding its stock (ListOrders by warehouse)."""
    closed = order.updated_at_ms if order.state in TERMINAL else None
    return [{"ref": ref, "warehouse": w, "created_at_ms": order.created_at_ms,
             "closed_at_ms": closed} for w in dict.fromkeys(order.warehouses) if w]


def routing_row(ref: str, order: Order) -> dict[str, Any]:
    return {"ref": ref, "rules_version": order.routing_version,
            "warehouses": ",".join(order.routed_warehouses),
            "routes": orjson.dumps(list(order.routes)).decode()}


def order_of(doc: str, warehouses: str, reservation_state: str) -> Order:
    """The order a row holds, as GetOrder answers it."""
    order = codec.decode(doc)
    return order.copy(warehouses=tuple(w for w in warehouses.split(",") if w),
                      reservation_state=reservation_state)


def is_closed(state: str) -> bool:
    return OrderState(state) in TERMINAL
