"""OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Then every gRPC call gets a server span (opentelemetry-instrumentation-grpc's aio
interceptor, first in the chain so a caller's trace context is joined) and every Redis
command or pipeline a child span (opentelemetry-instrumentation-redis), exported in
batches over OTLP/gRPC. The SDK reads the standard OTEL_* variables (service name,
sampler, headers, batch delays). Without the variable none of this is imported: the
packages are an optional extra (`pip install ".[otel]"`) and cost nothing when unused.

Spans start only from gRPC calls: a Redis command that no call made (a sweep, the
health check, a gauge sample) would be a root span of its own, hundreds a minute on an
idle server, so the sampler drops such roots unless RESERVATION_TRACE_BACKGROUND is on.
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


def start(background: bool = False) -> None:
    """Install the tracer provider, the OTLP exporter and the Redis instrumentation
    (once per process; `serve` calls it before building the server). `background`:
    trace work no call started too (RESERVATION_TRACE_BACKGROUND)."""
    global _provider
    if _provider is not None or not wanted():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, _get_from_env_or_default

    name = os.environ.get("OTEL_SERVICE_NAME", DEFAULT_SERVICE_NAME)
    sampler = _get_from_env_or_default()  # OTEL_TRACES_SAMPLER, as the SDK reads it
    if not background:
        sampler = ParentBased(root=_calls_only(sampler))
    provider = TracerProvider(resource=Resource.create({"service.name": name}),
                              sampler=sampler)
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


def _calls_only_class() -> Any:
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class CallsOnly(Sampler):
        """A root span is kept only if it is a call's (SERVER): background Redis
        commands (CLIENT spans with no parent) are dropped; children follow their
        parent (ParentBased)."""

        def __init__(self, inner: Sampler) -> None:
            self.inner = inner

        def should_sample(self, parent_context: Any, trace_id: int, name: str,
                          kind: Any = None, attributes: Any = None, links: Any = None,
                          trace_state: Any = None) -> SamplingResult:
            if kind != SpanKind.SERVER:
                return SamplingResult(Decision.DROP)
            return self.inner.should_sample(parent_context, trace_id, name, kind,
                                            attributes, links, trace_state)

        def get_description(self) -> str:
            return f"CallsOnly{{{self.inner.get_description()}}}"

    return CallsOnly


def _calls_only(inner: Any) -> Any:
    """A CallsOnly sampler around `inner` (the class is made here: the SDK is imported
    only when tracing is on)."""
    return _calls_only_class()(inner)
