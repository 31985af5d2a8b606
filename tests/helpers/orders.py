"""The order hub (OrderService): channel orders, keys, sync, reads and moves."""

from __future__ import annotations

from reservation.v1 import order_service_pb2 as opb

TEST_EPOCH_S = 1_767_225_600
"""2026-01-01T00:00:00Z. Tests write channel times as small numbers of seconds (1000,
1001: their order is what matters); the hub refuses times before 2000, so `when` puts
them after this instant. Real epoch seconds (time.time()) pass through unchanged."""


def when(seconds: int) -> int:
    """A channel time in epoch seconds: small test numbers moved to TEST_EPOCH_S + n."""
    return seconds + TEST_EPOCH_S if 0 < seconds < TEST_EPOCH_S // 2 else seconds


def channel_order(order_id: str, state: str = "PAID", *lines: tuple[str, int] | opb.OrderItem,
                  channel: str = "jd", shop: str = "shop-1", modified_s: int = 1000,
                  phone: str = "13800138000", province: str = "Zhejiang",
                  city: str = "Hangzhou", detail: str = "1 West Lake Rd",
                  raw_status: str = "", created_s: int = 0) -> opb.ChannelOrder:
    items = [ln if isinstance(ln, opb.OrderItem) else
             opb.OrderItem(sku=ln[0], quantity=ln[1], price=1999) for ln in lines]
    o = opb.ChannelOrder(channel=channel, shop=shop, order_id=order_id, state=state,
                         raw_status=raw_status or state.lower(), receiver_phone=phone,
                         address=opb.Address(province=province, city=city, district="Xihu",
                                             detail=detail),
                         lines=items or [opb.OrderItem(sku="SKU-1", quantity=1, price=1999)])
    o.modified_at.FromSeconds(when(modified_s))
    o.created_at.FromSeconds(when(created_s or modified_s))
    return o


def key(order_id: str, channel: str = "jd", shop: str = "shop-1") -> opb.OrderKey:
    return opb.OrderKey(channel=channel, shop=shop, order_id=order_id)


async def sync(order_stub, *orders: opb.ChannelOrder) -> list[opb.SyncResult]:
    reply = await order_stub.SyncOrders(opb.SyncOrdersRequest(orders=list(orders)), timeout=20)
    return list(reply.results)


async def get_order(order_stub, order_id: str, **kw: str) -> opb.Order:
    return (await order_stub.GetOrder(opb.GetOrderRequest(key=key(order_id, **kw)),
                                      timeout=10)).order


async def history(order_stub, order_id: str, **kw: str) -> list[opb.OrderEvent]:
    return list((await order_stub.GetOrderHistory(
        opb.GetOrderHistoryRequest(key=key(order_id, **kw)), timeout=10)).events)


async def move(order_stub, order_id: str, state: str, actor: str = "operator:ann",
               reason: str = "", **kw: str) -> opb.UpdateOrderStateResponse:
    return await order_stub.UpdateOrderState(opb.UpdateOrderStateRequest(
        key=key(order_id, **kw), state=state, actor=actor, reason=reason), timeout=10)
