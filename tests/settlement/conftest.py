"""The server over a records store (SQLite and PostgreSQL), no background work."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from reservation.server.app import App, start_app
from tests.conftest import test_settings


@pytest.fixture
async def settle_app(redis_url: str, records_url: str) -> AsyncIterator[App]:
    app = await start_app(test_settings(redis_url, records_url=records_url), background=False)
    yield app
    await app.stop(grace=0)
