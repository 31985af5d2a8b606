"""`reservation check`: is the service (or its Redis) healthy? Exit code says."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.api import connection
from reservation.errors import ReservationError
from reservation.settings import Settings
from reservation.storage.store import Store, connect


async def check(target: str, redis_direct: bool, timeout: float) -> int:
    if redis_direct:
        return await _check_redis(timeout)
    try:
        async with connection.aio_channel(target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = await stub.Check(  # type: ignore[attr-defined]  # stubs lack the aio stub
                health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        print(f"unhealthy: {target}: {exc.code().name} {exc.details()}", file=sys.stderr)
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{target}: {status}")
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


async def _check_redis(timeout: float) -> int:
    settings = Settings.from_env(redis_timeout_ms=int(timeout * 1000))
    if not settings.redis_url:
        print("unhealthy: RESERVATION_REDIS_URL is not set", file=sys.stderr)
        return 2
    store = Store(connect(settings, settings.redis_url), settings)
    try:
        await store.health()
    except ReservationError as exc:
        print(f"unhealthy: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(f"{settings.redis_url}: scripts run")
    return 0
