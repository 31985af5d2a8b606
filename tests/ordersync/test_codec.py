"""The stored order document: what encode writes decode reads back, field for field,
documents written before a field existed read with its default, and a document that is
not an order's refused."""

from __future__ import annotations

import orjson
import pytest

from reservation.ordersync import codec
from reservation.ordersync.effects import Units
from reservation.ordersync.model import Address, Line, Order, Shipment
from reservation.ordersync.states import OrderState


def order() -> Order:
    """An order with a value other than the default in every stored field."""
    return Order(channel="jd", shop="s1", order_id="o-1", raw_status="shipped",
                 modified_at_ms=5, created_at_ms=1, address=Address("P", "C", "D", "1 Rd"),
                 lines=(Line("SKU-1", 2, 1999, "b", "c", "WH-A", ""),
                        Line("GIFT", 1, 0, "", "", "", "SKU-1")),
                 total_cents=3998, paid_cents=3998, paid_at_ms=2, state=OrderState.SHIPPED,
                 version=7, channel_state=OrderState.PAID, buyer_hash="bh", routed_at_ms=3,
                 shipped_at_ms=4, delivered_at_ms=6, updated_at_ms=7,
                 shipments=(Shipment("sf", "T1", 4, "WH-A"),), review=("held: x",),
                 hold_gens={"3": 1}, wms_notified=True, routes=("WH-A,WH-B", ""),
                 routed_warehouses=("WH-A",), routing_version=2, units=Units.CONFIRMED,
                 restocked={"r1": {"SKU-1": 1}}, intercept_failed="ON_HOLD", state_at_ms=4,
                 priority=1, carrier="sf", carrier_cost_cents=800,
                 after_sales={"SKU-1": {"level1": "quality"}}, wms_state="SHIPPED",
                 wms_raw_status="out", wms_at_ms=4)


def test_a_document_reads_back_field_for_field() -> None:
    o = order()
    assert codec.decode(codec.encode(o)) == o


def test_fields_filled_from_the_holds_are_not_read_from_the_document() -> None:
    o = order()
    o.warehouses, o.reservation_state, o.extra = ("WH-A",), "CONFIRMED", {"k": 1}
    assert codec.decode(codec.encode(o)) == order()


def test_an_older_document_reads_its_missing_fields_as_defaults_each_its_own() -> None:
    d = orjson.loads(codec.encode(order()))
    for name in ("hold_gens", "after_sales", "wms_state", "priority"):
        del d[name]
    text = orjson.dumps(d).decode()
    a, b = codec.decode(text), codec.decode(text)
    assert (a.hold_gens, a.after_sales, a.wms_state, a.priority) == ({}, {}, "", 0)
    a.hold_gens["1"] = 1  # the use cases change these in place: no order shares one
    assert b.hold_gens == {}


@pytest.mark.parametrize("change", [{"surprise": 1}, {"version": None}])
def test_a_document_with_an_unknown_or_missing_field_is_refused(change: dict[str, object]) -> None:
    d = orjson.loads(codec.encode(order()))
    d.update(change)
    d = {k: v for k, v in d.items() if v is not None}
    with pytest.raises(TypeError):
        codec.decode(orjson.dumps(d).decode())
