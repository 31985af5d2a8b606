"""The service's edge: metrics, auth, error mapping, shedding, caller limits and request
checks, composed into one handler per method, built the first time the method is called
and kept.

Each concern used to be an interceptor of its own: every call went through six
intercept_service coroutines, each building a new handler around the next one, and then
ran inside as many wrapper frames and async context managers (issue #25). Now one
interceptor looks the method up, asks auth about the metadata and returns the method's
handler: as built (no auth, or health and reflection) or with the caller's grant bound
into it. The order is the chain's, outermost first: metrics (every final code, refusals
included); auth (a refusal costs nothing else: auth.py); the grant bound (servicers and
log lines see it); error mapping (errors.py); the server-wide in-flight cap; the caller's
limits (limits.py); request checks (requests.py); the servicer.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from reservation.access.grant import Grant
from reservation.access.limits import InFlightCap
from reservation.server.interceptors import requests
from reservation.server.interceptors.auth import KEPT, OPEN_PREFIXES, Auth, bound
from reservation.server.interceptors.errors import abort
from reservation.server.interceptors.limits import CallerLimits
from reservation.server.interceptors.metrics import MethodMetrics, Timed, kind_name
from reservation.server.interceptors.wrapping import Continuation, wrap_handler

_NOTHING = contextlib.nullcontext()
_MAKE = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


class Edge(grpc.aio.ServerInterceptor):
    """`auth` None: no credentials asked (no grant, no caller limits); `cap`: the
    server-wide in-flight cap; `timed`: record the gRPC server metrics."""

    def __init__(self, auth: Auth | None = None, cap: InFlightCap | None = None,
                 limits: CallerLimits | None = None, timed: bool = False) -> None:
        self.auth, self.cap, self.limits, self.timed = auth, cap, limits, timed
        self._methods: dict[str, _Method] = {}

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = self._methods.get(details.method)
        if method is None:
            handler = await continuation(details)
            if handler is None:
                return handler  # type: ignore[return-value]  # None: no such method, as grpc expects
            method = self._methods[details.method] = _Method(self, details.method, handler)
        if self.auth is None or method.open:
            return method.plain
        decided = self.auth.decide(details, method.kind, method.untimed)
        if isinstance(decided, Grant):
            return method.granted(decided)
        return method.timing(decided)  # a refusal, or a check within the call


class _Method:
    """One method's edge, built once: `plain` runs a call without a grant; `granted`
    and `untimed` bind one (the latter without metrics: auth's own handler, timed
    around it, hands the call on to it)."""

    def __init__(self, edge: Edge, name: str, handler: grpc.RpcMethodHandler) -> None:
        self.kind = (bool(handler.stream_unary or handler.stream_stream),
                     bool(handler.unary_stream or handler.stream_stream))
        self.open = name.startswith(OPEN_PREFIXES)  # health and reflection: never limited
        self.inner: Any = (handler.unary_unary or handler.stream_unary
                           or handler.unary_stream or handler.stream_stream)
        self.parse = requests.deserializer(handler.request_deserializer)
        self.dump = handler.response_serializer
        self.request: Callable[[Any], Any] = (requests.checked if self.kind[0]
                                              else requests.first)
        self.cap = None if self.open else edge.cap
        self.limits = None if self.open else edge.limits
        self.metrics = MethodMetrics(kind_name(handler), name) if edge.timed else None
        self.make = _MAKE[self.kind]
        self.run: Callable[..., Any] = self._streaming if self.kind[1] else self._single
        self.serve = self.run
        if self.metrics is not None:
            self.serve = self._timed_streaming if self.kind[1] else self._timed_single
        self.plain = self.make(functools.partial(self.serve, None), self.parse, self.dump)
        self._granted: dict[int, tuple[Grant, grpc.RpcMethodHandler]] = {}

    def granted(self, decided: Grant) -> grpc.RpcMethodHandler:
        """The handler bound to this grant, built on its first call and kept (auth
        hands the same Grant object to every call of one principal: auth.Auth._grant),
        keyed by the grant's id and checked by identity."""
        kept = self._granted.get(id(decided))
        if kept is not None and kept[0] is decided:
            return kept[1]
        handler = self.make(functools.partial(self.serve, decided), self.parse, self.dump)
        if len(self._granted) >= KEPT:
            self._granted.clear()
        self._granted[id(decided)] = (decided, handler)
        return handler

    def untimed(self, decided: Grant) -> grpc.RpcMethodHandler:
        return self.make(functools.partial(self.run, decided), self.parse, self.dump)

    def timing(self, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        metrics = self.metrics
        if metrics is None:
            return handler
        return wrap_handler(handler, lambda context: Timed(metrics, context))

    def _admitted(self) -> contextlib.AbstractContextManager[Any]:
        return self.cap.admitted() if self.cap is not None else _NOTHING

    def _limited(self, decided: Grant | None) -> contextlib.AbstractContextManager[Any]:
        return self.limits.admitted(decided) if self.limits is not None else _NOTHING

    # -- the call, single answer or streamed ----------------------------------------------
    async def _single(self, decided: Grant | None, request: Any,
                      context: grpc.aio.ServicerContext) -> Any:
        with _NOTHING if decided is None else bound(decided):
            try:
                with self._admitted(), self._limited(decided):
                    return await self.inner(self.request(request), context)
            except grpc.aio.AbortError:  # context.abort() was called: pass it through
                raise
            except Exception as exc:  # noqa: BLE001 - every other error becomes a status
                await abort(context, exc)

    async def _streaming(self, decided: Grant | None, request: Any,
                         context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        with _NOTHING if decided is None else bound(decided):
            try:
                with self._admitted(), self._limited(decided):
                    result = self.inner(self.request(request), context)
                    if hasattr(result, "__aiter__"):
                        async for item in result:
                            yield item
                    else:  # a handler that writes with context.write() and returns nothing
                        await result
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # noqa: BLE001 - as in _single
                await abort(context, exc)

    # -- the same, timed (metrics outermost: auth refusals are timed by `timing`) ---------
    async def _timed_single(self, decided: Grant | None, request: Any,
                            context: grpc.aio.ServicerContext) -> Any:
        metrics: Any = self.metrics
        metrics.started.inc()
        started = time.perf_counter()
        try:
            reply = await self._single(decided, request, context)
        except BaseException as exc:
            metrics.finish(started, context, exc)
            raise
        metrics.finish(started, context, None)
        return reply

    async def _timed_streaming(self, decided: Grant | None, request: Any,
                               context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        metrics: Any = self.metrics
        metrics.started.inc()
        started = time.perf_counter()
        try:
            async for item in self._streaming(decided, request, context):
                yield item
        except BaseException as exc:
            metrics.finish(started, context, exc)
            raise
        metrics.finish(started, context, None)
