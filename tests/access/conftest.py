"""A server with an auth file: one principal per role, each with its own token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from reservation.server.app import App
from tests.helpers.access import auth_document
from tests.helpers.server import Stubs


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "principals.yaml"
    path.write_text(yaml.safe_dump(auth_document()))
    return path


@pytest.fixture
def settings_overrides(auth_file: Path) -> dict[str, Any]:
    return {"auth_file": str(auth_file), "auth_reload_interval_ms": 0,
            "write_back_batch_key": "test-key", "write_back_groups": "wms,other",
            "order_event_groups": "audit,feed-jd,feed-tmall"}


@pytest.fixture
async def channel(app: App) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(app.target) as ch:
        yield ch


@pytest.fixture
def as_stubs(channel: grpc.aio.Channel) -> Stubs:
    return Stubs(channel)
