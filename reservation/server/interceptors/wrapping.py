"""A server interceptor base that wraps every handler kind the same way.

gRPC has four handler kinds (unary-unary, unary-stream, stream-unary, stream-stream)
and an interceptor that forgets one leaves those RPCs unchecked. Subclasses give one
async context manager, `scope`, that runs around a call's whole life, the streaming of
its responses included; this module applies it to all four kinds, so no interceptor
has its own fall-through.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class HandlerInterceptor(grpc.aio.ServerInterceptor):
    def applies(self, method: str) -> bool:
        """Whether this interceptor wraps `method` ("/package.Service/Method")."""
        return True

    def scope(self, details: grpc.HandlerCallDetails,
              context: grpc.aio.ServicerContext) -> contextlib.AbstractAsyncContextManager[Any]:
        """What runs around one call; exceptions of the call pass through it."""
        return contextlib.nullcontext()

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or not self.applies(details.method):
            return handler  # type: ignore[return-value]  # None: no such method, as grpc expects
        return wrap_handler(handler, lambda context: self.scope(details, context))


Scope = Callable[[grpc.aio.ServicerContext], contextlib.AbstractAsyncContextManager[Any]]


def wrap_handler(handler: grpc.RpcMethodHandler, scope: Scope) -> grpc.RpcMethodHandler:
    """The same handler with `scope` around every call, whatever its kind."""
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(
            _single(handler.unary_unary, scope), handler.request_deserializer,
            handler.response_serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(
            _single(handler.stream_unary, scope), handler.request_deserializer,
            handler.response_serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, scope), handler.request_deserializer,
            handler.response_serializer)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, scope), handler.request_deserializer,
            handler.response_serializer)
    raise TypeError(f"a handler of no known kind: {handler!r}")


def _single(inner: Callable[..., Any], scope: Scope) -> Callable[..., Awaitable[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        async with scope(context):
            return await inner(request, context)
    return call


def _streaming(inner: Callable[..., Any], scope: Scope) -> Callable[..., AsyncIterator[Any]]:
    async def call(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with scope(context):
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:  # a handler that writes with context.write() and returns nothing
                await result
    return call
