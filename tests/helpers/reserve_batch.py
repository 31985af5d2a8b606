"""Builders of the ReserveBatch tests: stock set per warehouse, orders of (sku, qty)."""

from __future__ import annotations

from typing import Any

from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb


async def load(stubs: Any, sku: str, **per_warehouse: int) -> None:
    await stubs.admin.LoadStock(admin_pb.LoadStockRequest(
        mode=admin_pb.LOAD_MODE_SET,
        items=[types_pb.StockItem(sku=sku, warehouse_id=wh, quantity=q)
               for wh, q in per_warehouse.items()]))


def order(oid: str, *lines: tuple[str, int], buyer: str = "b", channel: str = "web"
          ) -> pb.ReserveRequest:
    return pb.ReserveRequest(channel=channel, order_id=oid, buyer_id=buyer,
                             lines=[types_pb.OrderLine(sku=s, quantity=q) for s, q in lines])
