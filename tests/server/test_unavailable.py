"""A Redis that goes away: calls answer UNAVAILABLE (not a hung call), health follows Redis.

Each test has its own redis-server (the session one is shared with other tests and must
not be stopped under them) and its own real gRPC server with background work running,
because the health watcher is part of what is tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from reservation.server.app import LIVENESS, App, start_app
from reservation.storage.redis_process import RedisProcess
from reservation.v1 import admin_service_pb2 as admin_pb
from reservation.v1 import reservation_service_pb2 as pb
from reservation.v1 import types_pb2 as types_pb
from tests.helpers.redis_servers import start_redis
from tests.helpers.server import Stubs, test_settings

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

# Far above the 2 s Redis timeout: a call that comes back DEADLINE_EXCEEDED hung.
DEADLINE_S = 10.0
# The health watcher runs every 2 s; allow a few rounds before calling it a failure.
HEALTH_WAIT_S = 15.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    proc = start_redis(tmp_path, appendonly=False)
    yield proc
    proc.stop()


@pytest.fixture
async def own_app(own_redis: RedisProcess) -> AsyncIterator[App]:
    # redis_timeout_ms stays at its default (2000): that is the bound we rely on.
    running = await start_app(test_settings(own_redis.url))
    yield running
    await running.stop(grace=0)


@pytest.fixture
async def own_stubs(own_app: App) -> AsyncIterator[Stubs]:
    async with grpc.aio.insecure_channel(own_app.target) as channel:
        yield Stubs(channel)


async def load(stubs: Stubs, sku: str, quantity: int) -> None:
    await stubs.admin.LoadStock(admin_pb.LoadStockRequest(
        mode=admin_pb.LOAD_MODE_SET,
        items=[types_pb.StockItem(sku=sku, warehouse_id="WH-1", quantity=quantity)]))


def reserve_request(order_id: str, sku: str = "SKU-U") -> pb.ReserveRequest:
    return pb.ReserveRequest(channel="web", order_id=order_id, buyer_id="buyer",
                             lines=[types_pb.OrderLine(sku=sku, quantity=1)])


async def status_code_of(call: object) -> grpc.StatusCode:
    """The status a call ends with (OK when it returns)."""
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def health_status(stubs: Stubs, service: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(stubs.channel).Check(
        health_pb2.HealthCheckRequest(service=service), timeout=DEADLINE_S)
    return reply.status


async def wait_for_health(stubs: Stubs, wanted: int, service: str = "") -> int:
    """Poll the health service until it reports `wanted` (or the bound passes)."""
    deadline = time.monotonic() + HEALTH_WAIT_S
    status = await health_status(stubs, service)
    while status != wanted and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        status = await health_status(stubs, service)
    return status


async def stop_redis(proc: RedisProcess) -> None:
    await asyncio.to_thread(proc.stop)


async def restart_redis(proc: RedisProcess) -> None:
    await asyncio.to_thread(proc.restart)


@contextlib.contextmanager
def frozen(proc: RedisProcess) -> Iterator[None]:
    """SIGSTOP: Redis keeps its sockets open but answers nothing (a hung server)."""
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(proc.pid, signal.SIGCONT)  # so the fixture's SIGTERM can stop it


async def test_reserve_answers_unavailable_not_deadline_exceeded_when_redis_is_stopped(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    await load(own_stubs, "SKU-U", 10)
    await stop_redis(own_redis)
    code = await status_code_of(own_stubs.rs.Reserve(reserve_request("o1"), timeout=DEADLINE_S))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_get_stock_answers_unavailable_when_redis_is_stopped(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    await load(own_stubs, "SKU-U", 10)
    await stop_redis(own_redis)
    code = await status_code_of(
        own_stubs.rs.GetStock(pb.GetStockRequest(sku="SKU-U"), timeout=DEADLINE_S))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_load_stock_answers_unavailable_when_redis_is_stopped(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    await stop_redis(own_redis)
    code = await status_code_of(own_stubs.admin.LoadStock(admin_pb.LoadStockRequest(
        mode=admin_pb.LOAD_MODE_SET,
        items=[types_pb.StockItem(sku="SKU-U", warehouse_id="WH-1", quantity=1)]),
        timeout=DEADLINE_S))
    assert code == grpc.StatusCode.UNAVAILABLE


async def test_concurrent_reserves_all_answer_unavailable_when_redis_is_stopped(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    # Many callers at once share the bounded pool and the coalescer: none may hang.
    await load(own_stubs, "SKU-U", 1000)
    await stop_redis(own_redis)
    codes = await asyncio.gather(*(
        status_code_of(own_stubs.rs.Reserve(reserve_request(f"c{i}"), timeout=DEADLINE_S))
        for i in range(200)))
    assert set(codes) == {grpc.StatusCode.UNAVAILABLE}


async def test_health_turns_not_serving_when_redis_is_stopped(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    assert await health_status(own_stubs) == SERVING
    await stop_redis(own_redis)
    assert await wait_for_health(own_stubs, NOT_SERVING) == NOT_SERVING


async def test_named_services_turn_not_serving_too_when_redis_is_stopped(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    # Kubernetes' grpc probe may name a service; it must follow Redis like "" does.
    service = "reservation.v1.ReservationService"
    assert await health_status(own_stubs, service) == SERVING
    await stop_redis(own_redis)
    assert await wait_for_health(own_stubs, NOT_SERVING, service) == NOT_SERVING


async def test_health_returns_to_serving_after_redis_is_restarted(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    await stop_redis(own_redis)
    assert await wait_for_health(own_stubs, NOT_SERVING) == NOT_SERVING
    await restart_redis(own_redis)
    assert await wait_for_health(own_stubs, SERVING) == SERVING


async def test_reserve_succeeds_again_after_redis_is_restarted(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    await stop_redis(own_redis)
    code = await status_code_of(own_stubs.rs.Reserve(reserve_request("o1"), timeout=DEADLINE_S))
    assert code == grpc.StatusCode.UNAVAILABLE
    await restart_redis(own_redis)  # no AOF here: the restarted Redis is empty
    await load(own_stubs, "SKU-U", 1)
    reply = await own_stubs.rs.Reserve(reserve_request("o2"), timeout=DEADLINE_S)
    assert reply.reservation.state == types_pb.RESERVATION_STATE_RESERVED


async def test_reserve_answers_unavailable_not_deadline_exceeded_when_redis_hangs(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    # Only the socket timeout (redis_timeout_ms) can end these calls early.
    await load(own_stubs, "SKU-U", 100)
    with frozen(own_redis):
        codes = await asyncio.gather(*(
            status_code_of(own_stubs.rs.Reserve(reserve_request(f"h{i}"), timeout=DEADLINE_S))
            for i in range(20)))
    assert set(codes) == {grpc.StatusCode.UNAVAILABLE}


async def test_health_turns_not_serving_when_redis_hangs(
        own_redis: RedisProcess, own_stubs: Stubs) -> None:
    assert await health_status(own_stubs) == SERVING
    with frozen(own_redis):
        assert await wait_for_health(own_stubs, NOT_SERVING) == NOT_SERVING


async def test_liveness_stays_serving_while_redis_is_down(tmp_path):
    """Readiness follows Redis; the 'liveness' name only says the process is alive."""
    redis = start_redis(tmp_path)
    app = await start_app(test_settings(redis.url))
    try:
        redis.stop()
        async with grpc.aio.insecure_channel(app.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in range(100):
                ready = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
                if ready.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
                await asyncio.sleep(0.1)
            assert ready.status == health_pb2.HealthCheckResponse.NOT_SERVING
            alive = await stub.Check(health_pb2.HealthCheckRequest(service=LIVENESS), timeout=5)
            assert alive.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await app.stop(grace=0)
        if redis.is_running:
            redis.stop()
