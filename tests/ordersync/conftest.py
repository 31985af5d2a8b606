"""Fixtures of the order hub tests: the real server, an OrderService stub, stock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reservation.v1 import order_service_pb2_grpc
from tests.helpers.reservations import load
from tests.helpers.server import Stubs


@pytest.fixture
async def hub(stubs: Stubs) -> AsyncIterator[order_service_pb2_grpc.OrderServiceStub]:
    """OrderService on the test server, with SKU-1 (10 in WH-A, 5 in WH-B) and GIFT-1 (3)."""
    await load(stubs, ("SKU-1", "WH-A", 10), ("SKU-1", "WH-B", 5), ("GIFT-1", "WH-A", 3))
    yield order_service_pb2_grpc.OrderServiceStub(stubs.channel)
