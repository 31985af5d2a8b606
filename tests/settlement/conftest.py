"""The server over a records store (SQLite and PostgreSQL), no background work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from reservation.server.app import App, start_app
from reservation.v1 import order_service_pb2_grpc
from tests.helpers.reservations import load
from tests.helpers.server import Stubs, test_settings


@pytest.fixture
async def settle_app(redis_url: str, records_url: str) -> AsyncIterator[App]:
    app = await start_app(test_settings(redis_url, records_url=records_url), background=False)
    yield app
    await app.stop(grace=0)


@pytest.fixture
async def settle_stub(settle_app: App) -> AsyncIterator[order_service_pb2_grpc.OrderServiceStub]:
    async with grpc.aio.insecure_channel(settle_app.target) as channel:
        await load(Stubs(channel), ("SKU-1", "WH-A", 500))
        yield order_service_pb2_grpc.OrderServiceStub(channel)
