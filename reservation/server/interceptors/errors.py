"""The one place where the service's errors become gRPC statuses.

A server interceptor wraps every handler: ReservationError -> its status code (with
google.rpc.BadRequest details naming the field for InvalidArgument); anything else is
logged with its traceback and becomes INTERNAL without leaking internals to the caller.
It also checks the bearer token when one is configured.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from reservation.errors import InvalidArgument, ReservationError, Unauthenticated

log = logging.getLogger(__name__)

# Health and reflection stay open so probes and grpcurl work without a token.
_OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


def status_details(exc: ReservationError) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata carrying google.rpc.Status (what grpcio-status reads)."""
    status = status_pb2.Status(code=exc.code.value[0], message=exc.message)
    if isinstance(exc, InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=exc.field,
                                                        description=exc.description)]))
        status.details.append(detail)
    return (("grpc-status-details-bin", status.SerializeToString()),)


async def abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, ReservationError):
        await context.abort(exc.code, exc.message, trailing_metadata=status_details(exc))
    log.exception("unexpected error", exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


assert code_pb2.INVALID_ARGUMENT == grpc.StatusCode.INVALID_ARGUMENT.value[0]


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, auth_token: str | None = None) -> None:
        self._expected = f"Bearer {auth_token}" if auth_token else None

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        check = self._expected is not None and not method.startswith(_OPEN_PREFIXES)
        metadata = dict(details.invocation_metadata or ())
        if check and metadata.get("authorization") != self._expected:
            return _wrap(handler, Unauthenticated("missing or wrong bearer token"))
        return _wrap(handler, None)


def _wrap(handler: grpc.RpcMethodHandler, refuse: ReservationError | None) -> grpc.RpcMethodHandler:
    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                if refuse:
                    raise refuse
                return await inner_uu(request, context)
            except Exception as exc:
                if _is_abort(exc):
                    raise
                await abort(context, exc)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary, handler.request_deserializer, handler.response_serializer)

    def streaming(inner: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def run(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            try:
                if refuse:
                    raise refuse
                async for item in inner(request, context):
                    yield item
            except Exception as exc:
                if _is_abort(exc):
                    raise
                await abort(context, exc)
        return run

    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(
            streaming(handler.unary_stream), handler.request_deserializer,
            handler.response_serializer)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(
            streaming(handler.stream_stream), handler.request_deserializer,
            handler.response_serializer)
    return handler


def _is_abort(exc: BaseException) -> bool:
    # context.abort() raises this internally; it must pass through untouched.
    return isinstance(exc, grpc.aio.AbortError)
