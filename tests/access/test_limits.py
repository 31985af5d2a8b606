"""Limits: a principal's rate and concurrency, the server-wide in-flight cap; refusals
are RESOURCE_EXHAUSTED with a retry delay (RetryInfo and retry-after-ms)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from reservation.access.limits import TokenBucket
from reservation.access.tokens import hash_token
from reservation.domain.models import StockItem
from reservation.domain.states import State
from reservation.errors import NotFound
from reservation.server.app import App, start_app
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc
from reservation.v1 import types_pb2
from reservation.v1 import write_back_service_pb2 as wpb
from reservation.v1 import write_back_service_pb2_grpc as wpb_grpc
from tests.helpers.access import auth_document
from tests.helpers.reservations import ms
from tests.helpers.server import test_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == pytest.approx(0.1)  # next token in 100 ms
    clock.now += 0.1
    assert bucket.take() == 0
    clock.now += 100  # saved-up tokens stop at the burst
    assert [bucket.take() == 0 for _ in range(4)] == [True, True, True, False]


def _retry_after(err: grpc.aio.AioRpcError) -> tuple[int, int]:
    """(retry-after-ms header, RetryInfo delay in ms)."""
    header = dict(err.trailing_metadata() or ()).get("retry-after-ms")
    status = rpc_status.from_call(err)
    assert status is not None
    info = error_details_pb2.RetryInfo()
    assert any(d.Unpack(info) for d in status.details)
    return int(header), info.retry_delay.ToMilliseconds()  # type: ignore[arg-type]


class LongPolls:
    """`n` PullBatch long polls kept in flight: one that ends (shed, because it arrived
    after a call it raced with) is started again by top_up()."""

    def __init__(self, target: str, n: int, metadata: Any = ()) -> None:
        self.channel = grpc.aio.insecure_channel(target)
        self.wb = wpb_grpc.WriteBackServiceStub(self.channel)
        self.metadata = metadata
        self.calls: list[Any] = [self._one(i) for i in range(n)]

    def _one(self, i: int) -> Any:
        return self.wb.PullBatch(wpb.PullBatchRequest(
            group="wms", consumer=f"c{i}", max_events=1, wait=ms(20_000)),
            metadata=self.metadata)

    def top_up(self) -> None:
        self.calls = [self._one(i) if c.done() else c for i, c in enumerate(self.calls)]

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        await self.channel.close()


async def _until_refused(call: Any, polls: LongPolls) -> grpc.aio.AioRpcError:
    """Repeat `call` until it is RESOURCE_EXHAUSTED (the long polls take a moment to be
    in flight); other answers (NOT_FOUND, OK) mean it was admitted."""
    for _ in range(500):
        polls.top_up()
        try:
            await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                return exc
        await asyncio.sleep(0.02)
    raise AssertionError("never refused")


@pytest.mark.parametrize("settings_overrides", [{"max_in_flight": 2,
                                                 "shed_retry_after_ms": 250}])
async def test_beyond_the_in_flight_cap_calls_are_shed_with_a_retry_delay(
        app: App, settings_overrides: dict[str, Any]) -> None:
    polls = LongPolls(app.target, 2)
    try:
        async with grpc.aio.insecure_channel(app.target) as ch:
            rs = rpb_grpc.ReservationServiceStub(ch)
            err = await _until_refused(lambda: rs.GetStock(rpb.GetStockRequest(sku="X")),
                                       polls)
            assert _retry_after(err) == (250, 250)
            # Probes are never shed: a full server is busy, not dead.
            health = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
        await polls.close()
        async with grpc.aio.insecure_channel(app.target) as ch:  # capacity comes back
            rs = rpb_grpc.ReservationServiceStub(ch)
            for _ in range(200):
                try:
                    await rs.GetStock(rpb.GetStockRequest(sku="X"))
                    break
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                          grpc.StatusCode.NOT_FOUND)
                    if exc.code() == grpc.StatusCode.NOT_FOUND:
                        break
                    await asyncio.sleep(0.02)
            else:
                raise AssertionError("capacity never came back")
    finally:
        await polls.close()


async def _app_with(redis_url: str, tmp_path: Path, limits: dict[str, Any]) -> App:
    doc = auth_document([
        {"name": "busy", "role": "wms", "groups": ["wms"], "limits": limits,
         "token_hash": hash_token("tok-busy")},
        {"name": "calm", "role": "wms", "groups": ["wms"], "token_hash": hash_token("tok-calm")},
    ])
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    return await start_app(test_settings(redis_url, auth_file=str(path),
                                         write_back_batch_key="k"))


async def test_a_principals_concurrency_cap_refuses_only_that_principal(
        redis_url: str, tmp_path: Path) -> None:
    app = await _app_with(redis_url, tmp_path, {"max_in_flight": 1})
    busy, calm = (("authorization", "Bearer tok-busy"),), (("authorization", "Bearer tok-calm"),)
    polls = LongPolls(app.target, 1, busy)
    try:
        async with grpc.aio.insecure_channel(app.target) as ch:
            wb = wpb_grpc.WriteBackServiceStub(ch)
            stats = wpb.GetWriteBackStatsRequest(group="wms")
            err = await _until_refused(lambda: wb.GetWriteBackStats(stats, metadata=busy),
                                       polls)
            assert _retry_after(err)[0] > 0
            await wb.GetWriteBackStats(stats, metadata=calm)  # the others go on
    finally:
        await polls.close()
        await app.stop(grace=0)


async def test_a_principals_rate_is_a_token_bucket(redis_url: str, tmp_path: Path) -> None:
    # 1 call a second with a burst of 2: the third call in a row is refused.
    app = await _app_with(redis_url, tmp_path, {"rate": 1, "burst": 2})
    busy, calm = (("authorization", "Bearer tok-busy"),), (("authorization", "Bearer tok-calm"),)
    try:
        async with grpc.aio.insecure_channel(app.target) as ch:
            wb = wpb_grpc.WriteBackServiceStub(ch)
            stats = wpb.GetWriteBackStatsRequest(group="wms")
            codes = []
            for _ in range(5):
                try:
                    await wb.GetWriteBackStats(stats, metadata=busy)
                    codes.append(grpc.StatusCode.OK)
                except grpc.aio.AioRpcError as exc:
                    codes.append(exc.code())
                    refused = exc
            assert codes[:2] == [grpc.StatusCode.OK] * 2
            assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes[2:]
            assert 0 < _retry_after(refused)[0] <= 1000
            await wb.GetWriteBackStats(stats, metadata=calm)
    finally:
        await app.stop(grace=0)


def _fire_at_once(target: str, requests: list[bytes]) -> list[str]:
    """Every request at once through grpc's synchronous futures (a C-core submission
    each, so the burst reaches the server together); the code of each answer."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/reservation.v1.ReservationService/Reserve")
        futures = [call.future(r, timeout=30) for r in requests]
        codes = []
        for future in futures:
            try:
                future.result()
                codes.append("OK")
            except grpc.RpcError as exc:
                codes.append(exc.code().name)
        return codes


