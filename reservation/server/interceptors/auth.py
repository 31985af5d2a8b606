"""Authentication and authorisation: who calls (a bearer token, or an mTLS client
certificate's subject CN) and whether their role may call this method.

Health and reflection stay open so probes and grpcurl work without credentials. The
answer is UNAUTHENTICATED for no or unknown credentials and PERMISSION_DENIED for a
known caller whose roles do not include the method (deny by default: a method missing
from the role table is refused for everyone). The call then runs with its grant set
(reservation.access.grant): the servicers check channels and consumer groups against
it, and every log line of the call carries the principal's name.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from reservation import logs
from reservation.access import grant
from reservation.access.principals import Directory, Principal
from reservation.access.verify import Verifier
from reservation.errors import PermissionDenied, Unauthenticated
from reservation.server import audit, metrics
from reservation.server.interceptors.wrapping import HandlerInterceptor

# Health and reflection stay open so probes and grpcurl work without a token.
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_SCHEME = "Bearer "
_HEADER = "authorization"


def count_failure(reason: str) -> None:
    metrics.auth_failures.labels(reason).inc()


class AuthInterceptor(HandlerInterceptor):
    def __init__(self, directory: Callable[[], Directory],
                 verifier: Verifier | None = None) -> None:
        """`directory` is asked on every call, so a reloaded auth file takes effect."""
        self._directory = directory
        self.verifier = verifier or Verifier(rate=0, burst=0, on_failure=count_failure)

    def applies(self, method: str) -> bool:
        return not method.startswith(OPEN_PREFIXES)

    def scope(self, details: grpc.HandlerCallDetails,
              context: grpc.aio.ServicerContext) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._checked(details, context)

    @contextlib.asynccontextmanager
    async def _checked(self, details: grpc.HandlerCallDetails,
                       context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        principal: Principal | None = None
        try:
            principal = await self.authenticate(details, context)
            decided = grant.decide(principal, details.method)
        except PermissionDenied as exc:
            # A known caller outside its role is always told so; its record is written
            # within its peer's failure budget, so these records stay bounded too.
            peer = context.peer()
            self.verifier.on_failure("permission_denied")
            if self.verifier.spend(peer):
                audit.refused(details.method, principal.name if principal else None, peer,
                              details.invocation_metadata, exc)
            raise
        except Unauthenticated as exc:
            audit.refused(details.method, None, context.peer(), details.invocation_metadata,
                          exc)
            raise
        with grant.acting(decided), logs.bound(principal=principal.name):
            yield

    async def authenticate(self, details: grpc.HandlerCallDetails,
                           context: grpc.aio.ServicerContext) -> Principal:
        directory = self._directory()
        peer = context.peer()
        presented = [v for k, v in details.invocation_metadata or () if k == _HEADER]
        if len(presented) > 1:
            # A proxy that checks the first of two headers must not be walked past by
            # a second one the server would read: neither is trusted.
            self.verifier.refuse(peer, "duplicate_header",
                                 "exactly one authorization header is accepted")
        if presented:
            value = presented[0]
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if not value.startswith(_SCHEME) or len(value) == len(_SCHEME):
                self.verifier.refuse(peer, "malformed", "authorization must be 'Bearer <token>'")
            return await self.verifier.principal(directory, value[len(_SCHEME):], peer)
        for cn in (context.auth_context() or {}).get("x509_common_name", ()):
            found = directory.by_certificate(cn.decode("utf-8", "replace"))
            if found is not None:
                return found
        self.verifier.refuse(peer, "missing", "missing or wrong bearer token")
