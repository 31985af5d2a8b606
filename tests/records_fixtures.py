"""Records stores for the tests: a SQLite file in tmp_path, and a PostgreSQL database of
the test's own (created on the `postgres_server`, dropped after). Used by the records and
the settlement tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


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
