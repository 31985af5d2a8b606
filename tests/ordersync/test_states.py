"""The state table itself: walks and refusals (the stock effects: test_effects.py)."""

from __future__ import annotations

import pytest

from reservation.errors import FailedPrecondition, InvalidArgument
from reservation.ordersync import states
from reservation.ordersync.states import OrderState as S


def test_every_state_has_a_row_and_every_target_is_a_state():
    assert set(states.TRANSITIONS) == set(S)
    for targets in states.TRANSITIONS.values():
        assert set(targets) <= set(S)


def test_a_skipped_step_walks_the_main_line():
    assert states.walk(S.PENDING_PAYMENT, S.SHIPPED) == [
        S.PAID, S.ROUTED, S.ALLOCATED, S.PRINTED, S.SHIPPED]


def test_a_walk_never_invents_a_review_or_a_refund_request():
    assert S.ON_HOLD not in states.walk(S.PAID, S.DELIVERED)
    assert S.REFUND_REQUESTED not in states.walk(S.ROUTED, S.SHIPPED)
    assert states.walk(S.PAID, S.REFUNDED) == [S.REFUND_REQUESTED, S.REFUNDED]


@pytest.mark.parametrize("src,dst", [(S.SHIPPED, S.PAID), (S.CLOSED, S.PAID),
                                     (S.CANCELLED, S.SHIPPED), (S.DELIVERED, S.CANCELLED),
                                     (S.REFUNDED, S.PAID)])
def test_a_forbidden_move_names_from_and_to(src, dst):
    with pytest.raises(FailedPrecondition) as exc:
        states.walk(src, dst)
    assert str(src) in exc.value.message and str(dst) in exc.value.message


def test_an_unknown_state_is_invalid_argument_naming_the_field():
    with pytest.raises(InvalidArgument) as exc:
        states.parse("orders[0].state", "LOCKED")
    assert exc.value.field == "orders[0].state"
