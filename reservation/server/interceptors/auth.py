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
from reservation.errors import Unauthenticated
from reservation.server.interceptors.wrapping import HandlerInterceptor

# Health and reflection stay open so probes and grpcurl work without a token.
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_SCHEME = "Bearer "


class AuthInterceptor(HandlerInterceptor):
    def __init__(self, directory: Callable[[], Directory]) -> None:
        """`directory` is asked on every call, so a reloaded auth file takes effect."""
        self._directory = directory

    def applies(self, method: str) -> bool:
        return not method.startswith(OPEN_PREFIXES)

    def scope(self, details: grpc.HandlerCallDetails,
              context: grpc.aio.ServicerContext) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._checked(details, context)

    @contextlib.asynccontextmanager
    async def _checked(self, details: grpc.HandlerCallDetails,
                       context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        principal = self.authenticate(details, context)
        decided = grant.decide(principal, details.method)
        with grant.acting(decided), logs.bound(principal=principal.name):
            yield

    def authenticate(self, details: grpc.HandlerCallDetails,
                     context: grpc.aio.ServicerContext) -> Principal:
        directory = self._directory()
        presented = dict(details.invocation_metadata or ()).get("authorization")
        if isinstance(presented, bytes):
            presented = presented.decode("utf-8", "replace")
        if presented:
            if not presented.startswith(_SCHEME):
                raise Unauthenticated("authorization must be 'Bearer <token>'")
            found = directory.by_token(presented[len(_SCHEME):])
            if found is None:
                raise Unauthenticated("missing or wrong bearer token")
            return found
        for cn in (context.auth_context() or {}).get("x509_common_name", ()):
            found = directory.by_certificate(cn.decode("utf-8", "replace"))
            if found is not None:
                return found
        raise Unauthenticated("missing or wrong bearer token")
