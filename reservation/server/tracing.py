"""OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Then every gRPC call gets a server span (opentelemetry-instrumentation-grpc's aio
interceptor, first in the chain so a caller's trace context is joined) and every Redis
command or pipeline a child span (opentelemetry-instrumentation-redis), exported in
batches over OTLP/gRPC. The SDK reads the standard OTEL_* variables (service name,
sampler, headers, batch delays). Without the variable none of this is imported: the
packages are an optional extra (`pip install ".[otel]"`) and cost nothing when unused.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import grpc

from reservation.storage import coalesce

log = logging.getLogger(__name__)

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
DEFAULT_SERVICE_NAME = "reservation"

_provider: Any = None


def wanted() -> bool:
    return bool(os.environ.get(ENDPOINT_ENV))


def start() -> None:
    """Install the tracer provider, the OTLP exporter and the Redis instrumentation
    (once per process; `serve` calls it before building the server)."""
    global _provider
    if _provider is not None or not wanted():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", DEFAULT_SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    coalesce.PIPELINES_ONLY = True  # the instrumentation sees redis-py's Pipeline only
    _provider = provider
    log.info("tracing to %s as %s", os.environ[ENDPOINT_ENV], name)


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The span-making interceptor when tracing is on, else nothing."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=_provider)]


def stop() -> None:
    """Export what is buffered (at shutdown)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None
