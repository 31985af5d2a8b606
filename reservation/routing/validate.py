"""An order's bounds before routing decides on it: a clear InvalidArgument naming the
field (prefixed by where the order sits in a batch), before anything is read."""

from __future__ import annotations

import math

from reservation.domain import validation
from reservation.errors import InvalidArgument
from reservation.routing.matching import RouteOrder
from reservation.settings import Settings

MAX_TEXT = 64
MAX_ADDRESS = 256


def validate_order(order: RouteOrder, settings: Settings, field: str = "") -> None:
    pre = f"{field}." if field else ""
    validation.code(f"{pre}channel", order.channel, required=False)
    if len(order.order_id.encode()) > settings.max_id_length:
        raise InvalidArgument(f"{pre}order_id", f"is longer than {settings.max_id_length} bytes")
    if not order.lines:
        raise InvalidArgument(f"{pre}lines", "must hold at least one line")
    if len(order.lines) > settings.max_lines:
        raise InvalidArgument(f"{pre}lines", f"holds {len(order.lines)} lines, at most "
                              f"{settings.max_lines}")
    for i, ln in enumerate(order.lines):
        validation.code(f"{pre}lines[{i}].sku", ln.sku)
        validation.quantity(f"{pre}lines[{i}].quantity", ln.quantity, settings)
        for name in ("category", "brand"):
            if len(getattr(ln, name)) > MAX_TEXT:
                raise InvalidArgument(f"{pre}lines[{i}].{name}", f"is longer than {MAX_TEXT}")
    for name in ("amount", "promised_hours"):
        value = getattr(order, name)
        if not math.isfinite(value) or value < 0 or value > 1e12:
            raise InvalidArgument(f"{pre}{name}", "must be a finite number 0..1e12")
    for name in ("payment", "customer_grade"):
        if len(getattr(order, name)) > MAX_TEXT:
            raise InvalidArgument(f"{pre}{name}", f"is longer than {MAX_TEXT}")
    d = order.destination
    for name in ("province", "city", "district", "region"):
        if len(getattr(d, name)) > MAX_TEXT:
            raise InvalidArgument(f"{pre}destination.{name}", f"is longer than {MAX_TEXT}")
    if len(d.address) > MAX_ADDRESS:
        raise InvalidArgument(f"{pre}destination.address", f"is longer than {MAX_ADDRESS}")
