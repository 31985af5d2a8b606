"""Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, `reservation serve` exports spans of its
gRPC calls and Redis commands over OTLP/gRPC (received here by a stand-in collector on
127.0.0.1); without it, no instrumentation, exporter or tracer is even imported."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from reservation.storage.redis_process import free_port
from reservation.v1 import reservation_service_pb2 as rpb
from reservation.v1 import reservation_service_pb2_grpc as rpb_grpc

# Real processes, kills or restarts: seconds per test (make test-fast leaves it out).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 60.0


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """The OTLP trace receiver of a collector, keeping the span names it is sent."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self.roots: list[str] = []  # spans without a parent
        self.arrived = asyncio.Event()

    async def Export(self, request: trace_service_pb2.ExportTraceServiceRequest,
                     context: grpc.aio.ServicerContext
                     ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans += [span.name for span in scope.spans]
                self.roots += [span.name for span in scope.spans if not span.parent_span_id]
        self.arrived.set()
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, int]]:
    server = grpc.aio.server()
    servicer = Collector()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield servicer, port
    await server.stop(0)


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("RESERVATION_", "OTEL_"))}
    base.update(PYTHONPATH=str(REPO), **extra)
    return base


async def test_serve_exports_grpc_and_redis_spans(collector: tuple[Collector, int],
                                                 redis_url: str) -> None:
    received, otlp_port = collector
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reservation.cli", "serve", stdin=asyncio.subprocess.DEVNULL,
        env=env(RESERVATION_REDIS_URL=redis_url, RESERVATION_PORT=str(port),
                RESERVATION_GRACE_PERIOD_S="0.5", RESERVATION_LOG_LEVEL="WARNING",
                OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_port}",
                OTEL_EXPORTER_OTLP_INSECURE="true", OTEL_BSP_SCHEDULE_DELAY="100"))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = rpb_grpc.ReservationServiceStub(channel)
            for _ in range(int(WAIT_S * 5)):  # until the server answers (NOT_FOUND)
                try:
                    await stub.GetStock(rpb.GetStockRequest(sku="TRACED"), timeout=1)
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.NOT_FOUND:
                        break
                await asyncio.sleep(0.2)
        await asyncio.wait_for(_until(received, "/reservation.v1.ReservationService/GetStock"),
                               WAIT_S)
    finally:
        proc.terminate()
        await proc.wait()
    assert "/reservation.v1.ReservationService/GetStock" in received.spans
    # Redis spans are named by their commands: GetStock's read pipeline, a child of the
    # call. Background work (the health check's script calls every few seconds, sweeps,
    # gauges) starts no trace: every root is a call's.
    assert any("HGETALL" in name for name in received.spans), received.spans
    assert received.roots and all(name.startswith("/reservation.v1.") for name in
                                  received.roots), received.roots


async def _until(received: Collector, name: str) -> None:
    while name not in received.spans:
        received.arrived.clear()
        await received.arrived.wait()


def test_without_an_endpoint_no_tracing_is_imported(redis_url: str) -> None:
    # redis-py itself may import opentelemetry's API and metrics SDK when they are
    # installed; the instrumentations, the exporter and the trace SDK are ours.
    code = (
        "import asyncio, sys\n"
        "from reservation.server.app import start_app, tracing\n"
        "from reservation.settings import Settings\n"
        "async def main():\n"
        f"    app = await start_app(Settings(redis_url={redis_url!r}, port=0))\n"
        "    tracing.start()\n"
        "    await app.stop(grace=0)\n"
        "asyncio.run(main())\n"
        "ours = ('opentelemetry.instrumentation', 'opentelemetry.exporter',\n"
        "        'opentelemetry.sdk.trace')\n"
        "print(sorted(m for m in sys.modules if m.startswith(ours)))\n")
    result = subprocess.run([sys.executable, "-c", code], env=env(), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