@pytest.mark.parametrize("settings_overrides", [{"max_pending": 1}])
async def test_gRPC_core_refuses_a_burst_beyond_the_pending_backlog_and_refused_calls_hold_nothing(
        app: App, settings_overrides: dict[str, Any]) -> None:
    await app.inventory.load([StockItem("P-1", "W1", 10_000)], "SET")
    requests = [rpb.ReserveRequest(channel="jd", order_id=f"burst-{i}", buyer_id=f"b{i}",
                                   lines=[types_pb2.OrderLine(sku="P-1", quantity=1)]
                                   ).SerializeToString() for i in range(300)]
    codes = await asyncio.to_thread(_fire_at_once, app.target, requests)
    assert set(codes) <= {"OK", "CANCELLED"}, codes
    assert "CANCELLED" in codes and "OK" in codes
    # A call refused by core never reached a handler: its order does not exist and
    # holds nothing; an admitted one holds its unit.
    for i, code in enumerate(codes):
        if code == "OK":
            assert (await app.reservations.get("jd", f"burst-{i}")).state == State.RESERVED
        else:
            with pytest.raises(NotFound):
                await app.reservations.get("jd", f"burst-{i}")
    levels, _ = await app.store.stock("P-1")
    assert sum(level.held for level in levels) == codes.count("OK")
    async with grpc.aio.insecure_channel(app.target) as ch:
        health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING
