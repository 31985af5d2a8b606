"""The derivation of stock effects from a path, on its own (through gRPC:
test_stock_effects.py). Each expectation is the rule in words: unpaid holds, paid or
shipped sells, cancelled or refunded before shipping gives back, a pause changes
nothing; a jump is every step it walks, a first sighting walks from nothing."""

from __future__ import annotations

import pytest

from reservation.ordersync import effects
from reservation.ordersync.effects import HoldWant, Units
from reservation.ordersync.states import OrderState as S


def first_seen(*path: S) -> Units:
    return effects.walk(effects.ARRIVAL, path)


def test_a_jump_over_payment_sells_the_units():
    assert effects.walk(Units.HELD, [S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED,
                                     S.SHIPPED]) == Units.SHIPPED


@pytest.mark.parametrize("path,units", [
    ((), Units.HELD),
    ((S.PAID, S.ROUTED), Units.CONFIRMED),
    ((S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED, S.SHIPPED, S.DELIVERED), Units.SHIPPED),
    ((S.PAID, S.ON_HOLD), Units.CONFIRMED),
    ((S.ON_HOLD,), Units.HELD),
    ((S.CANCELLED,), Units.RELEASED),
    ((S.PAID, S.REFUND_REQUESTED, S.REFUNDED), Units.RELEASED),
])
def test_a_first_sighting_walks_from_nothing(path, units):
    assert first_seen(*path) == units


def test_a_refund_after_shipping_gives_nothing_back():
    assert effects.walk(Units.SHIPPED, [S.REFUND_REQUESTED, S.REFUNDED]) == Units.SHIPPED


def test_a_pause_changes_nothing():
    for units in Units:
        for pause in (S.ON_HOLD, S.REFUND_REQUESTED):
            assert effects.step(units, pause) == units


def test_units_are_held_once_on_arrival_then_only_a_sale_takes_them():
    assert effects.ARRIVAL == Units.HELD
    assert effects.step(Units.NONE, S.PENDING_PAYMENT) == Units.NONE


def test_closing_an_order_that_never_shipped_gives_its_units_back():
    """A refund request the channel then closes: the sale did not happen."""
    assert effects.walk(Units.CONFIRMED, [S.REFUND_REQUESTED, S.CLOSED]) == Units.RELEASED
    assert effects.walk(Units.SHIPPED, [S.DELIVERED, S.CLOSED]) == Units.SHIPPED


def test_refused_stock_is_reserved_again_when_the_order_is_sold():
    assert effects.step(Units.NONE, S.ROUTED) == Units.CONFIRMED


@pytest.mark.parametrize("before,after,want", [
    (Units.HELD, Units.HELD, HoldWant.KEEP),
    (Units.NONE, Units.HELD, HoldWant.HELD),
    (Units.HELD, Units.SHIPPED, HoldWant.CONFIRMED),
    (Units.CONFIRMED, Units.RELEASED, HoldWant.RELEASED),
])
def test_the_script_is_asked_only_for_a_change(before, after, want):
    assert effects.want(before, after) == want
