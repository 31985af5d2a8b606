"""Shared fixtures: real redis-server processes and the real gRPC server on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from reservation.server.app import App, start_app
from reservation.settings import Settings
from reservation.v1 import admin_service_pb2_grpc, reservation_service_pb2_grpc
from tests.postgres_fixtures import postgres_server, postgres_url  # noqa: F401
from tests.redis_fixtures import *


def test_settings(redis_url: str, **overrides: Any) -> Settings:
    """Settings for a test: loopback port 0, fast background loops."""
    base: dict[str, Any] = {"redis_url": redis_url, "port": 0, "sweep_interval_ms": 50,
                                "queue_retry_interval_ms": 200, "grace_period_s": 0.5}
    base.update(overrides)
    return Settings(**base)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the server's settings."""
    return {}


@pytest.fixture
async def app(redis_url: str, settings_overrides: dict[str, Any]) -> AsyncIterator[App]:
    running = await start_app(test_settings(redis_url, **settings_overrides))
    yield running
    await running.stop(grace=0)


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.rs = reservation_service_pb2_grpc.ReservationServiceStub(channel)
        self.admin = admin_service_pb2_grpc.AdminServiceStub(channel)


@pytest.fixture
async def stubs(app: App) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(app.target) as channel:
        yield Stubs(channel)
