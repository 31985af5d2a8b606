"""Routing fixtures: the real server with the seed warehouses, stubs for both services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from reservation.server.app import App
from reservation.v1 import routing_service_pb2 as rpb
from tests.helpers.routing import SEED_WAREHOUSES, RoutingStubs


@pytest.fixture
async def rstubs(app: App) -> AsyncIterator[RoutingStubs]:
    async with grpc.aio.insecure_channel(app.target) as channel:
        stubs = RoutingStubs(channel)
        for wh in SEED_WAREHOUSES:
            await stubs.routing_admin.PutWarehouse(rpb.PutWarehouseRequest(warehouse=wh))
        yield stubs
