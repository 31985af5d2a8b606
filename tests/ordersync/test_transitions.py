"""Every allowed move of the state table through UpdateOrderState, and forbidden ones
refused naming from and to, with nothing changed."""

from __future__ import annotations

import grpc
import pytest

from reservation.ordersync.states import TRANSITIONS, OrderState
from tests.helpers.orders import channel_order, get_order, history, move, sync

ALLOWED = [(src, dst) for src, targets in TRANSITIONS.items() for dst in targets]
FORBIDDEN = [(OrderState.SHIPPED, OrderState.PAID), (OrderState.CANCELLED, OrderState.PAID),
             (OrderState.CLOSED, OrderState.REFUND_REQUESTED),
             (OrderState.DELIVERED, OrderState.CANCELLED),
             (OrderState.REFUNDED, OrderState.SHIPPED),
             (OrderState.PENDING_PAYMENT, OrderState.REFUNDED),
             (OrderState.PAID, OrderState.SHIPPED)]


async def reach(hub, order_id: str, state: OrderState, shipped: bool = False) -> None:
    """Through the channel (which may skip steps), then one operator step if need be;
    `shipped`: the order shipped before it got there."""
    await sync(hub, channel_order(order_id, "PENDING_PAYMENT", ("SKU-1", 1)))
    if shipped:
        await sync(hub, channel_order(order_id, "SHIPPED", ("SKU-1", 1), modified_s=1000))
    if state in (OrderState.ON_HOLD, OrderState.PAID):  # a channel's PAID routes at once
        await move(hub, order_id, state.value, reason="set-up")
    elif state in (OrderState.ROUTED, OrderState.ALLOCATED, OrderState.PRINTED):
        await sync(hub, channel_order(order_id, "PAID", ("SKU-1", 1), modified_s=1001))
        for step in ("ALLOCATED", "PRINTED")[:["ROUTED", "ALLOCATED", "PRINTED"].index(state)]:
            await move(hub, order_id, step, reason="set-up")
    elif state != OrderState.PENDING_PAYMENT:
        await sync(hub, channel_order(order_id, state.value, ("SKU-1", 1), modified_s=1001))
    assert (await get_order(hub, order_id)).state == state.value


@pytest.mark.parametrize("src,dst", ALLOWED, ids=[f"{s}->{d}" for s, d in ALLOWED])
async def test_every_allowed_move_is_made_and_recorded(hub, src, dst):
    # Back from a refund request to SHIPPED or DELIVERED is for an order that had shipped
    # (nothing ships past a hold: tests/ordersync/test_holds.py).
    await reach(hub, "T1", src, shipped=src == OrderState.REFUND_REQUESTED
                and dst in (OrderState.SHIPPED, OrderState.DELIVERED))

    reply = await move(hub, "T1", dst.value, actor="operator:ann", reason="drill")

    last = (await history(hub, "T1"))[-1]
    assert reply.order.state == dst.value
    assert (last.type, last.from_state, last.to_state) == ("TRANSITION", src.value, dst.value)
    assert (last.actor, last.reason) == ("operator:ann", "drill")


@pytest.mark.parametrize("src,dst", FORBIDDEN, ids=[f"{s}->{d}" for s, d in FORBIDDEN])
async def test_a_forbidden_move_is_failed_precondition_naming_from_and_to(hub, src, dst):
    await reach(hub, "T1", src)
    before = await get_order(hub, "T1")

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await move(hub, "T1", dst.value)

    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert src.value in exc.value.details() and dst.value in exc.value.details()
    assert (await get_order(hub, "T1")).version == before.version


async def test_an_unknown_order_is_not_found(hub):
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await move(hub, "NOPE", "PAID")

    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
