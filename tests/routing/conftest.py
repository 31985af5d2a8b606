"""Routing fixtures: the real server with the seed warehouses, stubs for both services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from reservation.server.app import App
from reservation.v1 import routing_service_pb2 as rpb
from reservation.v1 import routing_service_pb2_grpc as rgrpc
from tests.conftest import Stubs

# The seed articles' warehouses: an East China forward warehouse near Shanghai, an East
# China main warehouse, a Shanghai cold store, Hangzhou (500 orders a day) and Beijing.
SEED_WAREHOUSES = [
    rpb.Warehouse(warehouse_id="WH-EAST-A", name="华东前置仓A", city="苏州"),
    rpb.Warehouse(warehouse_id="WH-EAST", name="华东仓", city="南京"),
    rpb.Warehouse(warehouse_id="WH-SH-COLD", name="上海冷仓", city="上海",
                  capabilities=["COLD_CHAIN"]),
    rpb.Warehouse(warehouse_id="WH-HZ", name="杭州仓", city="杭州", daily_capacity=500),
    rpb.Warehouse(warehouse_id="WH-BJ", name="北京仓", city="北京", safety_stock=3),
    rpb.Warehouse(warehouse_id="WH-GZ", name="广州仓", city="广州"),
]


class RoutingStubs(Stubs):
    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel)
        self.routing = rgrpc.RoutingServiceStub(channel)
        self.routing_admin = rgrpc.RoutingAdminServiceStub(channel)


def struct(doc: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(doc)
    return s


@pytest.fixture
async def rstubs(app: App) -> AsyncIterator[RoutingStubs]:
    async with grpc.aio.insecure_channel(app.target) as channel:
        stubs = RoutingStubs(channel)
        for wh in SEED_WAREHOUSES:
            await stubs.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=wh))
        yield stubs
