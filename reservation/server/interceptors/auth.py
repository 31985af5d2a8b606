"""Bearer-token authentication: its own interceptor, over every handler kind.

With RESERVATION_AUTH_TOKEN set, every call must carry `authorization: Bearer <token>`;
health and reflection stay open so probes and grpcurl work without one. The token is
compared in constant time (hmac.compare_digest), so response timing says nothing about
how much of a guess was right.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import grpc

from reservation.errors import Unauthenticated
from reservation.server.interceptors.wrapping import HandlerInterceptor

# Health and reflection stay open so probes and grpcurl work without a token.
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


class AuthInterceptor(HandlerInterceptor):
    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def applies(self, method: str) -> bool:
        return not method.startswith(OPEN_PREFIXES)

    def scope(self, details: grpc.HandlerCallDetails,
              context: grpc.aio.ServicerContext) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._checked(details)

    @contextlib.asynccontextmanager
    async def _checked(self, details: grpc.HandlerCallDetails) -> AsyncIterator[None]:
        presented = dict(details.invocation_metadata or ()).get("authorization", "")
        if isinstance(presented, str):
            presented = presented.encode()
        if not hmac.compare_digest(presented, self._expected):
            raise Unauthenticated("missing or wrong bearer token")
        yield
