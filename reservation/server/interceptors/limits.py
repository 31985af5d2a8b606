"""Load shedding and per-caller limits, both answering RESOURCE_EXHAUSTED with a retry
delay (google.rpc.RetryInfo and `retry-after-ms`, see errors.py).

Two interceptors, because they sit at different places in the chain:

- ShedInterceptor, just inside the error mapping and before auth: the server-wide
  in-flight cap. Shedding must cost less than serving, and it must happen before queued
  calls run into their deadlines (which is how latency explodes).
- CallerLimitInterceptor, inside auth: each principal's token bucket and concurrency cap,
  so one adapter's retry storm cannot take the capacity of the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from reservation.access import grant
from reservation.access.limits import CallerLimiter, InFlightCap, Limit
from reservation.access.principals import Principal
from reservation.server.interceptors.auth import OPEN_PREFIXES
from reservation.server.interceptors.wrapping import HandlerInterceptor
from reservation.settings import Settings


class ShedInterceptor(HandlerInterceptor):
    def __init__(self, cap: InFlightCap) -> None:
        self.cap = cap

    def applies(self, method: str) -> bool:
        return not method.startswith(OPEN_PREFIXES)  # probes are never shed

    def scope(self, details: grpc.HandlerCallDetails,
              context: grpc.aio.ServicerContext) -> contextlib.AbstractAsyncContextManager[Any]:
        return _sync_to_async(self.cap.admitted())


class CallerLimitInterceptor(HandlerInterceptor):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._limiters: dict[tuple[str, Limit], CallerLimiter] = {}

    def applies(self, method: str) -> bool:
        return not method.startswith(OPEN_PREFIXES)

    def limit(self, p: Principal) -> Limit:
        s, own = self.settings, p.limits
        return Limit(rate=s.principal_rate if own.rate is None else own.rate,
                     burst=s.principal_burst if own.burst is None else own.burst,
                     max_in_flight=(s.principal_max_in_flight if own.max_in_flight is None
                                    else own.max_in_flight))

    def limiter(self, p: Principal) -> CallerLimiter:
        # Keyed by name and limit: a reloaded file with new limits starts a fresh bucket.
        key = (p.name, self.limit(p))
        found = self._limiters.get(key)
        if found is None:
            found = self._limiters[key] = CallerLimiter(key[1],
                                                        self.settings.shed_retry_after_ms)
        return found

    def scope(self, details: grpc.HandlerCallDetails,
              context: grpc.aio.ServicerContext) -> contextlib.AbstractAsyncContextManager[Any]:
        current = grant.current()
        if current is None:
            return contextlib.nullcontext()
        return _sync_to_async(self.limiter(current.principal).admitted(current.name))


@contextlib.asynccontextmanager
async def _sync_to_async(cm: contextlib.AbstractContextManager[Any]) -> AsyncIterator[None]:
    with cm:
        yield
