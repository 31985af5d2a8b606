"""Records stores for the tests: a SQLite file in tmp_path, and a PostgreSQL database of
the test's own (created on the `postgres_server`, dropped after)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest

from reservation.server.app import App, start_app
from reservation.v1 import order_service_pb2_grpc
from tests.conftest import Stubs, test_settings
from tests.helpers import load


@pytest.fixture
def sqlite_records_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'records.sqlite3'}"


@pytest.fixture
def postgres_records_url(postgres_server: str) -> Iterator[str]:
    """An empty database per test: migrations start from nothing."""
    import psycopg

    name = f"records_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    base = postgres_server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgres"])
def records_url(request: pytest.FixtureRequest) -> str:
    """Each records test once on SQLite (the default) and once on PostgreSQL."""
    name = f"{request.param}_records_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def quiet_app(redis_url: str, records_url: str) -> AsyncIterator[App]:
    """The server with a records store and no background work: the tests drive the
    follower themselves."""
    app = await start_app(test_settings(redis_url, records_url=records_url), background=False)
    yield app
    await app.stop(grace=0)


@pytest.fixture
async def order_stub(quiet_app: App) -> AsyncIterator[order_service_pb2_grpc.OrderServiceStub]:
    async with grpc.aio.insecure_channel(quiet_app.target) as channel:
        await load(Stubs(channel), ("SKU-1", "WH-A", 50), ("SKU-2", "WH-B", 50))
        yield order_service_pb2_grpc.OrderServiceStub(channel)
