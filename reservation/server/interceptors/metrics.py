"""Counts and times every RPC: the go-grpc-prometheus server metrics.

MetricsInterceptor is this concern alone, around all four handler kinds (wrapping.py);
the service's edge (edge.py) times calls with the same pieces, outermost (so a call
refused by auth or failed by the error mapping is counted with its final code). The code
a call ended with is read from the context: an abort sets it, a cancelled call is
CANCELLED, anything that escapes unhandled is UNKNOWN (as gRPC reports it).
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

import grpc

from reservation.server import metrics
from reservation.server.interceptors.wrapping import Continuation, HandlerInterceptor, wrap_handler


class MethodMetrics:
    """The metric children of one method, looked up once (labels() takes a lock)."""

    def __init__(self, kind: str, full_method: str) -> None:
        service, _, name = full_method.lstrip("/").rpartition("/")
        self.labels = (kind, service, name)
        self.started = metrics.grpc_started.labels(*self.labels)
        self.seconds = metrics.grpc_seconds.labels(*self.labels)
        self._handled: dict[str, Any] = {}

    def handled(self, code: str) -> Any:
        child = self._handled.get(code)
        if child is None:
            child = self._handled[code] = metrics.grpc_handled.labels(*self.labels, code)
        return child

    def finish(self, started: float, context: grpc.aio.ServicerContext,
               exc: BaseException | None) -> None:
        self.seconds.observe(time.perf_counter() - started)
        self.handled(_code(context, exc)).inc()


def _code(context: grpc.aio.ServicerContext, exc: BaseException | None) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    code = context.code()
    if code is None:
        return "OK" if exc is None or isinstance(exc, StopAsyncIteration) else "UNKNOWN"
    if isinstance(code, grpc.StatusCode):
        return code.name
    return _NAMES.get(code, "UNKNOWN")  # some grpc versions give the integer


_NAMES = {status.value[0]: status.name for status in grpc.StatusCode}


def kind_name(handler: grpc.RpcMethodHandler) -> str:
    if handler.unary_unary:
        return "UNARY"
    if handler.unary_stream:
        return "SERVER_STREAM"
    return "CLIENT_STREAM" if handler.stream_unary else "BIDI_STREAM"


class Timed:
    """Around one call: started on entry; latency and final code on exit."""

    __slots__ = ("context", "method", "started")

    def __init__(self, method: MethodMetrics, context: grpc.aio.ServicerContext) -> None:
        self.method = method
        self.context = context
        self.started = 0.0

    async def __aenter__(self) -> None:
        self.method.started.inc()
        self.started = time.perf_counter()

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.method.finish(self.started, self.context, exc)


class MetricsInterceptor(HandlerInterceptor):
    def __init__(self) -> None:
        self._methods: dict[tuple[str, str], MethodMetrics] = {}

    def _method(self, kind: str, full_method: str) -> MethodMetrics:
        found = self._methods.get((kind, full_method))
        if found is None:
            found = self._methods[(kind, full_method)] = MethodMetrics(kind, full_method)
        return found

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler  # type: ignore[return-value]  # None: no such method, as grpc expects
        method = self._method(kind_name(handler), details.method)
        return wrap_handler(handler, lambda context: Timed(method, context))
