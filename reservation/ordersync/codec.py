"""An order as the JSON document kept in Redis, and back. Holds no clear phone number."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import orjson

from reservation.ordersync import effects
from reservation.ordersync.model import Address, Line, Order, Shipment
from reservation.ordersync.states import OrderState

# Filled on read from the live holds; never stored.
_DERIVED = ("warehouses", "reservation_state", "extra")

_FIELDS = frozenset(f.name for f in fields(Order))
_REQUIRED = frozenset(f.name for f in fields(Order)
                      if f.default is MISSING and f.default_factory is MISSING)
_DEFAULTS = {f.name: f.default for f in fields(Order) if f.default is not MISSING}
_FACTORIES = tuple((f.name, f.default_factory) for f in fields(Order)
                   if f.default_factory is not MISSING)


def line_dict(line: Line) -> dict[str, Any]:
    return {"sku": line.sku, "quantity": line.quantity, "price_cents": line.price_cents,
            "brand": line.brand, "category": line.category,
            "warehouse_id": line.warehouse_id, "gift_of": line.gift_of}


def address_dict(a: Address) -> dict[str, str]:
    return {"province": a.province, "city": a.city, "district": a.district,
            "detail": a.detail}


def plain(value: Any) -> Any:
    """A field value as JSON-able data (for documents and event before/after)."""
    if isinstance(value, Address):
        return address_dict(value)
    if isinstance(value, Line):
        return line_dict(value)
    if isinstance(value, Shipment):
        return {"carrier": value.carrier, "tracking_number": value.tracking_number,
                "shipped_at_ms": value.shipped_at_ms}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def encode(order: Order) -> str:
    # orjson writes dataclasses, tuples and enums as JSON natively (and escapes tabs,
    # which the scripts use as separators).
    return orjson.dumps(order).decode()


def decode(text: str) -> Order:
    d = orjson.loads(text)
    for name in _DERIVED:
        d.pop(name, None)
    d["state"] = OrderState(d["state"])
    d["channel_state"] = OrderState(d["channel_state"])
    d["address"] = Address(**d["address"])
    d["lines"] = tuple(Line(**ln) for ln in d["lines"])
    d["shipments"] = tuple(Shipment(**s) for s in d["shipments"])
    d["review"] = tuple(d["review"])
    d["routes"] = tuple(d.get("routes", ()))
    d["routed_warehouses"] = tuple(d.get("routed_warehouses", ()))
    units = d.get("units")
    d["units"] = effects.Units(units) if units else effects.of_legacy(
        d["state"], d["paid_at_ms"] > 0, d["shipped_at_ms"] > 0)
    return _order(d)


def _order(d: dict[str, Any]) -> Order:
    """Order(**d) without the dataclass's __init__ of 40-odd keyword arguments (about
    half of a decode's time): the defaults for what an older document lacks (a fresh
    dict or list each where the field has a factory), then the document's fields; a
    missing or unknown field is refused as the __init__ refuses it."""
    if not _REQUIRED <= d.keys() or not d.keys() <= _FIELDS:
        raise TypeError(f"not an order document: missing {sorted(_REQUIRED - d.keys())}, "
                        f"unknown {sorted(d.keys() - _FIELDS)}")
    order = Order.__new__(Order)
    fresh = order.__dict__
    fresh.update(_DEFAULTS)
    for name, make in _FACTORIES:
        fresh[name] = make()  # type: ignore[misc]
    fresh.update(d)
    return order
