"""The service's errors: one tree. They carry no transport types: the gRPC edge maps
them to status codes in one place (reservation/server/interceptors/errors.py).

    ReservationError          (anything else: INTERNAL, logged with its traceback)
    ├── InvalidArgument       INVALID_ARGUMENT (names the field; BadRequest details)
    ├── NotFound              NOT_FOUND
    ├── AlreadyExists         ALREADY_EXISTS (same idempotency key, different request)
    ├── FailedPrecondition    FAILED_PRECONDITION (e.g. confirming an expired hold)
    ├── Aborted               ABORTED (lost a race with concurrent writers; retry the call)
    ├── ResourceExhausted     RESOURCE_EXHAUSTED
    ├── Unauthenticated       UNAUTHENTICATED
    ├── PermissionDenied      PERMISSION_DENIED
    └── Unavailable           UNAVAILABLE (Redis cannot be reached)

Business outcomes (sold out, queued, buyer limit) are not errors: they are response fields.
"""

from __future__ import annotations


class ReservationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ReservationError):
    """The caller sent something unusable; `field` names it (a path like lines[2].sku)."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field
        self.description = description


class NotFound(ReservationError):
    """The named order, SKU or sale does not exist (or no longer does)."""


class AlreadyExists(ReservationError):
    """The idempotency key names another request (other lines or buyer)."""


class FailedPrecondition(ReservationError):
    """Valid, but not in this state (confirming an expired hold, ...)."""


class Aborted(ReservationError):
    """Concurrent writers kept changing the same record while this call retried: the
    call changed nothing and may be sent again."""


class ResourceExhausted(ReservationError):
    """A bound was reached (a full queue, too many calls); try later. `retry_after_ms`,
    when known, is sent back as google.rpc.RetryInfo and `retry-after-ms` metadata."""

    def __init__(self, message: str, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class Unauthenticated(ReservationError):
    """No credentials, or wrong ones."""


class PermissionDenied(ReservationError):
    """Known caller, not allowed to do this."""


class Unavailable(ReservationError):
    """Redis cannot be reached right now; the same call may succeed later."""


class StartupError(Exception):
    """The service cannot start as configured (e.g. its port is taken): not a call's
    error, so outside the tree above; `reservation serve` prints it as one line."""
