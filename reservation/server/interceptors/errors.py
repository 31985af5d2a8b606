"""The one place where the service's errors become gRPC statuses.

The edge (edge.py) applies it around every handler kind (unary and streaming, in either
direction): a ReservationError becomes its status code, with google.rpc.BadRequest details naming the field for
InvalidArgument and google.rpc.RetryInfo (plus `retry-after-ms` metadata) for a
ResourceExhausted that knows when to come back; anything else is logged with its traceback and becomes INTERNAL
without leaking internals to the caller.
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from reservation import errors

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ReservationError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_code(exc: errors.ReservationError) -> grpc.StatusCode:
    """The status of an error: its nearest class in STATUS, else INTERNAL."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return grpc.StatusCode.INTERNAL


def status_details(exc: errors.ReservationError) -> tuple[tuple[str, bytes | str], ...]:
    """Trailing metadata carrying google.rpc.Status (what grpcio-status reads). Refusals
    that repeat (a flood of wrong tokens) are built once (at most 256 kept)."""
    if isinstance(exc, (errors.Unauthenticated, errors.ResourceExhausted)):
        key = (type(exc).__name__, exc.message, getattr(exc, "retry_after_ms", None))
        found = _REPEATED.get(key)
        if found is None:
            if len(_REPEATED) >= 256:
                _REPEATED.clear()
            found = _REPEATED[key] = _details(exc)
        return found
    return _details(exc)


_REPEATED: dict[tuple[str, str, int | None], tuple[tuple[str, bytes | str], ...]] = {}


def _details(exc: errors.ReservationError) -> tuple[tuple[str, bytes | str], ...]:
    status = status_pb2.Status(code=status_code(exc).value[0], message=exc.message)
    if isinstance(exc, errors.InvalidArgument):
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=exc.field,
                                                        description=exc.description)]))
        status.details.append(detail)
    retry_ms = getattr(exc, "retry_after_ms", None)
    if isinstance(exc, errors.ResourceExhausted) and retry_ms is not None:
        # Both forms: RetryInfo for clients that read google.rpc details, a plain
        # header for those that do not (load balancers, curl-level tooling).
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(
            seconds=retry_ms // 1000, nanos=retry_ms % 1000 * 1_000_000)))
        status.details.append(detail)
        return (("grpc-status-details-bin", status.SerializeToString()),
                ("retry-after-ms", str(retry_ms)))
    return (("grpc-status-details-bin", status.SerializeToString()),)


async def abort(context: grpc.aio.ServicerContext, exc: BaseException) -> None:
    """Answer the call with the status of `exc` (raises grpc.aio.AbortError)."""
    if isinstance(exc, errors.ReservationError):
        await context.abort(status_code(exc), exc.message,
                            trailing_metadata=status_details(exc))
    log.exception("unexpected error", exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error")


assert code_pb2.INVALID_ARGUMENT == grpc.StatusCode.INVALID_ARGUMENT.value[0]
