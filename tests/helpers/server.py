"""The service under test: its settings (loopback port 0, fast background loops) and
the stubs on a channel to it. The fixtures app and stubs (tests/conftest.py) use them."""

from __future__ import annotations

from typing import Any

import grpc

from reservation.settings import Settings
from reservation.v1 import admin_service_pb2_grpc, reservation_service_pb2_grpc


def test_settings(redis_url: str, **overrides: Any) -> Settings:
    """Settings for a test: loopback port 0, fast background loops."""
    base: dict[str, Any] = {"redis_url": redis_url, "port": 0, "sweep_interval_ms": 50,
                                "queue_retry_interval_ms": 200, "grace_period_s": 0.5,
                                # required with auth on; harmless without it
                                "order_buyer_hash_key": "test-buyer-hash-key"}
    base.update(overrides)
    return Settings(**base)


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


class Stubs:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.rs = reservation_service_pb2_grpc.ReservationServiceStub(channel)
        self.admin = admin_service_pb2_grpc.AdminServiceStub(channel)
