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
server from everyone (benchmarks/wrong_tokens.py). So this interceptor sits outside the
rest of the chain (only metrics and tracing are further out) and decides in
`intercept_service`, from the metadata alone, whenever it can: a right token goes on to
the chain; a wrong, missing or doubled one gets a handler that does nothing but refuse
(no request parsing, no inner interceptor, the status details built once). Only what
needs the call's context goes through a handler that checks first and then hands the
call to the chain: a token only scrypt can decide (verified off the event loop, within
its peer's budget) and a client certificate. Refusals are counted
(`reservation_auth_failures_total{reason}`) and recorded in the operator-action log
within the peer's budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

import grpc

from reservation import logs
from reservation.access import grant
from reservation.access.principals import SLOW, Directory, Principal
from reservation.access.verify import Verifier
from reservation.errors import PermissionDenied, ReservationError, Unauthenticated
from reservation.server import audit, metrics
from reservation.server.interceptors.errors import abort
from reservation.server.interceptors.wrapping import Continuation, wrap_handler

# Health and reflection stay open so probes and grpcurl work without a token.
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_SCHEME = "Bearer "
_HEADER = "authorization"

Kind = tuple[bool, bool]
"""(client streaming, server streaming) of a method."""
Admit = Callable[[grpc.aio.ServicerContext], Awaitable[Principal]]

_FAILURES: dict[str, Any] = {}


def count_failure(reason: str) -> None:
    """reservation_auth_failures_total{reason} += 1 (children kept: labels() costs tens
    of microseconds a call, and a flood of wrong tokens calls this every time)."""
    child = _FAILURES.get(reason)
    if child is None:
        child = _FAILURES[reason] = metrics.auth_failures.labels(reason)
    child.inc()


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, directory: Callable[[], Directory], verifier: Verifier,
                 kinds: Mapping[str, Kind], certificates: bool = False) -> None:
        """`directory` is asked on every call, so a reloaded auth file takes effect.
        `kinds`: every method this server serves; `certificates`: mTLS is on, so a call
        without a token may be named by its client certificate."""
        self._directory = directory
        self.verifier = verifier
        self.kinds = dict(kinds)
        self.certificates = certificates

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = details.method
        if method.startswith(OPEN_PREFIXES):
            return await continuation(details)  # type: ignore[return-value]
        # grpc's continuation walks one iterator over the interceptors: it may be called
        # once per call, so the handler it gives is kept for whoever asks first.
        continuation = _once(continuation)
        kind = self.kinds.get(method)
        if kind is None:
            # A method the table did not list (deny by default all the same): its kind
            # is learnt from its handler.
            learnt = await continuation(details)
            if learnt is None:
                return learnt  # type: ignore[return-value]  # no such method: UNIMPLEMENTED
            kind = self.kinds[method] = (bool(learnt.stream_unary or learnt.stream_stream),
                                         bool(learnt.unary_stream or learnt.stream_stream))
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
                return await self._admitting(kind, continuation, details, self._certificate)
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
            return await self._admitting(kind, continuation, details, verified)
        assert isinstance(found, Principal)
        try:
            decided = grant.decide(found, method)
        except PermissionDenied as exc:
            return self._refusal(kind, details, "permission_denied", exc, found)
        handler = await continuation(details)
        if handler is None:
            return handler  # type: ignore[return-value]  # no such method, as grpc expects
        return wrap_handler(handler, lambda context: _acting(decided))

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

    async def _admitting(self, kind: Kind, continuation: Continuation,
                         details: grpc.HandlerCallDetails, admit: Admit
                         ) -> grpc.RpcMethodHandler:
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
        return _delegating(kind, continuation, details, check)


@contextlib.contextmanager
def _bound(decided: grant.Grant) -> Iterator[None]:
    with grant.acting(decided), logs.bound(principal=decided.name):
        yield


@contextlib.asynccontextmanager
async def _acting(decided: grant.Grant) -> AsyncIterator[None]:
    with _bound(decided):
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


def _delegating(kind: Kind, continuation: Continuation, details: grpc.HandlerCallDetails,
                check: Check) -> grpc.RpcMethodHandler:
    """A handler of the method's kind taking and giving raw bytes: `check` first (it
    aborts a refused call), then the chain's handler, built now, runs the call with the
    grant set, its own (de)serializers applied here."""
    async def chain() -> Any:  # grpc's handler types describe sync servers; aio's fit
        handler = await continuation(details)
        if handler is None:  # cannot happen for a method in kinds; never a crash
            raise Unauthenticated("no such method")
        return handler

    client_streaming, server_streaming = kind
    if not client_streaming and not server_streaming:
        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            decided = await check(context)
            real = await chain()
            with _bound(decided):
                reply = await real.unary_unary(_parse(real, raw), context)
            return _dump(real, reply)
        return grpc.unary_unary_rpc_method_handler(unary_unary)
    if client_streaming and not server_streaming:
        async def stream_unary(raws: AsyncIterator[bytes],
                               context: grpc.aio.ServicerContext) -> Any:
            decided = await check(context)
            real = await chain()
            with _bound(decided):
                reply = await real.stream_unary(_parsed(real, raws), context)
            return _dump(real, reply)
        return grpc.stream_unary_rpc_method_handler(stream_unary)

    async def streaming(request: Any, context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[Any]:
        decided = await check(context)
        real = await chain()
        with _bound(decided):
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


def _once(continuation: Continuation) -> Continuation:
    """`continuation`, called at most once; later calls get the same handler."""
    got: list[grpc.RpcMethodHandler | None] = []

    async def once(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if not got:
            got.append(await continuation(details))
        return got[0]
    return once

