"""Shared fixtures: real redis-server processes and the real gRPC server on port 0.

Test tiers (markers, registered in pyproject.toml): a test is marked by what it needs or
how long it runs, here for whole folders and fixtures, in a module (`pytestmark`) for the
rest. `make test-fast` leaves out every marked test; `make test` runs them all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from reservation.server.app import App, start_app
from reservation.settings import Settings
from reservation.v1 import admin_service_pb2_grpc, reservation_service_pb2_grpc
from tests.postgres_fixtures import postgres_server, postgres_url  # noqa: F401
from tests.records_fixtures import (  # noqa: F401
    postgres_records_url,
    records_url,
    sqlite_records_url,
)
from tests.redis_fixtures import *

# Folders and files whose every test carries these markers.
MARKS_BY_PATH = {
    "tests/chaos/": ("chaos", "slow"),
    "tests/fuzz/": ("fuzz",),
    "tests/clients/test_console_browser.py": ("browser", "slow"),
    "tests/benchmarks/": ("slow",),
    "tests/packaging/": ("slow",),
}
# A test that uses one of these fixtures (directly or through another) needs that part.
MARKS_BY_FIXTURE = {"redis_cluster": "cluster", "postgres_server": "postgres",
                    "redis_sentinel": "slow"}
# The model-based tests (hypothesis stateful): test_model*.py anywhere.
MODEL_FILE_PREFIX = "test_model"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        rel = item.path.relative_to(root).as_posix()
        for prefix, marks in MARKS_BY_PATH.items():
            if rel.startswith(prefix):
                for mark in marks:
                    item.add_marker(mark)
        for fixture, mark in MARKS_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(mark)
        if "[cluster" in item.name or "_cluster" in item.name:  # parametrized on Cluster
            item.add_marker("cluster")
        if item.path.name.startswith(MODEL_FILE_PREFIX):
            item.add_marker("model")


def test_settings(redis_url: str, **overrides: Any) -> Settings:
    """Settings for a test: loopback port 0, fast background loops."""
    base: dict[str, Any] = {"redis_url": redis_url, "port": 0, "sweep_interval_ms": 50,
                                "queue_retry_interval_ms": 200, "grace_period_s": 0.5,
                                # required with auth on; harmless without it
                                "order_buyer_hash_key": "test-buyer-hash-key"}
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
