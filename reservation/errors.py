"""The service's errors: one tree, mapped to gRPC status codes in one interceptor.

    ReservationError
    ├── InvalidArgument       INVALID_ARGUMENT (names the field; BadRequest details)
    ├── NotFound              NOT_FOUND
    ├── AlreadyExists         ALREADY_EXISTS (same idempotency key, different request)
    ├── FailedPrecondition    FAILED_PRECONDITION (e.g. confirming an expired hold)
    ├── ResourceExhausted     RESOURCE_EXHAUSTED
    ├── Unauthenticated       UNAUTHENTICATED
    └── Unavailable           UNAVAILABLE (Redis cannot be reached)

Business outcomes (sold out, queued, buyer limit) are not errors: they are response fields.
"""

from __future__ import annotations

import grpc


class ReservationError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ReservationError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class NotFound(ReservationError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(ReservationError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(ReservationError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(ReservationError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(ReservationError):
    code = grpc.StatusCode.UNAUTHENTICATED


class Unavailable(ReservationError):
    code = grpc.StatusCode.UNAVAILABLE
