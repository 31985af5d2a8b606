"""Authentication and authorisation: who calls (a bearer token, or an mTLS client
certificate's subject CN) and whether their role may call this method.

Health and reflection stay open so probes and grpcurl work without credentials. The
answer is UNAUTHENTICATED for no, wrong or doubled credentials and PERMISSION_DENIED for
a known caller whose roles do not include the method (deny by default: a method missing
from the role table is refused for everyone); RESOURCE_EXHAUSTED when the caller's peer
spent its failed-authentication budget (reservation/access/verify.py). The call then runs
with its grant set (reservation.access.grant): the servicers check channels and consumer
groups against it, and every log line of the call carries the principal's name.

A refusal must cost less than anything else, or a flood of wrong tokens takes the
server from everyone (benchmarks/wrong_tokens.py). So the edge (edge.py) asks `Auth`
first (only metrics and tracing are further out), and it decides from the metadata
alone whenever it can: a right token gives the grant the method's handler runs with; a
wrong, missing or doubled one gets a handler that does nothing but refuse (no request
parsing, nothing else of the edge, the status details built once). Only what needs the
call's context goes through a handler that checks first and then hands the call on: a
token only scrypt can decide (verified off the event loop, within its peer's budget)
and a client certificate. Refusals are counted
(`reservation_auth_failures_total{reason}`) and recorded in the operator-action log
within the peer's budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import grpc

from reservation import logs
from reservation.access import grant
from reservation.access.principals import SLOW, Directory, Principal
from reservation.access.verify import Verifier
from reservation.errors import PermissionDenied, ReservationError, Unauthenticated
from reservation.server import audit, metrics
from reservation.server.interceptors.errors import abort

# Health and reflection stay open so probes and grpcurl work without a token.
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_SCHEME = "Bearer "
_HEADER = "authorization"

Kind = tuple[bool, bool]
"""(client streaming, server streaming) of a method."""
Admit = Callable[[grpc.aio.ServicerContext], Awaitable[Principal]]
Chain = Callable[[grant.Grant], grpc.RpcMethodHandler]
"""The method's handler for a call made with a grant (the edge's, built once)."""

_FAILURES: dict[str, Any] = {}
KEPT = 4096
"""Grants (auth) and granted handlers (edge.py) kept before the cache starts over."""


def count_failure(reason: str) -> None:
    """reservation_auth_failures_total{reason} += 1 (children kept: labels() costs tens
    of microseconds a call, and a flood of wrong tokens calls this every time)."""
    child = _FAILURES.get(reason)
    if child is None:
        child = _FAILURES[reason] = metrics.auth_failures.labels(reason)
    child.inc()


class Auth:
    def __init__(self, directory: Callable[[], Directory], verifier: Verifier,
                 certificates: bool = False) -> None:
        """`directory` is asked on every call, so a reloaded auth file takes effect.
        `certificates`: mTLS is on, so a call without a token may be named by its client
        certificate."""
        self._directory = directory
        self.verifier = verifier
        self.certificates = certificates
        # Each (principal, method)'s grant, decided once: the edge keeps one handler per
        # grant (edge.py), so a caller's calls reuse it. Keyed by the principal object's
        # id, checked by identity (a reloaded auth file makes new principals); cleared
        # when full, so principals of old reloads do not pile up.
        self._grants: dict[tuple[int, str], tuple[Principal, grant.Grant]] = {}

    def decide(self, details: grpc.HandlerCallDetails, kind: Kind, chain: Chain
               ) -> grant.Grant | grpc.RpcMethodHandler:
        """The caller's grant for `details.method` (a method not under OPEN_PREFIXES, of
        `kind`), decided from the metadata alone; else the handler that answers the call:
        one that only refuses, or one that decides within the call and then hands it to
        `chain(grant)`."""
        method = details.method
        directory = self._directory()
        presented = [v for k, v in details.invocation_metadata or () if k == _HEADER]
        if len(presented) > 1:
            # A proxy that checks the first of two headers must not be walked past by a
            # second one the server would read: neither is trusted.
            return self._refusal(kind, details, "duplicate_header",
                                 Unauthenticated("exactly one authorization header is "
                                                 "accepted"))
        if not presented:
            if self.certificates:
                return self._admitting(kind, chain, details, self._certificate)
            return self._refusal(kind, details, "missing",
                                 Unauthenticated("missing or wrong bearer token"))
        value = presented[0]
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not value.startswith(_SCHEME) or len(value) == len(_SCHEME):
            return self._refusal(kind, details, "malformed",
                                 Unauthenticated("authorization must be 'Bearer <token>'"))
        token = value[len(_SCHEME):]
        found = directory.fast(token)
        if found is None:
            return self._refusal(kind, details, "unknown_token",
                                 Unauthenticated("missing or wrong bearer token"))
        if found is SLOW:
            async def verified(context: grpc.aio.ServicerContext) -> Principal:
                return await self.verifier.principal(directory, token, context.peer())
            return self._admitting(kind, chain, details, verified)
        assert isinstance(found, Principal)
        try:
            return self._grant(found, method)
        except PermissionDenied as exc:
            return self._refusal(kind, details, "permission_denied", exc, found)

    def _grant(self, principal: Principal, method: str) -> grant.Grant:
        key = (id(principal), method)
        kept = self._grants.get(key)
        if kept is not None and kept[0] is principal:
            return kept[1]
        decided = grant.decide(principal, method)
        if len(self._grants) >= KEPT:
            self._grants.clear()
        self._grants[key] = (principal, decided)
        return decided

    # -- refusing -------------------------------------------------------------------------
    def _refusal(self, kind: Kind, details: grpc.HandlerCallDetails, reason: str,
                 error: ReservationError, principal: Principal | None = None
                 ) -> grpc.RpcMethodHandler:
        """A handler that only refuses: the request is not even parsed."""
        async def refuse(context: grpc.aio.ServicerContext) -> None:
            await abort(context, self._refused(context, details, reason, error, principal))
        return _handler(kind, refuse)

    def _refused(self, context: grpc.aio.ServicerContext, details: grpc.HandlerCallDetails,
                 reason: str, error: ReservationError,
                 principal: Principal | None = None) -> ReservationError:
        """Count and record a refusal; the error to answer with (ResourceExhausted when
        the peer's failure budget is spent: then nothing is recorded). A known caller
        outside its role is always told so; its record is written within the budget."""
        peer = context.peer()
        if isinstance(error, PermissionDenied):
            self.verifier.on_failure(reason)
            if self.verifier.spend(peer):
                audit.refused(details.method, principal.name if principal else None, peer,
                              details.invocation_metadata, error)
            return error
        try:
            self.verifier.failed(peer, reason)
        except ReservationError as exc:
            return exc
        audit.refused(details.method, None, peer, details.invocation_metadata, error)
        return error

    # -- admitting what needs the call's context ------------------------------------------
    async def _certificate(self, context: grpc.aio.ServicerContext) -> Principal:
        directory = self._directory()
        for cn in (context.auth_context() or {}).get("x509_common_name", ()):
            found = directory.by_certificate(cn.decode("utf-8", "replace"))
            if found is not None:
                return found
        raise Unauthenticated("missing or wrong bearer token")

    def _admitting(self, kind: Kind, chain: Chain, details: grpc.HandlerCallDetails,
                   admit: Admit) -> grpc.RpcMethodHandler:
        """A handler that checks first (`admit` names the caller, its role must allow the
        method) and only then builds the chain's handler and hands it the call: a call
        refused here costs no more than _refusal's (a flood of tokens only scrypt can
        decide is refused on its peer's budget before anything else is done)."""
        async def check(context: grpc.aio.ServicerContext) -> grant.Grant:
            # Aborts come after the except blocks (an abort raised while handling an
            # exception would carry it along as its context).
            error: ReservationError | None = None
            try:
                principal = await admit(context)
            except Unauthenticated as exc:
                if admit == self._certificate:  # a certificate naming nobody
                    error = self._refused(context, details, "missing", exc)
                else:  # verify.principal counted it and spent the budget: record it
                    audit.refused(details.method, None, context.peer(),
                                  details.invocation_metadata, exc)
                    error = exc
            except ReservationError as exc:
                error = exc
            if error is not None:
                await abort(context, error)
            try:
                return grant.decide(principal, details.method)
            except PermissionDenied as exc:
                error = self._refused(context, details, "permission_denied", exc, principal)
            await abort(context, error)
            raise error  # not reached: abort raises
        return _delegating(kind, chain, check)


@contextlib.contextmanager
def bound(decided: grant.Grant) -> Iterator[None]:
    """The call runs as `decided`: the servicers' checks read it, log lines name it."""
    with grant.acting(decided), logs.bound(principal=decided.name):
        yield


def _handler(kind: Kind, refuse: Callable[[grpc.aio.ServicerContext], Awaitable[None]]
             ) -> grpc.RpcMethodHandler:
    """A handler of the method's kind that only runs `refuse` (raw bytes in, nothing out)."""
    client_streaming, server_streaming = kind
    if not client_streaming and not server_streaming:
        async def unary(request: Any, context: grpc.aio.ServicerContext) -> None:
            await refuse(context)
        return grpc.unary_unary_rpc_method_handler(unary)
    if client_streaming and not server_streaming:
        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> None:
            await refuse(context)
        return grpc.stream_unary_rpc_method_handler(stream_unary)

    async def streaming(request: Any, context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[Any]:
        await refuse(context)
        yield  # never reached: refuse aborts
    if client_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming)
    return grpc.unary_stream_rpc_method_handler(streaming)


Check = Callable[[grpc.aio.ServicerContext], Awaitable[grant.Grant]]


def _delegating(kind: Kind, chain: Chain, check: Check) -> grpc.RpcMethodHandler:
    """A handler of the method's kind taking and giving raw bytes: `check` first (it
    aborts a refused call), then the handler `chain` gives for the grant runs the call,
    its own (de)serializers applied here (a refused request is never parsed)."""
    client_streaming, server_streaming = kind
    if not client_streaming and not server_streaming:
        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            real: Any = chain(await check(context))
            reply = await real.unary_unary(_parse(real, raw), context)
            return _dump(real, reply)
        return grpc.unary_unary_rpc_method_handler(unary_unary)
    if client_streaming and not server_streaming:
        async def stream_unary(raws: AsyncIterator[bytes],
                               context: grpc.aio.ServicerContext) -> Any:
            real: Any = chain(await check(context))
            reply = await real.stream_unary(_parsed(real, raws), context)
            return _dump(real, reply)
        return grpc.stream_unary_rpc_method_handler(stream_unary)

    async def streaming(request: Any, context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[Any]:
        real: Any = chain(await check(context))
        if client_streaming:
            replies = real.stream_stream(_parsed(real, request), context)
        else:
            replies = real.unary_stream(_parse(real, request), context)
        async for reply in replies:
            yield _dump(real, reply)
    if client_streaming:
        return grpc.stream_stream_rpc_method_handler(streaming)
    return grpc.unary_stream_rpc_method_handler(streaming)


def _parse(real: Any, raw: bytes) -> Any:
    return real.request_deserializer(raw) if real.request_deserializer else raw


def _dump(real: Any, reply: Any) -> Any:
    return real.response_serializer(reply) if real.response_serializer else reply


async def _parsed(real: Any, raws: AsyncIterator[bytes]
                  ) -> AsyncIterator[Any]:
    async for raw in raws:
        yield _parse(real, raw)
