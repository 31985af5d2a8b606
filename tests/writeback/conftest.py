"""Write-back fixtures: the WriteBackService stub beside the shared stubs."""

from __future__ import annotations

from typing import Any

import pytest

from reservation.v1 import write_back_service_pb2_grpc
from tests.helpers.server import Stubs
from tests.helpers.writeback import VISIBILITY_MS


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # A short visibility timeout, so redelivery tests wait a fraction of a second.
    return {"write_back_visibility_timeout_ms": VISIBILITY_MS, "write_back_max_deliveries": 3}


@pytest.fixture
def wb(stubs: Stubs) -> write_back_service_pb2_grpc.WriteBackServiceStub:
    return write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
