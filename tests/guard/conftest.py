"""Guard fixtures: the GuardService and WriteBackService stubs beside the shared stubs."""

from __future__ import annotations

import pytest

from reservation.v1 import guard_service_pb2_grpc, write_back_service_pb2_grpc
from tests.helpers.server import Stubs


@pytest.fixture
def guard(stubs: Stubs) -> guard_service_pb2_grpc.GuardServiceStub:
    return guard_service_pb2_grpc.GuardServiceStub(stubs.channel)


@pytest.fixture
def wb(stubs: Stubs) -> write_back_service_pb2_grpc.WriteBackServiceStub:
    return write_back_service_pb2_grpc.WriteBackServiceStub(stubs.channel)
